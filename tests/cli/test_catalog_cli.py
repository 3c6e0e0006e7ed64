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


@pytest.fixture(autouse=True)
def local_catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the local catalog into tmp_path: nothing reads or writes the home folder."""
    path = tmp_path / "local" / "catalog.toml"
    monkeypatch.setenv("DMNPHARM_CATALOG", str(path))
    return path


@pytest.mark.parametrize("kind", ["drugs", "studies", "publications", "findings", "claims"])
def test_tables_in_every_format(capsys: pytest.CaptureFixture[str], kind: str) -> None:
    """Each table prints as aligned text, JSON records and TSV."""
    key = "study_id" if kind == "findings" else "id"
    code, text, _ = _run(capsys, "catalog", kind)
    assert code == 0
    assert text.splitlines()[0].split()[0] == key
    code, out, _ = _run(capsys, "catalog", kind, "--format", "json")
    assert code == 0
    records = json.loads(out)
    assert records
    assert key in records[0]
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


#: The numeric-effect fields every nested or tabled finding carries.
EFFECT_FIELDS = (
    "effect_kind",
    "effect_size",
    "effect_n",
    "ci_low",
    "ci_high",
    "se",
    "effect_source",
    "effect_derivation",
    "effect_confidence",
    "direction_only",
    "direction_only_reason",
)


def test_studies_json_is_one_record_per_study(capsys: pytest.CaptureFixture[str]) -> None:
    """Studies JSON: unique ids, every study once, its findings nested with every field."""
    catalog = load_catalog()
    code, out, _ = _run(capsys, "catalog", "studies", "--format", "json")
    assert code == 0
    rows = json.loads(out)
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)) == len(catalog.studies)
    by_id = catalog.studies_by_id
    for row in rows:
        study = by_id[row["id"]]
        assert row["n_findings"] == len(row["findings"]) == len(study.findings)
        assert row["agents"] == list(study.agents)
        assert row["source"] == "bundled"
        for nested, finding in zip(row["findings"], study.findings, strict=True):
            assert set(EFFECT_FIELDS) <= set(nested)
            assert (nested["measure"], nested["effect_size"]) == (
                finding.measure,
                finding.effect_size,
            )
    numeric = [f for r in rows for f in r["findings"] if f["effect_size"] is not None]
    assert numeric
    assert all(isinstance(f["direction_only"], bool) for r in rows for f in r["findings"])


def test_findings_tsv_links_back_to_studies(capsys: pytest.CaptureFixture[str]) -> None:
    """Findings TSV: one row per finding, study_id first, the study's fields to filter on."""
    catalog = load_catalog()
    code, out, _ = _run(capsys, "catalog", "findings", "--format", "tsv")
    assert code == 0
    table = pd.read_csv(io.StringIO(out), sep="\t", na_values=["n/a"], keep_default_na=False)
    assert list(table.columns[:3]) == ["study_id", "finding", "measure"]
    for column in (*EFFECT_FIELDS, "design", "population", "modality", "agents"):
        assert column in table.columns, column
    assert len(table) == sum(len(s.findings) for s in catalog.studies)
    assert set(table["study_id"]) <= set(catalog.studies_by_id)
    assert set(table["direction_only"]) <= {True, False}
    code, out, _ = _run(
        capsys, "catalog", "findings", "--measure", "dmn_within_fc", "--format", "json"
    )
    assert {r["measure"] for r in json.loads(out)} == {"dmn_within_fc"}


def test_filters(capsys: pytest.CaptureFixture[str]) -> None:
    """--drug, --population and --measure narrow the studies and findings tables."""
    argv = ("--drug", "Escitalopram", "--measure", "dmn_within_fc", "--format", "json")
    code, out, _ = _run(capsys, "catalog", "studies", *argv)
    assert code == 0
    rows = json.loads(out)
    assert rows
    assert all("escitalopram" in r["agents"] for r in rows)
    assert all("dmn_within_fc" in r["measures"] for r in rows)
    code, out, _ = _run(capsys, "catalog", "findings", *argv)
    findings = json.loads(out)
    assert {f["study_id"] for f in findings} == {r["id"] for r in rows}
    assert {f["measure"] for f in findings} == {"dmn_within_fc"}
    code, out, _ = _run(
        capsys, "catalog", "claims", "--population", "patients", "--format", "json"
    )
    assert code == 0
    assert "healthy" not in {r["population"] for r in json.loads(out)}


def test_help_names_no_internal_document(capsys: pytest.CaptureFixture[str]) -> None:
    """The help of the catalog commands speaks of nothing users do not have."""
    for argv in (["catalog", "--help"], ["catalog", "claims", "--help"]):
        code, out, _ = _run(capsys, *argv)
        assert code == 0
        assert "DESIGN.md" not in out
    assert "findings" in _run(capsys, "catalog", "--help")[1]


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
    """A bad --format, a misspelt --measure or a missing subcommand is a usage error."""
    code, out, err = _run(capsys, "catalog", "drugs", "--measure", "dmn_withinfc")
    assert (code, out) == (2, "")
    assert "--measure 'dmn_withinfc' is not a measure; did you mean 'dmn_within_fc'?" in err
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


# --- the local catalog ------------------------------------------------------


def test_template_add_show_and_duplicate(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, local_catalog: Path
) -> None:
    """A filled template is added to the local catalog, shown as local, and not added twice."""
    code, template, _ = _run(capsys, "catalog", "template")
    assert code == 0
    mine = tmp_path / "mine.toml"
    mine.write_text(template, encoding="utf-8")
    code, out, err = _run(capsys, "catalog", "add", str(mine))
    assert (code, out) == (1, "")
    assert f"study file '{mine}'" in err
    assert "id ''" in err
    assert not local_catalog.exists()
    filled = template.replace('id = ""', 'id = "doe2026"')
    mine.write_text(filled.replace('design = "crossover"', 'design = "crosover"'), "utf-8")
    code, _, err = _run(capsys, "catalog", "add", str(mine))
    assert code == 1
    assert "(id 'doe2026'): design 'crosover'" in err
    assert "did you mean 'crossover'?" in err
    mine.write_text(filled, encoding="utf-8")
    code, out, _ = _run(capsys, "catalog", "add", str(mine))
    assert code == 0
    assert out == f"added doe2026 to {local_catalog}\n"
    code, out, _ = _run(capsys, "catalog", "show", "doe2026")
    assert code == 0
    assert out.startswith("doe2026: Smith 2026")
    assert f"source: local catalog {local_catalog}" in out
    code, _, err = _run(capsys, "catalog", "add", str(mine))
    assert code == 1
    assert "id 'doe2026' is already in the evidence catalog" in err
    code, out, _ = _run(capsys, "catalog", "studies", "--drug", "escitalopram", "--format", "json")
    sources = {r["id"]: r["source"] for r in json.loads(out)}
    assert sources["doe2026"] == "local"
    assert set(sources.values()) == {"bundled", "local"}


def test_add_to_another_local_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """`add --catalog FILE` writes there; the queries merge only $DMNPHARM_CATALOG."""
    _, template, _ = _run(capsys, "catalog", "template")
    mine = tmp_path / "mine.toml"
    mine.write_text(template.replace('id = ""', 'id = "roe2026"'), encoding="utf-8")
    other = tmp_path / "lab" / "shared.toml"
    assert _run(capsys, "catalog", "add", str(mine), "--catalog", str(other))[0] == 0
    assert 'id = "roe2026"' in other.read_text(encoding="utf-8")
    code, _, err = _run(capsys, "catalog", "show", "roe2026")
    assert code == 1
    assert "'roe2026'" in err


def _provenance(folder: Path, **config: object) -> None:
    record = {"command": "run", "config": {"between": None, "confidence": 0.95, **config}}
    (folder / "provenance.json").write_text(json.dumps(record), encoding="utf-8")


def test_add_result_turns_results_into_a_local_study(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, local_catalog: Path
) -> None:
    """add-result: one numeric finding per measure, direction by p_fwer, shown and compared."""
    results = _results(tmp_path / "res")
    _provenance(results, drug="escitalopram", population="healthy", denoise={"gsr": False})
    code, out, _ = _run(
        capsys, "catalog", "add-result", str(results), "--id", "doe2025", "--first-author", "Doe"
    )
    assert code == 0
    assert out == f"added doe2025 (3 findings) to {local_catalog}\n"
    code, out, _ = _run(capsys, "catalog", "show", "doe2025")
    assert code == 0
    assert "design             : crossover" in out
    assert "dmn_within_fc: decrease; effect size -1 (dz)" in out
    assert "source: local catalog" in out
    code, out, _ = _run(
        capsys, "catalog", "findings", "--drug", "escitalopram", "--format", "json"
    )
    mine = {f["measure"]: f for f in json.loads(out) if f["study_id"] == "doe2025"}
    within = mine["dmn_within_fc"]
    assert (within["direction"], within["effect_kind"], within["effect_n"]) == (
        "decrease",
        "d_z",
        20,
    )
    assert within["effect_size"] == pytest.approx(-1.0)
    assert (within["ci_low"], within["ci_high"]) == pytest.approx((-1.5, -0.5))
    assert within["effect_source"] == f"dmnpharm results {results / 'group' / 'results.tsv'}"
    assert within["effect_confidence"] == "verified"
    assert within["source"] == "local"
    assert mine["dmn_salience_fc"]["direction"] == "no change"
    assert mine["dmn_alff"]["direction"] == "no change"
    code, out, _ = _run(
        capsys, "compare", str(results), "--drug", "escitalopram", "--format", "json"
    )
    assert code == 0
    assert "doe2025" in {row["id"] for row in json.loads(out)["rows"]}


def test_add_result_needs_what_provenance_lacks(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, local_catalog: Path
) -> None:
    """Without provenance, drug, population and (unless paired) design must be given."""
    results = _results(tmp_path / "stats", group="")
    argv = ["catalog", "add-result", str(results), "--id", "poe2024", "--first-author", "Poe"]
    code, _, err = _run(capsys, *argv)
    assert code == 1
    assert "names no drug" in err
    code, _, err = _run(capsys, *argv, "--drug", "lsd")
    assert code == 1
    assert "names no population" in err
    code, _, err = _run(capsys, *argv, "--drug", "lsd", "--population", "healthy")
    assert code == 1
    assert "give the design" in err
    assert not local_catalog.exists()
    code, _, _ = _run(
        capsys, *argv, "--drug", "lsd", "--population", "healthy", "--design", "parallel"
    )
    assert code == 0
    assert 'design = "parallel"' in local_catalog.read_text(encoding="utf-8")


def test_the_command_line_names_the_local_catalog_variable_of_the_package() -> None:
    """The CLI writes the variable's name out (to start fast); it must be the package's."""
    from dmnpharm.catalog import LOCAL_CATALOG_ENV
    from dmnpharm.cli._catalog import LOCAL_CATALOG_ENV as CLI_NAME

    assert CLI_NAME == LOCAL_CATALOG_ENV
