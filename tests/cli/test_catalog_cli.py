"""``dmnpharm catalog`` and ``dmnpharm compare``, called in-process through ``main``."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest

from dmnpharm.catalog import load_catalog
from dmnpharm.cli import main
from dmnpharm.stats import EXTRA_COLUMNS, RESULT_COLUMNS


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("kind", ["drugs", "studies", "publications", "claims"])
def test_tables_in_every_format(capsys: pytest.CaptureFixture[str], kind: str) -> None:
    """Each table prints as aligned text, JSON records and TSV."""
    code, text, _ = _run(capsys, "catalog", kind)
    assert code == 0
    assert text.splitlines()[0].split()[0] == "id"
    code, out, _ = _run(capsys, "catalog", kind, "--format", "json")
    assert code == 0
    records = json.loads(out)
    assert records
    assert "id" in records[0]
    code, out, _ = _run(capsys, "catalog", kind, "--format", "tsv")
    assert code == 0
    table = pd.read_csv(io.StringIO(out), sep="\t", na_values=["n/a"])
    assert len(table) == len(records)


def test_publications_is_studies(capsys: pytest.CaptureFixture[str]) -> None:
    """`catalog publications` is another name for `catalog studies`: the same table."""
    argv = ("--drug", "escitalopram", "--format", "tsv")
    code, studies, _ = _run(capsys, "catalog", "studies", *argv)
    assert code == 0
    code, publications, _ = _run(capsys, "catalog", "publications", *argv)
    assert code == 0
    assert publications == studies


def test_filters(capsys: pytest.CaptureFixture[str]) -> None:
    """--drug, --population and --measure narrow the studies table."""
    code, out, _ = _run(
        capsys,
        "catalog",
        "studies",
        "--drug",
        "Escitalopram",
        "--measure",
        "dmn_within_fc",
        "--format",
        "json",
    )
    assert code == 0
    rows = json.loads(out)
    assert rows
    assert all("Escitalopram" in r["agents"] for r in rows)
    assert {r["measure"] for r in rows} == {"dmn_within_fc"}
    code, out, _ = _run(
        capsys, "catalog", "claims", "--population", "patients", "--format", "json"
    )
    assert code == 0
    assert "healthy" not in {r["population"] for r in json.loads(out)}


def test_show_and_summary(capsys: pytest.CaptureFixture[str]) -> None:
    """`catalog show` prints one publication's fields; summary prints counts and gaps."""
    study = load_catalog().studies[0]
    code, out, _ = _run(capsys, "catalog", "show", study.id)
    assert code == 0
    assert out.startswith(f"{study.id}:")
    assert "findings" in out
    code, out, _ = _run(capsys, "catalog", "summary", "--drug", "escitalopram")
    assert code == 0
    assert "studies in the catalog" in out
    assert "gaps" in out
    code, out, _ = _run(capsys, "catalog", "summary", "--drug", "escitalopram", "--format", "json")
    summary = json.loads(out)
    assert summary["agent"] == "escitalopram"
    assert summary["n_studies"] > 0


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["catalog", "studies", "--drug", "escitalopramm"], "'escitalopramm'"),
        (["catalog", "claims", "--population", "heathy"], "'heathy'"),
        (["catalog", "drugs", "--measure", "dmn_withinfc"], "'dmn_withinfc'"),
        (["catalog", "show", "nosuchstudy1999"], "'nosuchstudy1999'"),
        (["catalog", "summary", "--drug", "aspirin"], "'aspirin'"),
    ],
)
def test_errors_exit_1_and_name_the_value(
    capsys: pytest.CaptureFixture[str], argv: list[str], named: str
) -> None:
    """Unknown values exit 1 with a message naming them and the closest valid ones."""
    code, out, err = _run(capsys, *argv)
    assert code == 1
    assert out == ""
    assert err.startswith(f"dmnpharm {argv[0]}: error: ")
    assert named in err
    assert "did you mean" in err or "see 'dmnpharm catalog" in err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    """A bad --format or a missing subcommand is a usage error."""
    assert _run(capsys, "catalog", "drugs", "--format", "xml")[0] == 2
    assert _run(capsys, "catalog")[0] == 2
    assert _run(capsys, "compare", "somewhere")[0] == 2  # --drug is required


def _results(folder: Path, group: str = "group") -> Path:
    """Write a run-like results table: within-DMN FC down, DMN-SN FC unchanged.

    ``group=""`` writes it as a ``dmnpharm stats`` folder does (``results.tsv`` on top).
    """
    rows = []
    for measure, estimate, p in (
        ("dmn_within_fc", -0.1, 0.002),
        ("dmn_salience_fc", 0.01, 0.6),
        ("dmn_alff", -0.02, 0.3),
    ):
        row = dict.fromkeys(RESULT_COLUMNS + EXTRA_COLUMNS, "n/a")
        row.update(
            measure=measure,
            contrast="drug-placebo",
            estimate=estimate,
            ci_low=estimate - 0.05,
            ci_high=estimate + 0.05,
            p_fwer=p,
            n=20,
            effect_size_dz=estimate * 10,
            effect_size=estimate * 10,
            effect_size_kind="d_z",
            effect_size_ci_low=estimate * 10 - 0.5,
            effect_size_ci_high=estimate * 10 + 0.5,
        )
        rows.append(row)
    (folder / group).mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(folder / group / "results.tsv", sep="\t", index=False)
    return folder


def test_compare_writes_into_results_folder(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """`compare` writes RESULTS_DIR/compare by default, refuses to overwrite, prints JSON."""
    results = _results(tmp_path / "res")
    code, out, _ = _run(capsys, "compare", str(results), "--drug", "escitalopram")
    assert code == 0
    assert out.splitlines()[-1] == str(results / "compare")
    assert "claims:" in out
    assert f"results {results / 'group' / 'results.tsv'}" in out
    for name in ("compare.tsv", "compare.json", "compare_forest.png"):
        assert (results / "compare" / name).is_file(), name
    code, _, err = _run(capsys, "compare", str(results), "--drug", "escitalopram")
    assert code == 1
    assert "--overwrite" in err
    out_dir = tmp_path / "elsewhere"
    code, out, _ = _run(
        capsys,
        "compare",
        str(results),
        "--drug",
        "ssri_snri",
        "--population",
        "patients",
        "--out",
        str(out_dir),
        "--format",
        "json",
    )
    assert code == 0
    payload = json.loads(out)
    assert payload["summary"]["population"] == "patients"
    assert payload["summary"]["results"] == str(results / "group" / "results.tsv")
    assert payload == json.loads((out_dir / "compare.json").read_text())


def test_compare_reads_a_stats_folder(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A `dmnpharm stats` folder (results.tsv on top) is compared like a run folder."""
    results = _results(tmp_path / "stats", group="")
    code, out, _ = _run(
        capsys, "compare", str(results), "--drug", "escitalopram", "--format", "json"
    )
    assert code == 0
    payload = json.loads(out)
    assert payload["summary"]["results"] == str(results / "results.tsv")
    assert (results / "compare" / "compare_forest.png").is_file()


def test_compare_missing_results(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A folder without results exits 1 and names the file it looked for."""
    code, _, err = _run(capsys, "compare", str(tmp_path), "--drug", "lsd")
    assert code == 1
    assert str(tmp_path / "group" / "results.tsv") in err
