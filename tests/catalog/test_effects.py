"""Numeric effects of findings: the schema, the conversions and the shipped numbers."""

from __future__ import annotations

import math
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from dmnpharm.catalog import Catalog, Finding, load_catalog, validate
from dmnpharm.exceptions import InputError

#: A one-study catalog; each test removes or changes one line of it.
_STUDY_LINES = {
    "id": 'id = "smith2020"',
    "first_author": 'first_author = "Smith"',
    "year": "year = 2020",
    "journal": 'journal = "J Test 1:1"',
    "doi": 'doi = "10.1234/test.1"',
    "agents": "agents = []",
    "drug_class": 'drug_class = "none"',
    "dose": 'dose = ""',
    "design": 'design = "crossover"',
    "population": 'population = "healthy"',
    "n": 'n = "20 HC"',
    "modality": 'modality = "rest"',
    "confirmation": 'confirmation = "confirmed"',
    "note": 'note = ""',
}
_FINDING = {
    "measure": 'measure = "dmn_within_fc"',
    "direction": 'direction = "decrease"',
    "effect": 'effect = "t(19) = -3.1"',
    "effect_size": "effect_size = -3.1",
    "effect_kind": 'effect_kind = "t"',
    "effect_n": "effect_n = 20",
    "effect_source": 'effect_source = "Table 2, p. 4"',
    "effect_confidence": 'effect_confidence = "verified"',
}
_HEADER = """version = "2026.12.0"
[[drug_classes]]
id = "none"
name = "No drug"
description = "x"
[[populations]]
id = "healthy"
name = "Healthy"
description = "x"
"""


def _catalog_text(
    drop: str = "", drop_finding: str = "", extra: str = "", extra_finding: str = ""
) -> str:
    """Return the one-study catalog without one study or finding key, with extra lines."""
    lines = [line for key, line in _STUDY_LINES.items() if key != drop]
    parts = [line for key, line in _FINDING.items() if key != drop_finding]
    if extra_finding:
        parts.append(extra_finding)
    finding = "{ " + ", ".join(parts) + " }"
    return _HEADER + "[[studies]]\n" + "\n".join([*lines, extra, f"findings = [{finding}]"])


def _problems(text: str) -> list[str]:
    return validate(tomllib.loads(text))


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "catalog.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_minimal_catalog_is_valid(tmp_path: Path) -> None:
    """The template used below loads, and its finding carries the new fields."""
    finding = load_catalog(_write(tmp_path, _catalog_text())).study("smith2020").findings[0]
    assert (finding.effect_kind, finding.effect_metric, finding.effect_n) == ("t", "t", 20)
    assert finding.effect_source == "Table 2, p. 4"
    assert not finding.direction_only


@pytest.mark.parametrize(
    "field", ["first_author", "year", "design", "population", "modality", "journal"]
)
def test_missing_study_field_names_study_and_field(tmp_path: Path, field: str) -> None:
    """A study without a required field fails to load, naming the study and the field."""
    with pytest.raises(InputError) as info:
        load_catalog(_write(tmp_path, _catalog_text(drop=field)))
    message = str(info.value)
    assert "studies[0] (id 'smith2020')" in message
    assert f"missing field {field!r}" in message


def test_missing_study_id_names_the_row(tmp_path: Path) -> None:
    """Without an id the study is named by its position."""
    with pytest.raises(InputError, match=r"studies\[0\]: missing field 'id'"):
        load_catalog(_write(tmp_path, _catalog_text(drop="id")))


@pytest.mark.parametrize("field", ["measure", "direction", "effect"])
def test_missing_finding_field_names_study_finding_and_field(tmp_path: Path, field: str) -> None:
    """A finding without a required field is reported with its study and index."""
    with pytest.raises(InputError) as info:
        load_catalog(_write(tmp_path, _catalog_text(drop_finding=field)))
    assert f"(id 'smith2020') findings[0]: missing field {field!r}" in str(info.value)


def test_doi_or_doi_reason_is_required(tmp_path: Path) -> None:
    """A study needs a DOI or a reason why there is none, not both."""
    with pytest.raises(InputError, match="missing field 'doi' \\(or a 'doi_reason'"):
        load_catalog(_write(tmp_path, _catalog_text(drop="doi")))
    reason = 'doi_reason = "conference abstract"'
    assert _problems(_catalog_text(drop="doi", extra=reason)) == []
    assert any("not both" in p for p in _problems(_catalog_text(extra=reason)))
    blank = _problems(_catalog_text(drop="doi", extra='doi_reason = " "'))
    assert any("missing field 'doi'" in p for p in blank)


def test_year_or_year_reason_is_required() -> None:
    """A study without a year must say why."""
    reason = 'year_reason = "year not seen"'
    assert _problems(_catalog_text(drop="year", extra=reason)) == []


@pytest.mark.parametrize(
    ("drop", "extra", "message"),
    [
        ("effect_kind", "", "effect_size needs an effect_kind"),
        ("effect_confidence", "", "needs an effect_confidence"),
        ("", 'effect_metric = "g"', "effect_metric 'g' does not name effect_kind 't'"),
        ("", "ci_low = -4.0", "ci_low and ci_high must be given together"),
        ("", "se = 0.3", "a t statistic has no CI or SE"),
        ("", "effect_group_sizes = [12, 9]", "do not add up to effect_n 20"),
        ("", "direction_only = true", "cannot go with an effect_size"),
        ("", 'direction_only_reason = "none"', "only for direction_only = true"),
        ("effect_kind", 'effect_kind = "tt"', "did you mean 't'?"),
        ("effect_n", "effect_n = 1", "effect_n must be at least 2"),
    ],
)
def test_effect_field_problems(drop: str, extra: str, message: str) -> None:
    """Inconsistent numeric-effect fields are reported with the finding's place."""
    problems = _problems(_catalog_text(drop_finding=drop, extra_finding=extra))
    matching = [p for p in problems if message in p]
    assert matching, problems
    assert all("(id 'smith2020') findings[0]" in p for p in matching)


def test_effect_consistency_problems() -> None:
    """CI outside the value, r beyond 1, derived without derivation, orphan fields."""
    d_z = 'effect_kind = "d_z"'
    outside = _problems(
        _catalog_text(
            drop_finding="effect_kind", extra_finding=f"{d_z}, ci_low = 0.1, ci_high = 0.9"
        )
    )
    assert any("lies outside its CI" in p for p in outside)
    r = _problems(_catalog_text(drop_finding="effect_kind", extra_finding='effect_kind = "r"'))
    assert any("between -1 and 1" in p for p in r)
    derived = _catalog_text(
        drop_finding="effect_confidence", extra_finding='effect_confidence = "derived"'
    )
    assert any("needs an effect_derivation" in p for p in _problems(derived))
    bare = "direction_only = true"
    only = _catalog_text(drop_finding="effect_size", extra_finding=bare)
    assert any("given without an effect_size" in p for p in _problems(only))
    words = ", ".join([*(_FINDING[k] for k in ("measure", "direction", "effect")), bare])
    no_reason = _HEADER + "[[studies]]\n" + "\n".join(_STUDY_LINES.values())
    no_reason += f"\nfindings = [{{ {words} }}]"
    assert any("needs a direction_only_reason" in p for p in _problems(no_reason))
    with_reason = no_reason.replace(bare, f'{bare}, direction_only_reason = "maps only"')
    assert _problems(with_reason) == []


def test_legacy_effect_metric_is_read() -> None:
    """Catalogs of 2026.11 give effect_metric only; it stands for the kind."""
    text = _catalog_text(drop_finding="effect_kind", extra_finding='effect_metric = "t"')
    assert _problems(text) == []


def test_finding_fills_kind_and_metric_from_each_other() -> None:
    """Positional construction of earlier versions still works and gets a kind."""
    old = Finding("dmn_within_fc", "decrease", "t = -3.1", -0.66, "dz")
    assert (old.effect_kind, old.effect_metric) == ("d_z", "dz")
    new = Finding("dmn_within_fc", "decrease", "", 0.4, "", effect_kind="hedges_g")
    assert new.effect_metric == "g"
    change = Finding("dmn_within_fc", "decrease", "", 12.0, "", effect_kind="percent_change")
    assert change.effect_metric == "percent_change"
    none = Finding("dmn_within_fc", "decrease", "", None, "")
    assert (none.effect_kind, none.effect_metric, none.standardized()) == ("", "", None)
    with pytest.raises(InputError, match="does not name"):
        Finding("dmn_within_fc", "decrease", "", 0.4, "g", effect_kind="d_z")


# Expected values below were computed by hand (calculator), not with the code under test.
def test_paired_t_gives_dz_and_its_se() -> None:
    """d_z = t / sqrt(n); SE = sqrt(1/n + d_z^2 / (2n)) (Lakens 2013; Borenstein 2009)."""
    finding = Finding("dmn_within_fc", "increase", "", 3.1, "", effect_kind="t", effect_n=20)
    out = finding.standardized()
    assert out is not None
    assert out.kind == "d_z"
    assert out.value == pytest.approx(0.693181, abs=1e-6)
    assert out.se == pytest.approx(0.249023, abs=1e-6)


def test_two_sample_t_and_d_give_hedges_g() -> None:
    """t(25) = 2.5 with 12 and 15: d = 0.968246, J = 0.969697, g = 0.938905, SE 0.396701."""
    kw: dict[str, Any] = {"effect_n": 27, "effect_group_sizes": (12, 15)}
    from_t = Finding("dmn_within_fc", "increase", "", 2.5, "", effect_kind="t", **kw)
    from_d = Finding("dmn_within_fc", "increase", "", 0.968246, "", effect_kind="d", **kw)
    from_g = Finding("dmn_within_fc", "increase", "", 0.938905, "", effect_kind="hedges_g", **kw)
    for finding in (from_t, from_d, from_g):
        out = finding.standardized()
        assert out is not None
        assert out.kind == "hedges_g"
        assert out.value == pytest.approx(0.938905, abs=1e-5)
        assert out.se == pytest.approx(0.396701, abs=1e-5)


def test_correlation_gives_fisher_z() -> None:
    """Fisher z = atanh(r), SE = 1 / sqrt(n - 3); with a CI the SE comes from the CI."""
    plain = Finding("dmn_within_fc", "increase", "", 0.45, "", effect_kind="r", effect_n=28)
    out = plain.standardized()
    assert out is not None
    assert (out.kind, out.value, out.se) == ("fisher_z", pytest.approx(0.484700, abs=1e-6), 0.2)
    with_ci = Finding(
        "dmn_within_fc", "increase", "", 0.5, "", effect_kind="r", ci_low=0.2, ci_high=0.72
    )
    out = with_ci.standardized()
    assert out is not None
    assert out.se == pytest.approx(0.179828, abs=1e-6)


def test_stored_se_and_ci_come_first() -> None:
    """A reported SE wins over a CI, which wins over the formula."""
    base: dict[str, Any] = {"effect_kind": "d_z", "effect_n": 20}
    ci = Finding("m", "increase", "", 0.5, "", ci_low=0.1, ci_high=0.9, **base)
    se = Finding("m", "increase", "", 0.5, "", ci_low=0.1, ci_high=0.9, se=0.3, **base)
    assert ci.standardized() == (0.5, pytest.approx(0.204085, abs=1e-6), "d_z")
    assert se.standardized() == (0.5, 0.3, "d_z")
    unknown = Finding("m", "increase", "", 0.5, "", effect_kind="d")
    assert unknown.standardized() == (0.5, None, "d")


@pytest.mark.parametrize(
    ("kind", "n"), [("percent_change", 20), ("mean_difference", 20), ("z", 20), ("t", None)]
)
def test_unstandardizable_effects_give_none(kind: str, n: int | None) -> None:
    """Raw changes, z statistics and a t without n are not put on a common scale."""
    assert (
        Finding("m", "increase", "", 2.0, "", effect_kind=kind, effect_n=n).standardized() is None
    )


# --- the shipped catalog ---------------------------------------------------------------

_INTERNAL = re.compile(r"\bRows? \d|evidence\.md|DESIGN\.md|\bTODO\b|\bFIXME\b|\bXXX\b|excerpt")
_PLACEBO_DESIGNS = ("crossover", "parallel", "placebo-controlled")


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    """Return the shipped catalog."""
    return load_catalog()


def test_shipped_catalog_loads(catalog: Catalog) -> None:
    """The bundled file passes the schema and has the new version."""
    assert catalog.version == "2026.12.1"
    assert len(catalog.studies) == 95


def test_no_note_is_internal_bookkeeping(catalog: Catalog) -> None:
    """Notes are written for users: no table rows, file names or to-do marks."""
    texts = [("study", s.id, s.note) for s in catalog.studies]
    texts += [("baseline", b.id, b.note) for b in catalog.baselines]
    texts += [("drug class", c.id, c.description) for c in catalog.drug_classes]
    texts += [("claim", c.id, c.rationale) for c in catalog.claims]
    bad = [f"{kind} {ident}: {text}" for kind, ident, text in texts if _INTERNAL.search(text)]
    assert not bad, "\n".join(bad)


def test_every_study_has_doi_or_reason_and_year_or_reason(catalog: Catalog) -> None:
    """A missing DOI or year is explained."""
    for study in catalog.studies:
        assert (study.doi is None) == bool(study.doi_reason.strip()), study.id
        assert (study.year is None) == bool(study.year_reason.strip()), study.id


def test_placebo_controlled_rest_findings_have_a_number_or_a_reason(catalog: Catalog) -> None:
    """Each such finding has a sourced number with its uncertainty, or says why not."""
    checked = 0
    for study in catalog.studies:
        if study.design not in _PLACEBO_DESIGNS or not study.is_resting_state:
            continue
        for index, f in enumerate(study.findings):
            where = f"{study.id} findings[{index}]"
            checked += 1
            if f.direction_only:
                assert f.effect_size is None, where
                assert f.direction_only_reason.strip(), where
                continue
            assert f.effect_size is not None, where
            assert f.effect_source, where
            assert f.effect_confidence, where
            has_interval = f.se is not None or (f.ci_low is not None and f.ci_high is not None)
            standard = f.standardized()
            assert has_interval or (standard is not None and standard.se is not None), where
            if f.effect_kind in ("d_z", "hedges_g", "d", "r", "t"):
                assert f.effect_n is not None, where
    assert checked >= 60


def test_shipped_numbers_are_sourced(catalog: Catalog) -> None:
    """Every number has a kind and a confidence; derived ones say how."""
    numbers = [f for s in catalog.studies for f in s.findings if f.effect_size is not None]
    assert len(numbers) >= 11
    for f in numbers:
        assert f.effect_kind
        assert f.effect_confidence
        if f.effect_confidence == "derived":
            assert f.effect_derivation
    adhikari = catalog.study("pmc7267897").findings[2]
    assert (adhikari.effect_size, adhikari.se, adhikari.effect_n) == (0.63, 0.26, 30)
    core = catalog.study("pmc7856327").findings[0].standardized()
    assert core is not None
    assert core.kind == "hedges_g"
    assert core.se == pytest.approx((-0.074 + 0.417) / (2 * 1.959964), rel=1e-5)
    assert math.isfinite(core.value)
