"""The evidence catalog's schema: check a parsed catalog file and list every problem.

The checks of each row's own fields (types, vocabularies, id and DOI syntax)
are in ``_fields``; here are the top-level keys, id uniqueness, references
between tables and the claims' verdicts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from dmnpharm._utils import closest_match
from dmnpharm.catalog._build import build_study
from dmnpharm.catalog._claims import Claim, ClaimLink, derive_verdict
from dmnpharm.catalog._fields import SPECS, check_fields, table_list
from dmnpharm.catalog._imputation import IMPUTABLE_KINDS, impute_from_significance
from dmnpharm.catalog._publications import KIND_OF_METRIC, Publication
from dmnpharm.catalog._vocabulary import RELATIONS, VERDICTS, VOCABULARY

__all__ = ["validate"]

_VERSION = re.compile(r"^\d{4}\.\d+\.\d+$")

_TABLES = ("drug_classes", "agents", "populations", "studies", "baselines", "claims")


def _label(table: str, index: int, row: Any) -> str:
    ident = row.get("id") if isinstance(row, dict) else None
    return f"{table}[{index}]" + (f" (id {ident!r})" if isinstance(ident, str) else "")


def _ref(value: Any, known: Iterable[str], what: str, where: str, field: str) -> list[str]:
    """Return a problem when ``value`` (a string) is not one of the ``known`` ids."""
    if not isinstance(value, str):
        return []  # already reported as a type problem
    options = list(known)
    if value in options:
        return []
    hint = closest_match(value, options)
    suggestion = f"; did you mean {hint!r}?" if hint is not None else ""
    return [f"{where}: {field} {value!r} is not a known {what}{suggestion}"]


def _ids(rows: list[Any]) -> list[str]:
    return [r["id"] for r in rows if isinstance(r, dict) and isinstance(r.get("id"), str)]


def _duplicates(values: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    dups: list[str] = []
    for v in values:
        if v in seen and v not in dups:
            dups.append(v)
        seen.add(v)
    return dups


def validate(raw: Mapping[str, Any]) -> list[str]:
    """Return every problem of a catalog read from TOML, all at once.

    Checks unknown and missing keys, types, the controlled vocabularies
    (designs, directions, measures, modes, ...), id syntax and uniqueness,
    references between tables (agents, drug classes, populations, studies),
    DOI syntax (``^10.NNNN/suffix``) and uniqueness, and that each claim's
    stored verdict equals :func:`~dmnpharm.catalog.derive_verdict`.

    Parameters
    ----------
    raw : mapping
        The parsed TOML document.

    Returns
    -------
    list of str
        One line per problem, naming the table, row and field; empty when the
        catalog is valid.
    """
    problems = _check_top_level(raw)
    tables: dict[str, list[Any]] = {}
    for name in _TABLES:
        tables[name], found = _check_table(name, raw.get(name, []))
        problems += found
    ids = {name: _ids(rows) for name, rows in tables.items()}
    problems += _check_agents(tables["agents"], ids)
    problems += _check_studies(tables["studies"], ids)
    problems += _check_baselines(tables["baselines"], ids)
    problems += _check_claims(tables["claims"], ids, _buildable_studies(tables["studies"]))
    return problems


def _check_top_level(raw: Mapping[str, Any]) -> list[str]:
    """Return the problems of the top-level keys and of the version."""
    problems: list[str] = []
    for key in raw:
        if key != "version" and key not in _TABLES:
            problems.append(f"unknown top-level key {key!r}")
    version = raw.get("version")
    if version is None:
        problems.append("missing top-level key 'version'")
    elif not isinstance(version, str) or not _VERSION.match(version):
        problems.append(f"version {version!r} is not a calendar version like '2026.11.0'")
    return problems


def _check_table(name: str, value: Any) -> tuple[list[Any], list[str]]:
    """Return one top-level table's rows (none when it is not a list) and their problems."""
    problems: list[str] = []
    if table_list(value):
        problems.append(f"{name} must be a list of tables ([[{name}]])")
        value = []
    for index, row in enumerate(value):
        problems += check_fields(row, SPECS[name], _label(name, index, row))
    for dup in _duplicates(_ids(value)):
        problems.append(f"{name}: duplicate id {dup!r}")
    return value, problems


def _check_agents(rows: list[Any], ids: Mapping[str, list[str]]) -> list[str]:
    """Return the problems of the agents' drug classes and targets."""
    problems: list[str] = []
    for index, row in enumerate(rows):
        where = _label("agents", index, row)
        problems += _ref(
            row.get("drug_class"), ids["drug_classes"], "drug class", where, "drug_class"
        )
        for t_index, target in enumerate(_list_of_tables(row.get("targets"))):
            problems += check_fields(target, SPECS["targets"], f"{where} targets[{t_index}]")
    return problems


def _check_findings(row: Mapping[str, Any], where: str) -> list[str]:
    """Return the problems of one study's findings."""
    problems: list[str] = []
    for f_index, finding in enumerate(_list_of_tables(row.get("findings"))):
        f_where = f"{where} findings[{f_index}]"
        problems += check_fields(finding, SPECS["findings"], f_where)
        problems += [f"{f_where}: {p}" for p in _effect_problems(finding)]
    return problems


# Fields that describe a number and mean nothing without one.
_NUMBER_FIELDS = (
    "effect_n",
    "effect_group_sizes",
    "ci_low",
    "ci_high",
    "se",
    "effect_source",
    "effect_derivation",
    "effect_confidence",
)

# Kinds that a two-group design (effect_group_sizes) can go with.
_TWO_GROUP_KINDS = ("d", "hedges_g", "t")


def _number(value: Any) -> float | None:
    """Return ``value`` as a float when it is a number (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _effect_problems(finding: Mapping[str, Any]) -> list[str]:
    """Return the problems between the numeric-effect fields of one finding."""
    if "significance_p" in finding:
        return _imputation_problems(finding)
    size = _number(finding.get("effect_size"))
    if "effect_size" not in finding:
        return _no_number_problems(finding)
    problems: list[str] = []
    kind = finding.get("effect_kind")
    metric = finding.get("effect_metric")
    if kind is None and metric in (None, ""):
        problems.append("effect_size needs an effect_kind (one of EFFECT_KINDS)")
    elif (
        isinstance(kind, str)
        and isinstance(metric, str)
        and metric
        and KIND_OF_METRIC.get(metric, metric) != kind
    ):
        problems.append(f"effect_metric {metric!r} does not name effect_kind {kind!r}")
    if not isinstance(kind, str):
        kind = KIND_OF_METRIC.get(metric, metric) if isinstance(metric, str) else None
    if "effect_confidence" not in finding:
        problems.append("effect_size needs an effect_confidence (verified, derived, unverified)")
    if finding.get("effect_confidence") == "derived" and not finding.get("effect_derivation"):
        problems.append("a derived effect needs an effect_derivation saying how")
    if finding.get("direction_only") is True:
        problems.append("direction_only = true cannot go with an effect_size")
    if "direction_only_reason" in finding:
        problems.append("direction_only_reason is only for direction_only = true")
    problems += _interval_problems(finding, size, kind)
    problems += _size_problems(finding, size, kind)
    return problems


def _imputation_problems(finding: Mapping[str, Any]) -> list[str]:
    """Return the problems of a finding whose effect is imputed from ``significance_p``."""
    problems = [
        f"{field} cannot go with significance_p (the effect is imputed from it)"
        for field in ("effect_size", "effect_metric", "ci_low", "ci_high", "se", "direction_only")
        if field in finding
    ]
    if finding.get("effect_confidence", "imputed") != "imputed":
        problems.append('an effect imputed from significance_p has effect_confidence = "imputed"')
    if not finding.get("effect_source"):
        problems.append(
            "significance_p needs an effect_source naming where significance is stated"
        )
    p, kind = _number(finding.get("significance_p")), finding.get("effect_kind")
    groups = finding.get("effect_group_sizes", [])
    if p is None or kind not in IMPUTABLE_KINDS:
        problems.append(
            f"significance_p needs a number and effect_kind {' or '.join(IMPUTABLE_KINDS)}"
        )
        return problems
    try:
        impute_from_significance(
            p,
            kind,
            str(finding.get("direction")),
            finding.get("effect_n"),
            tuple(groups) if isinstance(groups, list) else (),
        )
    except (TypeError, ValueError) as err:
        problems.append(str(err))
    return problems + _size_problems(finding, None, kind)


def _no_number_problems(finding: Mapping[str, Any]) -> list[str]:
    """Return the problems of a finding without effect_size."""
    problems = [
        f"{field} is given without an effect_size" for field in _NUMBER_FIELDS if field in finding
    ]
    if finding.get("effect_kind") or finding.get("effect_metric"):
        problems.append("effect_kind (or effect_metric) is given without an effect_size")
    direction_only = finding.get("direction_only") is True
    reason = finding.get("direction_only_reason")
    if direction_only and not (isinstance(reason, str) and reason.strip()):
        problems.append("direction_only = true needs a direction_only_reason")
    if not direction_only and "direction_only_reason" in finding:
        problems.append("direction_only_reason is only for direction_only = true")
    return problems


def _interval_problems(finding: Mapping[str, Any], size: float | None, kind: Any) -> list[str]:
    """Return the problems of the CI and SE of a finding with an effect_size."""
    problems: list[str] = []
    low, high = _number(finding.get("ci_low")), _number(finding.get("ci_high"))
    if ("ci_low" in finding) != ("ci_high" in finding):
        problems.append("ci_low and ci_high must be given together")
    elif low is not None and high is not None and size is not None and not low <= size <= high:
        problems.append(f"effect_size {size:g} lies outside its CI [{low:g}, {high:g}]")
    if kind in ("t", "z") and ("ci_low" in finding or "se" in finding):
        problems.append(f"a {kind} statistic has no CI or SE of its own; give them for an effect")
    return problems


def _size_problems(finding: Mapping[str, Any], size: float | None, kind: Any) -> list[str]:
    """Return the problems of the value, n and group sizes of a finding."""
    problems: list[str] = []
    if kind == "r" and size is not None and not -1.0 < size < 1.0:
        problems.append(f"a correlation must lie between -1 and 1, got {size:g}")
    groups = finding.get("effect_group_sizes")
    if isinstance(groups, list) and kind not in (None, *_TWO_GROUP_KINDS):
        problems.append(f"effect_group_sizes do not apply to an effect of kind {kind!r}")
    n = finding.get("effect_n")
    if (
        isinstance(groups, list)
        and all(isinstance(g, int) for g in groups)
        and isinstance(n, int)
        and sum(groups) != n
    ):
        problems.append(f"effect_group_sizes {groups} do not add up to effect_n {n}")
    return problems


def _either(row: Mapping[str, Any], field: str, reason: str, where: str) -> list[str]:
    """Return a problem unless the study has exactly one of ``field`` and ``reason``."""
    text = row.get(reason)
    if field in row and reason in row:
        return [f"{where}: give either {field} or {reason}, not both"]
    if field not in row and not (isinstance(text, str) and text.strip()):
        return [f"{where}: missing field {field!r} (or a {reason!r} saying why there is none)"]
    return []


def _check_studies(rows: list[Any], ids: Mapping[str, list[str]]) -> list[str]:
    """Return the problems of the studies' references, findings and DOIs."""
    problems: list[str] = []
    dois: list[str] = []
    for index, row in enumerate(rows):
        where = _label("studies", index, row)
        problems += _ref(
            row.get("drug_class"), ids["drug_classes"], "drug class", where, "drug_class"
        )
        problems += _ref(
            row.get("population"), ids["populations"], "population", where, "population"
        )
        for agent in _list_of_str(row.get("agents")):
            problems += _ref(agent, ids["agents"], "agent", where, "agents")
        problems += _check_findings(row, where)
        problems += _either(row, "doi", "doi_reason", where)
        problems += _either(row, "year", "year_reason", where)
        if isinstance(row.get("doi"), str):
            dois.append(row["doi"].lower())
    for dup in _duplicates(dois):
        problems.append(f"studies: DOI {dup!r} is used by more than one study")
    return problems


def _check_baselines(rows: list[Any], ids: Mapping[str, list[str]]) -> list[str]:
    """Return the problems of the baselines' populations and studies."""
    problems: list[str] = []
    for index, row in enumerate(rows):
        where = _label("baselines", index, row)
        problems += _ref(
            row.get("population"), ids["populations"], "population", where, "population"
        )
        for study in _list_of_str(row.get("studies")):
            problems += _ref(study, ids["studies"], "study", where, "studies")
    return problems


def _check_claims(
    rows: list[Any], ids: Mapping[str, list[str]], built: Mapping[str, Publication]
) -> list[str]:
    """Return the problems of the claims' references, links and verdicts."""
    problems: list[str] = []
    for index, row in enumerate(rows):
        where = _label("claims", index, row)
        problems += _ref(
            row.get("drug_class"), ids["drug_classes"], "drug class", where, "drug_class"
        )
        problems += _ref(
            row.get("population"), ids["populations"], "population", where, "population"
        )
        for measure in _list_of_str(row.get("measures")):
            problems += _ref(measure, VOCABULARY, "measure", where, "measures")
        links = _list_of_tables(row.get("links"))
        linked: list[str] = []
        for l_index, link in enumerate(links):
            l_where = f"{where} links[{l_index}]"
            problems += check_fields(link, SPECS["links"], l_where)
            problems += _ref(link.get("study"), ids["studies"], "study", l_where, "study")
            if isinstance(link.get("study"), str):
                linked.append(link["study"])
        for dup in _duplicates(linked):
            problems.append(f"{where}: study {dup!r} is linked more than once")
        problems += _check_verdict(row, links, built, where)
    return problems


def _list_of_tables(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _list_of_str(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _buildable_studies(rows: list[Any]) -> dict[str, Publication]:
    """Return the studies whose rows are valid enough to judge a verdict."""
    out: dict[str, Publication] = {}
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            continue
        fields = check_fields(row, SPECS["studies"], _label("studies", index, row))
        if fields:
            continue
        try:
            out[row["id"]] = build_study(row)
        except (KeyError, TypeError, ValueError):  # too broken to build: reported elsewhere
            continue
    return out


def _check_verdict(
    row: Mapping[str, Any],
    links: list[dict[str, Any]],
    studies: Mapping[str, Publication],
    where: str,
) -> list[str]:
    verdict = row.get("verdict")
    if verdict not in VERDICTS:
        return []
    if not all(
        link.get("study") in studies and link.get("relation") in RELATIONS for link in links
    ):
        return []  # the broken links are reported on their own
    claim = Claim(
        id=str(row.get("id", "")),
        drug_class="",
        population="",
        statement="",
        measures=(),
        expected_direction="",
        links=tuple(ClaimLink(link["study"], link["relation"]) for link in links),
        verdict=str(verdict),
        rationale="",
    )
    derived = derive_verdict(claim, studies)
    if derived != verdict:
        return [
            f"{where}: verdict {verdict!r} does not follow from its links; derived {derived!r}"
        ]
    return []
