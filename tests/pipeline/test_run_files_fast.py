"""The fast per-run derivative writer writes the files the pandas/json writer wrote.

The reference here is the writer as it was: pandas reading the confounds, the tables
built as DataFrames and written cell by cell (``_cell``), every sidecar through
:func:`json.dumps`. The new writer must give the same bytes, but the coverage
sidecar's description (changed on purpose) and the coverage column when the caller
gives the fraction of each region's voxels inside the brain mask.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from dmnpharm import AnalysisConfig
from dmnpharm.atlases import Atlas, load_atlas
from dmnpharm.metrics._fc import fisher_z_connectivity
from dmnpharm.pipeline._derivatives import DerivativeWriter
from dmnpharm.pipeline._run_files import (
    MOTION_COLUMNS,
    _fast_motion,
    coverage_table,
    motion_columns,
    run_table_sidecars,
    sidecar_text,
    table_text,
    write_table,
)
from dmnpharm.pipeline._tasks import RunTask
from dmnpharm.signal import DenoiseConfig

ENTITIES = {"sub": "07", "ses": "2", "task": "rest", "run": "1", "space": "MNI152NLin6Asym"}
SOURCE = "sub-07/ses-2/func/sub-07_ses-2_task-rest_run-1_timeseries.tsv"


def _old_cell(value: object) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float | np.floating):
        return repr(float(value)) if math.isfinite(float(value)) else "n/a"
    if isinstance(value, np.integer):
        return str(int(value))
    return str(value)


def _old_table(table: pd.DataFrame, index: bool = False) -> str:
    header = [str(c) for c in table.columns]
    labels = list(table.index)
    if index:
        header.insert(0, str(table.index.name or "index"))
    lines = ["\t".join(header)]
    for number, row in enumerate(table.itertuples(index=False, name=None)):
        cells = [_old_cell(v) for v in row]
        if index:
            cells.insert(0, _old_cell(labels[number]))
        lines.append("\t".join(cells))
    return "\n".join(lines) + "\n"


def _old_motion(confounds: Path | None, n_volumes: int) -> pd.DataFrame:
    try:
        motion = None
        if confounds is not None:
            motion = pd.read_csv(
                confounds, sep="\t", usecols=lambda c: c in MOTION_COLUMNS, na_values=["n/a"]
            )
    except (OSError, ValueError, UnicodeDecodeError):
        motion = None
    if motion is None or len(motion) != n_volumes:
        return pd.DataFrame({"framewise_displacement": np.full(n_volumes, np.nan)})
    columns = [c for c in MOTION_COLUMNS if c in motion.columns]
    table = pd.DataFrame(
        {c: pd.to_numeric(motion[c], errors="coerce").to_numpy() for c in columns}
    )
    if "framewise_displacement" not in table:
        table["framewise_displacement"] = np.full(n_volumes, np.nan)
    return table


def _old_run_tables(
    atlas: Atlas, config: AnalysisConfig, confounds: Path | None, record: Mapping[str, Any],
    qc: Mapping[str, Any],
) -> dict[str, str]:  # fmt: skip
    """Return the four tables as the writer wrote them before (pandas, ``_cell``)."""
    n_volumes = int(record.get("n_volumes") or 0)
    motion = _old_motion(confounds, n_volumes)
    outliers = pd.DataFrame(index=range(int(record.get("n_volumes") or len(motion))))
    removed = np.zeros(len(outliers), dtype=int)
    removed[list(record.get("censored_volumes", []))] = 1
    fd = motion["framewise_displacement"].to_numpy(dtype=float)
    threshold = config.denoise.fd_threshold
    if threshold is not None and np.isfinite(fd).any():
        with np.errstate(invalid="ignore"):
            outliers["framewise_displacement"] = (fd > threshold).astype(int)
    outliers["denoising"] = removed
    missing = record.get("coverage", {}).get("regions_without_signal", [])
    values = [0.0 if label in missing else 1.0 for label in atlas.labels]
    coverage = pd.DataFrame({"coverage": values}, index=pd.Index(atlas.labels, name="Node"))
    row = {k: record.get(k) for k in ("n_volumes", "n_kept", "n_censored")}
    row["n_regions_without_signal"] = len(missing)
    row.update({k: v for k, v in qc.items() if k not in row})
    return {
        "motion": _old_table(motion),
        "outliers": _old_table(outliers),
        "coverage": _old_table(coverage, index=True),
        "qc": _old_table(pd.DataFrame([row])),
    }


def _confounds(path: Path, rng: np.random.Generator, n_volumes: int, style: str) -> Path:
    """Write an fMRIPrep-like confounds file; ``style`` picks how numbers are written."""
    columns = ["global_signal", *MOTION_COLUMNS[:3], "csf", *MOTION_COLUMNS[3:]]
    values = rng.normal(0, 0.05, (n_volumes, len(columns)))
    values[:, columns.index("rot_z")] *= 1e-3  # exponents in repr
    if style == "six":
        cells = [[f"{v:.6f}" for v in row] for row in values]
    else:  # repr: up to 17 digits (pandas, not the fast reader)
        cells = [[repr(v) for v in row] for row in values]
    cells[0][columns.index("framewise_displacement")] = "n/a"
    lines = ["\t".join(columns), *("\t".join(row) for row in cells)]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def atlas() -> Atlas:
    """Return the 11-region Andrews-Hanna atlas."""
    return load_atlas("andrews_hanna")


def _record(atlas: Atlas, n_volumes: int, rng: np.random.Generator) -> dict[str, Any]:
    censored = sorted(rng.choice(n_volumes, size=3, replace=False).tolist())
    return {
        "n_volumes": n_volumes,
        "n_kept": n_volumes - 3,
        "n_censored": 3,
        "censored_volumes": censored,
        "censored_by": {"fd_exceeded": 2, "nonsteady": 1},
        "coverage": {"regions_without_signal": [atlas.labels[4]]},
        "bundle": {"primary": {"settings": {"band": [0.01, 0.08], "edges": True}}},
        "description": "Denoising strategy 'acompcor' \u2013 with censoring.",
        "dof": {"total": 130.56, "remaining": 19.439999999999998},
        "reason": None,
    }


@pytest.mark.parametrize("style", ["six", "repr"])
def test_run_files_are_the_old_writers_bytes(
    tmp_path: Path, atlas: Atlas, rng: np.random.Generator, style: str
) -> None:
    """Time series, matrix, motion, outliers, coverage, QC and sidecars: same bytes."""
    n_volumes = 40
    config = AnalysisConfig(atlas=atlas, denoise=DenoiseConfig("6p", fd_threshold=0.05))
    confounds = _confounds(tmp_path / "confounds.tsv", rng, n_volumes, style)
    assert (_fast_motion(str(confounds)) is None) == (style == "repr")
    task = replace(RunTask("r", SOURCE, "roi", "r.tsv", 2.0, config), confounds=str(confounds))
    record = _record(atlas, n_volumes, rng)
    qc = {"mean_fd": 0.1234, "max_fd": float("nan"), "percent_censored": 7.5, "flag": None}
    data = rng.standard_normal((n_volumes - 3, atlas.n_regions)) * 0.3
    data[:, 4] = np.nan
    writer = DerivativeWriter(tmp_path / "deriv", atlas, config)
    series = writer.write_timeseries(ENTITIES, data, record, 2.0, SOURCE)
    keep = np.isfinite(data).all(axis=0)
    z = np.full((atlas.n_regions, atlas.n_regions), np.nan)
    z[np.ix_(keep, keep)] = fisher_z_connectivity(data[:, keep])
    relmat = writer.write_relmat(ENTITIES, z, record, 2.0, SOURCE)
    files = writer.write_run_tables(task, ENTITIES, record, qc)
    old = _old_run_tables(atlas, config, confounds, record, qc)
    for kind, path in files.items():
        assert path.read_text(encoding="utf-8") == old[kind], kind
        side = {**run_table_sidecars(config)[kind], "Sources": [f"bids:source:{SOURCE}"]}
        expected = json.dumps(side, indent=2, sort_keys=True, default=str) + "\n"
        assert path.with_suffix(".json").read_text(encoding="utf-8") == expected
    for path, values in ((series, data), (relmat, None)):
        sidecar = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        expected = json.dumps(sidecar, indent=2, sort_keys=True, default=str) + "\n"
        assert path.with_suffix(".json").read_text(encoding="utf-8") == expected
        assert sidecar["Provenance"] == json.loads(json.dumps(record))
        if values is not None:
            lines = [
                "\t".join(f"{v:.8g}" if math.isfinite(v) else "n/a" for v in row)
                for row in values.tolist()
            ]
            assert path.read_text().splitlines()[1:] == lines


def test_without_confounds_and_unreadable_confounds(
    tmp_path: Path, atlas: Atlas, rng: np.random.Generator
) -> None:
    """No confounds, a file with other rows or not UTF-8: FD n/a, as before."""
    config = AnalysisConfig(atlas=atlas)
    bad = tmp_path / "latin1.tsv"
    bad.write_bytes("trans_x\tcaf\xe9\n0.1\t0.2\n".encode("latin-1"))
    short = _confounds(tmp_path / "short.tsv", rng, 12, "six")
    record = {"n_volumes": 20, "censored_volumes": [2]}
    for confounds in (None, bad, short):
        task = RunTask("r", "r.tsv", "roi", "r.tsv", 2.0, config)
        if confounds is not None:
            task = replace(task, confounds=str(confounds))
        writer = DerivativeWriter(tmp_path / f"d-{confounds and confounds.name}", atlas, config)
        files = writer.write_run_tables(task, {"sub": "01", "task": "rest"}, record, {})
        old = _old_run_tables(atlas, config, confounds, record, {})
        assert {k: p.read_text() for k, p in files.items()} == old


TOKENS = [
    "0.123456", "-0.5", "4e-06", "-5.9e-05", "1.5e+03", "0.1234567890123", "12345678901234.5",
    "0.12345678901234567", "1.2345678901234567e-05", "123456789012345678.0", "1e-25", "1E-05",
    "7", "-0", "n/a", "NaN", "", "nan", "N/A", "1.", ".5", "+0.5", " 0.5", "0x1p-3", "1_000.0",
]  # fmt: skip


def test_fast_motion_reader_reads_what_pandas_reads(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    """Random tokens of every kind: the reader gives pandas's columns, or leaves them to it."""
    config = AnalysisConfig()
    fast = 0
    for trial in range(60):
        columns = ["csf", *rng.permutation(MOTION_COLUMNS)[: rng.integers(1, 8)].tolist()]
        n_rows = int(rng.integers(2, 6))
        pick = TOKENS[:7] if trial % 2 else TOKENS
        rows = [[str(rng.choice(pick)) for _ in columns] for _ in range(n_rows)]
        path = tmp_path / f"c{trial}.tsv"
        path.write_text("\n".join(["\t".join(columns), *("\t".join(r) for r in rows)]) + "\n")
        fast += _fast_motion(str(path)) is not None
        task = replace(RunTask("r", "r.tsv", "roi", "r.tsv", 2.0, config), confounds=str(path))
        got = pd.DataFrame(motion_columns(task, n_rows))
        pd.testing.assert_frame_equal(got, _old_motion(path, n_rows), check_exact=True)
    assert fast >= 20  # the plain files took the fast path


@pytest.mark.parametrize(
    "text",
    [
        'trans_x\tcsf\n"0.1"\t0.2\n',  # quotes
        "\ufefftrans_x\tcsf\n0.1\t0.2\n",  # byte-order mark
        "trans_x\tcsf\r\n0.1\t0.2\r\n",  # Windows lines
        "trans_x\tcsf\n0.1\t0.2\n\n0.3\t0.4\n",  # a blank line
        "trans_x\ttrans_x\n0.1\t0.2\n",  # a name twice
        "trans_x\tcsf\n0.1\n",  # a short line
    ],
)
def test_fast_motion_leaves_odd_files_to_pandas(tmp_path: Path, text: str) -> None:
    """Files pandas reads in its own way are not read by the fast reader."""
    path = tmp_path / "odd.tsv"
    path.write_bytes(text.encode())
    assert _fast_motion(str(path)) is None


def test_sidecar_text_is_json_dumps() -> None:
    """Nested values, escapes, non-finite floats, numpy scalars, paths, tuples, int keys."""
    record = {
        "é": "\u2028\n\t\"\\", "nan": float("nan"), "inf": [float("inf"), -float("inf")],
        "numpy": {"i": np.int64(3), "f": np.float64(0.1), "f32": np.float32(0.1)},
        "path": Path("/data/x"), "tuple": (1, (2, [])), "keys": {1: "a", 2: "b"},
        "deep": {"a": {"b": {"c": [1, {"d": None, "e": True}]}}}, "empty": [{}, []],
        "big": 10**30, "zero": -0.0, "bools": {True: 1},
    }  # fmt: skip
    for content in ({}, {"a": {}}, {"Provenance": record, "Sources": ["bids:source:x"]}):
        expected = json.dumps(content, indent=2, sort_keys=True, default=str) + "\n"
        assert sidecar_text(content) == expected


def test_write_table_keeps_the_cells_of_every_dtype(tmp_path: Path) -> None:
    """Floats (repr, n/a), ints, booleans, objects, nullable ints, an index, no columns."""
    table = pd.DataFrame(
        {
            "f": [0.1, np.nan, 1e-20],
            "i": np.array([1, -2, 3], dtype=np.int64),
            "b": [True, False, True],
            "o": ["a", None, 1.5],
            "f32": np.array([0.1, 2, np.inf], dtype=np.float32),
            "n": pd.array([1, None, 3], dtype="Int64"),
            "same": [1, 2, 3],
        },
        index=pd.Index(["x", "y", "z"], name="Node"),
    )
    table.columns = ["f", "i", "b", "o", "f32", "n", "f"]  # a name twice
    for index in (False, True):
        path = write_table(table, tmp_path / "t.tsv", index=index)
        assert path.read_text() == _old_table(table, index=index)
    empty = pd.DataFrame(index=range(3))
    assert write_table(empty, tmp_path / "e.tsv").read_text() == _old_table(empty)
    assert table_text({"a": np.array([0.5, np.nan])}, ("Node", ["p", "q"])) == (
        "Node\ta\np\t0.5\nq\tn/a\n"
    )


def test_coverage_fraction(tmp_path: Path, atlas: Atlas, rng: np.random.Generator) -> None:
    """Given fractions are written (0 for regions without a signal); else 1 and 0."""
    record = {"n_volumes": 5, "coverage": {"regions_without_signal": [atlas.labels[1]]}}
    fraction = rng.uniform(0.5, 1.0, atlas.n_regions)
    table = coverage_table(atlas, record, fraction)
    expected = fraction.copy()
    expected[1] = 0.0
    np.testing.assert_array_equal(table["coverage"].to_numpy(), expected)
    assert coverage_table(atlas, record)["coverage"].tolist()[:3] == [1.0, 0.0, 1.0]
    for bad in (fraction[:-1], np.full(atlas.n_regions, 1.5), np.full(atlas.n_regions, np.nan)):
        with pytest.raises(ValueError, match="in \\[0, 1\\]"):
            coverage_table(atlas, record, bad)
    config = AnalysisConfig(atlas=atlas)
    task = RunTask("r", "r.tsv", "roi", "r.tsv", 2.0, config)
    writer = DerivativeWriter(tmp_path, atlas, config)
    files = writer.write_run_tables(task, {"sub": "01", "task": "rest"}, record, {}, fraction)
    written = pd.read_csv(files["coverage"], sep="\t", index_col="Node")["coverage"]
    np.testing.assert_array_equal(written.to_numpy(), expected)
    description = json.loads(files["coverage"].with_suffix(".json").read_text())["Description"]
    assert "fraction of the region's voxels" in description
    assert "else 1" in description
