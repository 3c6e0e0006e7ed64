"""Read the evidence catalog's TOML file and check it against the schema."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from importlib.resources import files
from pathlib import Path
from typing import Any

from dmnpharm._utils import closest_match
from dmnpharm.catalog._model import (
    Agent,
    Baseline,
    Catalog,
    Claim,
    ClaimLink,
    DrugClass,
    Finding,
    Population,
    Publication,
    Target,
    derive_verdict,
)
from dmnpharm.catalog._vocabulary import (
    CONFIRMATION,
    DESIGNS,
    DIRECTIONS,
    EFFECT_METRICS,
    MODALITIES,
    MODES,
    RELATIONS,
    VERDICTS,
    VOCABULARY,
)
from dmnpharm.exceptions import InputError

__all__ = ["DOI_PATTERN", "default_catalog_path", "load_catalog", "validate"]

#: A DOI as the catalog stores it: prefix ``10.NNNN`` and a suffix without spaces.
DOI_PATTERN = re.compile(r"^10\.\d{4,9}/\S+$")

_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_STUDY_ID = re.compile(r"^[a-z][a-z0-9]*$")
_VERSION = re.compile(r"^\d{4}\.\d+\.\d+$")

_TABLES = ("drug_classes", "agents", "populations", "studies", "baselines", "claims")

# A field check gets the value and returns a problem ("" when fine).
_Check = Callable[[Any], str]


def _str(value: Any) -> str:
    return "" if isinstance(value, str) else f"must be a string, got {type(value).__name__}"


def _int(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int):
        return f"must be an integer, got {type(value).__name__}"
    return "" if 1900 <= value <= 2100 else f"{value} is not a plausible year"


def _bool(value: Any) -> str:
    return "" if isinstance(value, bool) else f"must be true or false, got {value!r}"


def _number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"must be a number, got {value!r}"
    return ""


def _str_list(value: Any) -> str:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return "must be a list of strings"
    return ""


def _table_list(value: Any) -> str:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        return "must be a list of tables"
    return ""


def _enum(allowed: Iterable[str]) -> _Check:
    options = tuple(allowed)

    def check(value: Any) -> str:
        if not isinstance(value, str):
            return f"must be a string, got {type(value).__name__}"
        if value in options:
            return ""
        hint = closest_match(value, options)
        suggestion = f"; did you mean {hint!r}?" if hint is not None else ""
        return f"{value!r} is not one of {', '.join(map(repr, options))}{suggestion}"

    return check


def _pattern(regex: re.Pattern[str], what: str) -> _Check:
    def check(value: Any) -> str:
        if not isinstance(value, str):
            return f"must be a string, got {type(value).__name__}"
        return "" if regex.match(value) else f"{value!r} is not {what}"

    return check


# Per table: field -> (required, check).
_Spec = dict[str, tuple[bool, _Check]]

_ID_CHECK = _pattern(_ID, "a lowercase id (letters, digits, _)")

_SPECS: dict[str, _Spec] = {
    "drug_classes": {"id": (True, _ID_CHECK), "name": (True, _str), "description": (True, _str)},
    "populations": {"id": (True, _ID_CHECK), "name": (True, _str), "description": (True, _str)},
    "agents": {
        "id": (True, _ID_CHECK),
        "name": (True, _str),
        "drug_class": (True, _str),
        "targets": (True, _table_list),
    },
    "targets": {"target": (True, _str), "mode": (True, _enum(MODES))},
    "studies": {
        "id": (True, _pattern(_STUDY_ID, "a lowercase id of letters and digits")),
        "first_author": (True, _str),
        "year": (False, _int),
        "journal": (True, _str),
        "doi": (False, _pattern(DOI_PATTERN, "a DOI (10.NNNN/suffix)")),
        "agents": (True, _str_list),
        "drug_class": (True, _str),
        "dose": (True, _str),
        "design": (True, _enum(DESIGNS)),
        "population": (True, _str),
        "n": (True, _str),
        "modality": (True, _enum(MODALITIES)),
        "findings": (True, _table_list),
        "gsr": (False, _bool),
        "confirmation": (True, _enum(CONFIRMATION)),
        "note": (True, _str),
    },
    "findings": {
        "measure": (True, _enum(VOCABULARY)),
        "direction": (True, _enum(DIRECTIONS)),
        "effect": (True, _str),
        "effect_size": (False, _number),
        "effect_metric": (True, _enum(EFFECT_METRICS)),
    },
    "baselines": {
        "id": (True, _ID_CHECK),
        "population": (True, _str),
        "measure": (True, _enum(VOCABULARY)),
        "direction": (True, _enum(DIRECTIONS)),
        "studies": (True, _str_list),
        "note": (True, _str),
    },
    "claims": {
        "id": (True, _ID_CHECK),
        "drug_class": (True, _str),
        "population": (True, _str),
        "statement": (True, _str),
        "measures": (True, _str_list),
        "expected_direction": (True, _enum(DIRECTIONS)),
        "links": (True, _table_list),
        "verdict": (True, _enum(VERDICTS)),
        "rationale": (True, _str),
    },
    "links": {"study": (True, _str), "relation": (True, _enum(RELATIONS))},
}


def _check_fields(row: Mapping[str, Any], spec: _Spec, where: str) -> list[str]:
    """Return the problems of one table row: unknown keys, missing or bad fields."""
    problems = []
    for key in row:
        if key not in spec:
            hint = closest_match(key, spec)
            suggestion = f"; did you mean {hint!r}?" if hint is not None else ""
            problems.append(f"{where}: unknown key {key!r}{suggestion}")
    for key, (required, check) in spec.items():
        if key not in row:
            if required:
                problems.append(f"{where}: missing field {key!r}")
            continue
        message = check(row[key])
        if message:
            problems.append(f"{where}: {key} {message}")
    return problems


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
    problems: list[str] = []
    for key in raw:
        if key != "version" and key not in _TABLES:
            problems.append(f"unknown top-level key {key!r}")
    version = raw.get("version")
    if version is None:
        problems.append("missing top-level key 'version'")
    elif not isinstance(version, str) or not _VERSION.match(version):
        problems.append(f"version {version!r} is not a calendar version like '2026.11.0'")

    tables: dict[str, list[Any]] = {}
    for name in _TABLES:
        value = raw.get(name, [])
        if _table_list(value):
            problems.append(f"{name} must be a list of tables ([[{name}]])")
            value = []
        tables[name] = value
        for index, row in enumerate(value):
            problems += _check_fields(row, _SPECS[name], _label(name, index, row))
        for dup in _duplicates(_ids(value)):
            problems.append(f"{name}: duplicate id {dup!r}")

    classes = _ids(tables["drug_classes"])
    populations = _ids(tables["populations"])
    agents = _ids(tables["agents"])
    studies = _ids(tables["studies"])

    for index, row in enumerate(tables["agents"]):
        where = _label("agents", index, row)
        problems += _ref(row.get("drug_class"), classes, "drug class", where, "drug_class")
        for t_index, target in enumerate(_list_of_tables(row.get("targets"))):
            problems += _check_fields(target, _SPECS["targets"], f"{where} targets[{t_index}]")

    dois: list[str] = []
    for index, row in enumerate(tables["studies"]):
        where = _label("studies", index, row)
        problems += _ref(row.get("drug_class"), classes, "drug class", where, "drug_class")
        problems += _ref(row.get("population"), populations, "population", where, "population")
        for agent in _list_of_str(row.get("agents")):
            problems += _ref(agent, agents, "agent", where, "agents")
        for f_index, finding in enumerate(_list_of_tables(row.get("findings"))):
            f_where = f"{where} findings[{f_index}]"
            problems += _check_fields(finding, _SPECS["findings"], f_where)
            has_size = finding.get("effect_size") is not None
            has_metric = finding.get("effect_metric", "") != ""
            if has_size != has_metric:
                problems.append(f"{f_where}: effect_size and effect_metric must be given together")
        if isinstance(row.get("doi"), str):
            dois.append(row["doi"].lower())
    for dup in _duplicates(dois):
        problems.append(f"studies: DOI {dup!r} is used by more than one study")

    for index, row in enumerate(tables["baselines"]):
        where = _label("baselines", index, row)
        problems += _ref(row.get("population"), populations, "population", where, "population")
        for study in _list_of_str(row.get("studies")):
            problems += _ref(study, studies, "study", where, "studies")

    built = _buildable_studies(tables["studies"])
    for index, row in enumerate(tables["claims"]):
        where = _label("claims", index, row)
        problems += _ref(row.get("drug_class"), classes, "drug class", where, "drug_class")
        problems += _ref(row.get("population"), populations, "population", where, "population")
        for measure in _list_of_str(row.get("measures")):
            problems += _ref(measure, VOCABULARY, "measure", where, "measures")
        links = _list_of_tables(row.get("links"))
        linked: list[str] = []
        for l_index, link in enumerate(links):
            l_where = f"{where} links[{l_index}]"
            problems += _check_fields(link, _SPECS["links"], l_where)
            problems += _ref(link.get("study"), studies, "study", l_where, "study")
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
        fields = _check_fields(row, _SPECS["studies"], _label("studies", index, row))
        if fields:
            continue
        try:
            out[row["id"]] = _study(row)
        except (KeyError, TypeError):  # a finding too broken to build: reported elsewhere
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


def _finding(row: Mapping[str, Any]) -> Finding:
    size = row.get("effect_size")
    return Finding(
        measure=row["measure"],
        direction=row["direction"],
        effect=row["effect"],
        effect_size=None if size is None else float(size),
        effect_metric=row["effect_metric"],
    )


def _study(row: Mapping[str, Any]) -> Publication:
    return Publication(
        id=row["id"],
        first_author=row["first_author"],
        year=row.get("year"),
        journal=row["journal"],
        doi=row.get("doi"),
        agents=tuple(row["agents"]),
        drug_class=row["drug_class"],
        dose=row["dose"],
        design=row["design"],
        population=row["population"],
        n=row["n"],
        modality=row["modality"],
        findings=tuple(_finding(f) for f in row["findings"]),
        gsr=row.get("gsr"),
        confirmation=row["confirmation"],
        note=row["note"],
    )


def _build(raw: Mapping[str, Any]) -> Catalog:
    """Turn a validated TOML document into a :class:`Catalog`."""
    return Catalog(
        version=raw["version"],
        drug_classes=tuple(
            DrugClass(r["id"], r["name"], r["description"]) for r in raw.get("drug_classes", [])
        ),
        agents=tuple(
            Agent(
                r["id"],
                r["name"],
                r["drug_class"],
                tuple(Target(t["target"], t["mode"]) for t in r["targets"]),
            )
            for r in raw.get("agents", [])
        ),
        populations=tuple(
            Population(r["id"], r["name"], r["description"]) for r in raw.get("populations", [])
        ),
        studies=tuple(_study(r) for r in raw.get("studies", [])),
        baselines=tuple(
            Baseline(
                r["id"],
                r["population"],
                r["measure"],
                r["direction"],
                tuple(r["studies"]),
                r["note"],
            )
            for r in raw.get("baselines", [])
        ),
        claims=tuple(
            Claim(
                id=r["id"],
                drug_class=r["drug_class"],
                population=r["population"],
                statement=r["statement"],
                measures=tuple(r["measures"]),
                expected_direction=r["expected_direction"],
                links=tuple(ClaimLink(x["study"], x["relation"]) for x in r["links"]),
                verdict=r["verdict"],
                rationale=r["rationale"],
            )
            for r in raw.get("claims", [])
        ),
    )


def default_catalog_path() -> Path:
    """Return the path of the evidence catalog shipped with dmnpharm.

    Returns
    -------
    pathlib.Path
        ``dmnpharm/catalog/data/evidence.toml`` inside the installed package.
    """
    return Path(str(files("dmnpharm.catalog") / "data" / "evidence.toml"))


def load_catalog(path: str | Path | None = None) -> Catalog:
    """Read and validate an evidence catalog.

    Parameters
    ----------
    path : str, pathlib.Path or None
        A TOML file in the catalog schema; None reads the catalog shipped
        with dmnpharm.

    Returns
    -------
    Catalog
        The validated catalog.

    Raises
    ------
    InputError
        When the file cannot be read or parsed, or has schema problems (all
        of them are listed).
    """
    if path is None:
        source = files("dmnpharm.catalog") / "data" / "evidence.toml"
        name = "the shipped evidence catalog"
        try:
            text = source.read_text(encoding="utf-8")
        except OSError as err:  # pragma: no cover - a broken installation
            raise InputError(f"cannot read {name}: {err}") from err
    else:
        file = Path(path)
        name = str(file)
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as err:
            raise InputError(f"cannot read evidence catalog {name!r}: {err}") from err
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"evidence catalog {name!r} is not valid TOML: {err}") from err
    problems = validate(raw)
    if problems:
        lines = "\n".join(f"  - {p}" for p in problems)
        plural = "s" if len(problems) != 1 else ""
        raise InputError(
            f"evidence catalog {name!r} has {len(problems)} problem{plural}:\n{lines}"
        )
    return _build(raw)
