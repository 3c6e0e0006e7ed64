"""The local evidence catalog: TOML writing, the template, adding, merging, results as a study."""

from __future__ import annotations

import copy
import io
import math
import tomllib
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from dmnpharm.catalog import (
    Catalog,
    default_catalog_path,
    load_catalog,
    render,
    table_of,
    validate,
)
from dmnpharm.catalog._local import (
    add_studies,
    local_catalog_path,
    merge_local,
    read_local_studies,
    read_study_file,
)
from dmnpharm.catalog._local_results import study_from_results
from dmnpharm.catalog._query import study_records
from dmnpharm.catalog._template import studies_toml, template_text, toml_value
from dmnpharm.exceptions import InputError


@pytest.fixture(autouse=True)
def local_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the local catalog into tmp_path: nothing reads or writes the home folder."""
    path = tmp_path / "home" / "catalog.toml"
    monkeypatch.setenv("DMNPHARM_CATALOG", str(path))
    return path


@pytest.fixture(scope="module")
def bundled() -> Catalog:
    """Load the catalog shipped with dmnpharm."""
    return load_catalog()


def _study(study_id: str = "lab2026", **changes: Any) -> dict[str, Any]:
    """Return a valid study row (as tomllib reads one), with ``changes`` applied."""
    row: dict[str, Any] = {
        "id": study_id,
        "first_author": "Lab",
        "year": 2026,
        "journal": "",
        "doi_reason": "own analysis",
        "agents": ["escitalopram"],
        "drug_class": "ssri_snri",
        "dose": "10 mg",
        "design": "crossover",
        "population": "healthy",
        "n": "18",
        "modality": "rest",
        "confirmation": "confirmed",
        "note": "A lab study.",
        "findings": [
            {
                "measure": "dmn_within_fc",
                "direction": "decrease",
                "effect": "d_z = -0.7",
                "effect_size": -0.7,
                "effect_kind": "d_z",
                "effect_n": 18,
                "effect_source": "lab notes",
                "effect_confidence": "verified",
            }
        ],
    }
    row.update(changes)
    return row


def _problems(rows: list[dict[str, Any]]) -> list[str]:
    """Return the schema problems of study rows beside the shipped catalog's other tables."""
    shipped = tomllib.loads(default_catalog_path().read_text(encoding="utf-8"))
    tables = {k: v for k, v in shipped.items() if k not in ("studies", "claims", "baselines")}
    return validate({**tables, "studies": copy.deepcopy(rows)})


# --- writing TOML -----------------------------------------------------------


def test_toml_writer_round_trips_awkward_values() -> None:
    """Strings with quotes, backslashes and controls, numbers, booleans, arrays, tables."""
    row = {
        "id": "x",
        "text": 'say "hi" \\ C:\\path\n\ttab \x01 \x7f é ✓',
        "ints": [0, -3, 12345678901234],
        "floats": [0.1, -0.0, 1e-7, 2.5e16, 1.0],
        "flags": [True, False],
        "empty": [],
        "findings": [{"a b": "quoted key", "n": 2, "nested": {"k": [1.5]}}],
        "skipped": None,
    }
    back = tomllib.loads(studies_toml([row]))["studies"][0]
    expected = {k: v for k, v in row.items() if v is not None}
    assert back == expected
    assert math.isnan(tomllib.loads(f"x = {toml_value(float('nan'))}")["x"])
    assert tomllib.loads(f"x = {toml_value(float('-inf'))}")["x"] == float("-inf")
    assert toml_value({}) == "{}"
    with pytest.raises(InputError, match="cannot write"):
        toml_value(object())


def test_several_studies_written_read_back(tmp_path: Path) -> None:
    """studies_toml writes one [[studies]] table per row; read_study_file reads them back."""
    rows = [_study("one2026"), _study("two2026", gsr=True)]
    file = tmp_path / "two.toml"
    file.write_text(studies_toml(rows), encoding="utf-8")
    assert read_study_file(file) == rows


# --- the template -----------------------------------------------------------


def test_template_parses_and_validates_once_filled(bundled: Catalog) -> None:
    """The template is TOML; its only problem is the empty id, and filled in it is valid."""
    text = template_text(bundled)
    rows = tomllib.loads(text)["studies"]
    assert len(rows) == 1
    assert len(rows[0]["findings"]) == 1
    problems = _problems(rows)
    assert len(problems) == 1
    assert "id ''" in problems[0]
    rows[0]["id"] = "smith2026"
    assert _problems(rows) == []
    for word in ("crossover", "d_z", "verified", "healthy", "dmn_within_fc", "catalog add"):
        assert word in text, word


# --- adding and reading back ------------------------------------------------


def test_add_then_read_and_merge(bundled: Catalog, local_path: Path) -> None:
    """Added studies are appended, read back validated, and merged after the bundled ones."""
    assert add_studies([_study("lab2026")], local_path, bundled, "test") == ("lab2026",)
    assert add_studies([_study("lab2027", year=2027)], local_path, bundled, "test") == ("lab2027",)
    text = local_path.read_text(encoding="utf-8")
    assert text.startswith("# dmnpharm local evidence catalog")
    local = read_local_studies(local_path, bundled)
    assert [s.id for s in local] == ["lab2026", "lab2027"]
    assert local[0].findings[0].effect_kind == "d_z"
    merged = merge_local(bundled, local)
    assert merged.studies[: len(bundled.studies)] == bundled.studies
    assert merged.study("lab2027").year == 2027
    findings = table_of(merged, "findings", drug="escitalopram", local={"lab2026", "lab2027"})
    mine = findings[findings["study_id"].str.startswith("lab")]
    assert set(mine["source"]) == {"local"}
    assert set(findings["source"]) == {"bundled", "local"}
    records = {r["id"]: r for r in study_records(merged, local={"lab2026"})}
    assert records["lab2026"]["findings"][0]["effect_size"] == -0.7
    assert records["lab2027"]["source"] == "bundled"  # not named local: the caller decides


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"desing": "crossover"}, "unknown key 'desing'; did you mean 'design'?"),
        ({"population": "helthy"}, "population 'helthy' is not a known population; did you mean"),
        ({"agents": ["escitalopam"]}, "agents 'escitalopam' is not a known agent; did you mean"),
        ({"modality": "resting"}, "modality 'resting' is not one of"),
        ({"design": "cross-over"}, "did you mean 'crossover'?"),
    ],
)
def test_add_refuses_a_bad_field_with_the_closest_value(
    bundled: Catalog, local_path: Path, change: dict[str, Any], expected: str
) -> None:
    """The error names the origin, study and field, echoes the value and suggests a fix."""
    with pytest.raises(InputError) as info:
        add_studies([_study(**change)], local_path, bundled, "study file 'mine.toml'")
    message = str(info.value)
    assert message.startswith("study file 'mine.toml' has 1 problem")
    assert "studies[0] (id 'lab2026')" in message
    assert expected in message
    assert not local_path.exists()


def test_add_refuses_bad_findings(bundled: Catalog, local_path: Path) -> None:
    """Finding fields are checked by the catalog schema too (vocabulary and numbers)."""
    finding = _study()["findings"][0]
    bad = [
        {**finding, "measure": "dmn_within"},
        {**finding, "direction": "decreased"},
        {**finding, "ci_low": 0.1, "ci_high": 0.5},
    ]
    with pytest.raises(InputError) as info:
        add_studies([_study(findings=bad)], local_path, bundled, "test")
    message = str(info.value)
    assert "findings[0]: measure 'dmn_within'" in message
    assert "findings[1]: direction 'decreased'" in message
    assert "did you mean 'decrease'?" in message
    assert "findings[2]: effect_size -0.7 lies outside its CI" in message


def test_add_refuses_duplicates(bundled: Catalog, local_path: Path) -> None:
    """An id of the bundled or local catalog, an id twice, or a known DOI is refused."""
    taken = bundled.studies[0]
    with pytest.raises(InputError, match=rf"id '{taken.id}' is already in the evidence catalog"):
        add_studies([_study(taken.id)], local_path, bundled, "test")
    add_studies([_study()], local_path, bundled, "test")
    before = local_path.read_text(encoding="utf-8")
    with pytest.raises(InputError, match="id 'lab2026' is already in the evidence catalog"):
        add_studies([_study()], local_path, bundled, "test")
    with pytest.raises(InputError, match="duplicate id 'new2026'"):
        add_studies([_study("new2026"), _study("new2026")], local_path, bundled, "test")
    doi = next(s.doi for s in bundled.studies if s.doi)
    row = _study("new2026", doi=doi)
    del row["doi_reason"]
    with pytest.raises(InputError, match="is already the DOI of"):
        add_studies([row], local_path, bundled, "test")
    assert local_path.read_text(encoding="utf-8") == before


def test_broken_local_catalog_is_named(bundled: Catalog, local_path: Path) -> None:
    """A local file that is not TOML, holds other tables or breaks the schema is named."""
    local_path.parent.mkdir(parents=True)
    local_path.write_text("[[studies]\n", encoding="utf-8")
    with pytest.raises(InputError, match=rf"local catalog '{local_path}' is not valid TOML"):
        read_local_studies(local_path, bundled)
    local_path.write_text('version = "2026.1.0"\n', encoding="utf-8")
    with pytest.raises(InputError, match="holds \\[\\[studies\\]\\] tables only"):
        read_local_studies(local_path, bundled)
    local_path.write_text(studies_toml([_study(n=18)]), encoding="utf-8")
    with pytest.raises(InputError, match="DMNPHARM_CATALOG") as info:
        read_local_studies(local_path, bundled)
    assert "n must be a string" in str(info.value)
    assert read_local_studies(local_path.with_name("absent.toml"), bundled) == ()


def test_merge_refuses_a_clash(bundled: Catalog) -> None:
    """A local study whose id the catalog already has cannot be merged."""
    with pytest.raises(InputError, match="rename them in the local catalog"):
        merge_local(bundled, [bundled.studies[0]])


def test_local_catalog_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """$DMNPHARM_CATALOG when set, else ~/.dmnpharm/catalog.toml."""
    monkeypatch.setenv("DMNPHARM_CATALOG", str(tmp_path / "x.toml"))
    assert local_catalog_path() == tmp_path / "x.toml"
    monkeypatch.delenv("DMNPHARM_CATALOG")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert local_catalog_path() == tmp_path / ".dmnpharm" / "catalog.toml"


def test_study_file_needs_studies(tmp_path: Path) -> None:
    """A study file without [[studies]] is refused by name."""
    empty = tmp_path / "empty.toml"
    empty.write_text("# nothing\n", encoding="utf-8")
    with pytest.raises(InputError, match=rf"study file '{empty}' has no \[\[studies\]\]"):
        read_study_file(empty)


# --- a results table as a study ---------------------------------------------


def _table(**override: dict[str, Any]) -> pd.DataFrame:
    rows = {
        "dmn_within_fc": {"estimate": -0.08, "p_fwer": 0.01, "effect_size": -0.9},
        "dmn_salience_fc": {"estimate": 0.02, "p_fwer": 0.4, "effect_size": 0.2},
        "dmn_alff": {"estimate": 0.05, "p_fwer": 0.03, "effect_size": 0.6},
    }
    for measure, change in override.items():
        rows[measure] = {**rows[measure], **change}
    return pd.DataFrame(
        [
            {
                "measure": measure,
                "contrast": "drug - placebo",
                "ci_low": row["estimate"] - 0.03,
                "ci_high": row["estimate"] + 0.03,
                "n": 17,
                "effect_size_kind": "d_z",
                "effect_size_ci_low": row["effect_size"] - 0.4,
                "effect_size_ci_high": row["effect_size"] + 0.4,
                "model": "paired",
                **row,
            }
            for measure, row in rows.items()
        ]
    )


_RUN = {"command": "run", "config": {"drug": "psilocybin", "population": "healthy"}}
_FIELDS = {"id": "lab2024", "first_author": "Lab"}


def _findings(row: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["measure"]: f for f in row["findings"]}


def test_results_become_numeric_findings(bundled: Catalog, local_path: Path) -> None:
    """Direction by p_fwer and sign, d_z with n and CI, the source named; the row validates."""
    row = study_from_results(_table(), _RUN, _FIELDS, bundled, "/x/results.tsv")
    assert (row["agents"], row["drug_class"]) == (["psilocybin"], "psychedelic")
    assert (row["design"], row["population"], row["n"], row["modality"]) == (
        "crossover",
        "healthy",
        "17",
        "rest",
    )
    assert "year_reason" in row
    assert "doi_reason" in row
    found = _findings(row)
    within = found["dmn_within_fc"]
    assert within["direction"] == "decrease"
    assert (within["effect_size"], within["effect_kind"], within["effect_n"]) == (
        -0.9,
        "d_z",
        17,
    )
    assert (within["ci_low"], within["ci_high"]) == pytest.approx((-1.3, -0.5))
    assert within["effect_source"] == "dmnpharm results /x/results.tsv"
    assert "p_fwer = 0.01" in within["effect"]
    assert found["dmn_salience_fc"]["direction"] == "no change"
    assert found["dmn_alff"]["direction"] == "increase"
    assert add_studies([row], local_path, bundled, "results") == ("lab2024",)


def test_results_without_a_usable_effect_are_direction_only(bundled: Catalog) -> None:
    """No effect size, or a kind the catalog lacks: direction_only with the reason."""
    table = _table(dmn_alff={"effect_size": float("nan")})
    table.loc[table["measure"] == "dmn_salience_fc", "effect_size_kind"] = "partial_eta2"
    found = _findings(study_from_results(table, _RUN, _FIELDS, bundled, "r.tsv"))
    assert found["dmn_alff"]["direction_only"] is True
    assert "effect_size" not in found["dmn_alff"]
    assert "'partial_eta2'" in found["dmn_salience_fc"]["direction_only_reason"]
    assert _problems([study_from_results(table, _RUN, _FIELDS, bundled, "r")]) == []


def test_results_other_kinds_and_levels(bundled: Catalog) -> None:
    """hedges_g and pearson_r keep their numbers; a 90% analysis records no CI."""
    table = _table()
    table["effect_size_kind"] = ["hedges_g", "pearson_r", "hedges_g"]
    table["model"] = "groups"
    run = {"command": "run", "config": {**_RUN["config"], "confidence": 0.9}}
    fields = {**_FIELDS, "design": "parallel"}
    found = _findings(study_from_results(table, run, fields, bundled, "r"))
    assert found["dmn_within_fc"]["effect_kind"] == "hedges_g"
    assert found["dmn_salience_fc"]["effect_kind"] == "r"
    assert "ci_low" not in found["dmn_within_fc"]
    assert "90% CI" in found["dmn_within_fc"]["effect"]


def test_results_direction_from_the_ci_and_normalization(bundled: Catalog) -> None:
    """Without p_fwer the CI decides; a normalization analysis moving closer normalizes."""
    table = _table(dmn_within_fc={"p_fwer": float("nan")})
    assert _findings(study_from_results(table, _RUN, _FIELDS, bundled, "r"))["dmn_within_fc"][
        "direction"
    ] == ("decrease")
    normal = _table(dmn_alff={"estimate": -0.05})
    normal["model"] = "normalization"
    fields = {**_FIELDS, "design": "longitudinal", "population": "mdd"}
    found = _findings(study_from_results(normal, _RUN, fields, bundled, "r"))
    assert found["dmn_alff"]["direction"] == "normalization"
    assert found["dmn_salience_fc"]["direction"] == "no change"
    with pytest.raises(InputError, match="moved away from controls"):
        study_from_results(normal.assign(estimate=0.05), _RUN, fields, bundled, "r")


def test_results_design_from_a_stats_provenance(bundled: Catalog) -> None:
    """A within-only stats model is a crossover; a between model needs a design."""
    table = _table().drop(columns="model")
    stats = {"command": "stats", "model": {"within": "condition", "between": None}}
    fields = {**_FIELDS, "drug": "lsd", "population": "healthy"}
    assert study_from_results(table, stats, fields, bundled, "r")["design"] == "crossover"
    between = {"command": "stats", "model": {"within": None, "between": "group"}}
    with pytest.raises(InputError, match="cannot tell the design of 'r'"):
        study_from_results(table, between, fields, bundled, "r")


@pytest.mark.parametrize(
    ("fields", "pattern"),
    [
        ({"id": "x2024"}, "needs first_author"),
        ({**_FIELDS, "colour": "red"}, "unknown study field.*'colour'"),
        ({**_FIELDS, "drug": "aspirin"}, "drug 'aspirin'"),
        ({**_FIELDS, "population": "patients"}, "population 'patients' stands for"),
    ],
)
def test_results_field_errors(bundled: Catalog, fields: dict[str, Any], pattern: str) -> None:
    """Missing or unknown fields, an unknown drug, and 'patients' are refused by name."""
    with pytest.raises(InputError, match=pattern):
        study_from_results(_table(), _RUN, fields, bundled, "r")


def test_results_measures_outside_the_vocabulary(bundled: Catalog) -> None:
    """A measure the catalog does not know is named, with the table."""
    table = _table()
    table.loc[0, "measure"] = "my_measure"
    with pytest.raises(InputError, match=r"results table 'r\.tsv' has measure.*'my_measure'"):
        study_from_results(table, _RUN, _FIELDS, bundled, "r.tsv")


# --- rendering lists and booleans -------------------------------------------


def test_render_lists_and_booleans() -> None:
    """Lists are arrays in JSON and '; '-joined cells in TSV and text; booleans per format."""
    frame = pd.DataFrame(
        {"id": ["a", "b"], "agents": [["x", "y"], []], "flag": [True, False], "gsr": [None, True]}
    )
    tsv = pd.read_csv(io.StringIO(render(frame, "tsv")), sep="\t", keep_default_na=False)
    assert list(tsv["agents"]) == ["x; y", ""]
    assert list(tsv["flag"]) == [True, False]
    assert list(tsv["gsr"]) == ["n/a", "true"]
    assert "x; y" in render(frame, "text")
    assert "yes" in render(frame, "text")
    assert '"agents": [\n      "x",' in render(frame, "json")
