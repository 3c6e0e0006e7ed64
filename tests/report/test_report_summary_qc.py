"""Quality control in the report: compact tables, censoring, FD traces, coverage, warnings."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import pandas as pd

from dmnpharm.atlases import load_atlas
from dmnpharm.report._qc import RunQC, qc_fc_sentence, qc_section, qc_warnings

PNG = b"\x89PNG\r\n\x1a\n"


Records = dict[str, dict[str, Any]]


def _runs(
    rng: np.random.Generator, n_subjects: int = 6
) -> tuple[pd.DataFrame, Records, pd.DataFrame]:
    """Design (with paths), cleaning records and QC rows of a small crossover."""
    design, qc = [], []
    records: Records = {}
    for s in range(n_subjects):
        for session, condition in (("ses-1", "drug"), ("ses-2", "placebo")):
            path = f"sub-{s}/{session}/func/run.tsv"
            censored = sorted(rng.choice(100, size=int(rng.integers(0, 8)), replace=False))
            keys = {"participant_id": f"sub-{s}", "session_id": session, "run": ""}
            design.append({**keys, "condition": condition, "path": path})
            qc.append(
                {
                    **keys,
                    "condition": condition,
                    "mean_fd": float(rng.uniform(0.05, 0.3)),
                    "max_fd": float(rng.uniform(0.5, 2.0)),
                    "percent_censored": len(censored),
                    "dof_lost": 150.0,
                }
            )
            records[path] = {
                "n_volumes": 100,
                "censored_volumes": [int(v) for v in censored],
                "excluded": False,
                "reason": None,
                "config": {"fd_threshold": 0.5},
            }
    return pd.DataFrame(design), records, pd.DataFrame(qc)


def _imbalance(p: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "measure": ["mean_fd", "percent_censored"],
            "contrast": "drug-placebo",
            "estimate": [0.03, 1.0],
            "ci_low": [0.01, -1.0],
            "ci_high": [0.05, 3.0],
            "p_uncorrected": [p, 0.7],
            "p_fwer": [p, 0.9],
            "imbalanced": [p < 0.05, False],
            "n_permutations": 2000,
            "exchangeability": "sign flips",
        }
    )


def _png(uri: str) -> None:
    assert base64.b64decode(uri.split(",", 1)[1])[:8] == PNG


def _svg(uri: str) -> None:
    assert uri.startswith("data:image/svg+xml;base64,")
    assert base64.b64decode(uri.split(",", 1)[1]).startswith(b"<svg ")


def test_qc_section_fits_the_page_and_draws_every_run(rng: np.random.Generator) -> None:
    """Few columns by condition, the key imbalance columns, the full table collapsed."""
    design, records, qc = _runs(rng)
    imbalance = _imbalance(0.4)
    data = RunQC(
        qc, imbalance, {"n_subjects": 6, "n_edges": 18, "median_abs_r": 0.08}, design, records
    )
    section = qc_section(data)
    assert section is not None
    (by_condition, motion) = (table for _, table in section.tables)
    assert list(by_condition.columns) == [
        "condition",
        "runs",
        "mean FD (mm)",
        "max FD (mm)",
        "% censored",
        "DOF lost",
    ]
    assert list(motion.columns) == [
        "quantity",
        "contrast",
        "difference",
        "95% CI",
        "p (permutation)",
        "imbalanced",
    ]
    assert section.details[0][1] is imbalance  # the full table, collapsed
    assert "each of the 18 measures" in section.note
    assert "Every region carried a signal in every run." in section.note
    assert len(section.figures) == 1  # the censoring map of all runs
    _svg(section.figures[0][0])
    assert "all 12 runs" in section.figures[0][1]


def test_qc_fc_says_measures_or_edges() -> None:
    """QC-FC counts measures as measures, edges as edges; a failure says why."""
    summary = {
        "n_subjects": 40.0,
        "n_edges": 18.0,
        "median_abs_r": 0.0779,
        "percent_significant": 5.56,
        "percent_significant_fdr": 0.0,
    }
    text = qc_fc_sentence(summary)
    assert "each of the 18 measures was correlated with mean FD: median |r| = 0.078" in text
    assert "5.6% at p < 0.05 uncorrected (0% after FDR)" in text
    assert "edges" not in text
    assert "each of the 18 edges" in qc_fc_sentence(summary, edges=True)
    assert qc_fc_sentence({"not computed": "too few subjects"}).endswith("too few subjects.")


def test_warnings_name_imbalance_exclusions_censoring_and_coverage(
    rng: np.random.Generator,
) -> None:
    """Each QC finding becomes one warning; with none, one sentence says what was checked."""
    design, records, qc = _runs(rng)
    warnings, clear = qc_warnings(RunQC(qc, _imbalance(0.4), None, design, records))
    assert warnings == []
    assert clear.startswith("No QC warning: motion and censoring did not differ by condition")
    assert "no run was excluded" in clear
    first = design["path"].iloc[0]
    records[first] = {
        **records[first],
        "excluded": True,
        "reason": "kept 40% of volumes",
        "censored_volumes": list(range(60)),
    }
    second = design["path"].iloc[1]
    records[second] = {
        **records[second],
        "coverage": {"regions_without_signal": ["r1"], "dmn_regions_measured": "55 of 60"},
    }
    warnings, _ = qc_warnings(RunQC(qc, _imbalance(0.01), None, design, records))
    assert len(warnings) == 4
    assert warnings[0].startswith("Motion differed by condition: mean_fd drug-placebo")
    assert warnings[1] == "1 of 12 runs excluded (sub-0 ses-1: kept 40% of volumes)."
    assert "lost more than 20% of their volumes" in warnings[2]
    assert "fewest DMN regions measured: 55 of 60" in warnings[3]
    section = qc_section(RunQC(qc, None, None, design, records))
    assert section is not None
    assert any("Regions without a signal" in caption for caption, _ in section.tables)


def test_fd_traces_carpet_and_tsnr_when_the_pipeline_gives_them(
    rng: np.random.Generator,
) -> None:
    """Per-volume FD, a carpet and per-region tSNR, when given, are drawn."""
    design, records, qc = _runs(rng, 3)
    fd = pd.concat(
        pd.DataFrame(
            {
                "path": path,
                "volume": np.arange(100),
                "framewise_displacement": rng.gamma(2, 0.1, 100),
            }
        )
        for path in design["path"]
    )
    atlas = load_atlas("seitzman300")
    tsnr = pd.DataFrame(
        {
            "path": np.repeat(design["path"].to_numpy(), len(atlas.labels)),
            "region": list(atlas.labels) * len(design),
            "tsnr": rng.uniform(20, 80, len(design) * len(atlas.labels)),
        }
    )
    carpet = (design["path"].iloc[0], rng.normal(size=(300, 100)))
    data = RunQC(qc, None, None, design, records, atlas, fd, tsnr, carpet)
    section = qc_section(data)
    assert section is not None
    captions = [caption for _, caption in section.figures]
    assert len(captions) == 4
    assert captions[1].startswith("Framewise displacement over time of the 6 runs")
    assert captions[2].startswith("Carpet plot")
    assert "tSNR" in captions[3] or "temporal SNR" in captions[3]
    # The censoring map and FD traces as SVG; the carpet and tSNR drawn by matplotlib.
    for (uri, _), check in zip(section.figures, (_svg, _svg, _png, _png), strict=True):
        check(uri)


def test_runs_without_volume_counts_are_not_drawn(rng: np.random.Generator) -> None:
    """Inputs denoised elsewhere (XCP-D) record no volume count: no censoring map, no error."""
    design, records, qc = _runs(rng, 2)
    bare = {path: {"excluded": False} for path in records}
    section = qc_section(RunQC(qc, None, None, design, bare))
    assert section is not None
    assert section.figures == []


def test_coverage_figure_and_warning_name_poorly_covered_regions(
    rng: np.random.Generator,
) -> None:
    """Atlas coverage below XCP-D's 50 % is drawn per region and flagged first, by name."""
    design, records, qc = _runs(rng, 2)
    atlas = load_atlas("seitzman300")
    n = len(atlas.labels)
    values = np.ones((len(design), n))
    values[1, 3] = 0.2  # one region, in one run, mostly outside the mask
    values[:, 7] = 0.9
    coverage = pd.DataFrame(
        {
            "path": np.repeat(design["path"].to_numpy(), n),
            "region": list(atlas.labels) * len(design),
            "coverage": values.ravel(),
        }
    )
    data = RunQC(qc, None, None, design, records, atlas, coverage=coverage)
    section = qc_section(data)
    assert section is not None
    caption = section.figures[-1][1]
    assert caption.startswith("The share of each region's voxels inside the brain mask")
    assert "1 regions fall below 50% in some run" in caption
    _png(section.figures[-1][0])
    warnings, _ = qc_warnings(data)
    flagged = [w for w in warnings if "inside the brain mask" in w]
    assert flagged == [
        f"1 regions had less than 50% of their voxels inside the brain mask in 1 run "
        f"(lowest: {atlas.labels[3]} (20%)); XCP-D would set them to n/a. See Quality control."
    ]
    full = RunQC(qc, None, None, design, records, atlas, coverage=coverage.assign(coverage=1.0))
    _, clear = qc_warnings(full)
    assert "every region had at least 50% of its voxels in the brain mask" in clear


def test_carpet_rows_are_labelled_by_network(rng: np.random.Generator) -> None:
    """A carpet with each row's network draws (a PNG) and names the run in its caption."""
    design, records, qc = _runs(rng, 2)
    networks = ("DMN",) * 50 + ("SN",) * 30 + ("outside atlas",) * 20
    carpet = (design["path"].iloc[1], rng.normal(size=(100, 100)), networks)
    data = RunQC(qc, None, None, design, records, load_atlas("seitzman300"), carpet=carpet)
    section = qc_section(data)
    assert section is not None
    (uri, caption), *_ = [f for f in section.figures if f[1].startswith("Carpet plot")]
    assert caption.startswith("Carpet plot of sub-0 ses-2")
    _png(uri)
