"""The local evidence catalog: a lab's own studies, kept beside the bundled catalog.

A local catalog is a TOML file of ``[[studies]]`` tables in the schema of the
bundled ``evidence.toml`` (nothing else: agents, drug classes, populations
and the measure vocabulary are the bundled catalog's). It lives at
``$DMNPHARM_CATALOG`` or ``~/.dmnpharm/catalog.toml``
(:func:`local_catalog_path`). :func:`add_studies` validates new studies with
the catalog's own schema (:func:`~dmnpharm.catalog.validate`, on the new
studies beside the bundled vocabularies) and appends them;
:func:`read_local_studies` reads the file back, validated the same way, and
:func:`merge_local` puts its studies after the bundled ones. Making a study
from a results table is the work of ``_local_results``.
"""

from __future__ import annotations

import os
import tempfile
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from dmnpharm.catalog._build import build_study
from dmnpharm.catalog._model import Catalog
from dmnpharm.catalog._publications import Publication
from dmnpharm.catalog._schema import validate
from dmnpharm.catalog._template import studies_toml
from dmnpharm.exceptions import InputError

__all__ = [
    "LOCAL_CATALOG_ENV",
    "add_studies",
    "local_catalog_path",
    "merge_local",
    "read_local_studies",
    "read_study_file",
]

#: Environment variable naming the local catalog file.
LOCAL_CATALOG_ENV = "DMNPHARM_CATALOG"

_HEADER = """\
# dmnpharm local evidence catalog: this lab's own studies, in the schema of the
# bundled catalog's [[studies]] tables. Every 'dmnpharm catalog' command and
# 'dmnpharm compare' merge them with the bundled catalog (source = "local").
# Add studies with 'dmnpharm catalog add FILE.toml' or 'dmnpharm catalog add-result'.
"""


def local_catalog_path() -> Path:
    """Return where the local catalog is: ``$DMNPHARM_CATALOG`` or ``~/.dmnpharm/catalog.toml``.

    Returns
    -------
    pathlib.Path
        The file named by the environment variable :data:`LOCAL_CATALOG_ENV` when it is
        set and not empty (``~`` expanded), else ``catalog.toml`` in the
        ``.dmnpharm`` folder of the home directory. The file need not exist.
    """
    value = os.environ.get(LOCAL_CATALOG_ENV, "").strip()
    if value:
        return Path(value).expanduser()
    return Path.home() / ".dmnpharm" / "catalog.toml"


def _parse(path: Path, what: str) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise InputError(f"cannot read {what} '{path}': {err}") from err
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"{what} '{path}' is not valid TOML: {err}") from err


def _study_rows(raw: Mapping[str, Any], origin: str) -> list[dict[str, Any]]:
    """Return the ``[[studies]]`` tables of a parsed file that may hold nothing else."""
    others = [key for key in raw if key != "studies"]
    if others:
        raise InputError(
            f"{origin}: unknown top-level key(s) {', '.join(map(repr, others))}; a local "
            "catalog holds [[studies]] tables only (agents, drug classes, populations and "
            "measures are the bundled catalog's: see 'dmnpharm catalog template')"
        )
    rows = raw.get("studies", [])
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise InputError(f"{origin}: 'studies' must be a list of tables ([[studies]])")
    return rows


def read_study_file(path: str | Path) -> list[dict[str, Any]]:
    """Read the ``[[studies]]`` tables of a TOML file, not yet validated.

    Parameters
    ----------
    path : str or pathlib.Path
        A TOML file of one or more ``[[studies]]`` tables (with their
        findings), as ``dmnpharm catalog template`` shows them.

    Returns
    -------
    list of dict
        One dictionary per study, as :mod:`tomllib` reads it.

    Raises
    ------
    InputError
        If the file cannot be read or parsed, holds other top-level keys, or
        no study.
    """
    file = Path(path)
    rows = _study_rows(_parse(file, "study file"), f"study file '{file}'")
    if not rows:
        raise InputError(f"study file '{file}' has no [[studies]] table")
    return rows


def _vocabularies(catalog: Catalog) -> dict[str, Any]:
    """Return the catalog's version, drug classes, agents and populations as TOML rows."""
    return {
        "version": catalog.version,
        "drug_classes": [
            {"id": c.id, "name": c.name, "description": c.description}
            for c in catalog.drug_classes
        ],
        "agents": [
            {
                "id": a.id,
                "name": a.name,
                "drug_class": a.drug_class,
                "targets": [{"target": t.target, "mode": t.mode} for t in a.targets],
            }
            for a in catalog.agents
        ],
        "populations": [
            {"id": p.id, "name": p.name, "description": p.description} for p in catalog.populations
        ],
    }


def _clashes(rows: Sequence[Mapping[str, Any]], catalog: Catalog) -> list[str]:
    """Return the problems of study ids and DOIs that the catalog already has."""
    ids = {s.id for s in catalog.studies}
    dois = {s.doi.lower(): s.id for s in catalog.studies if s.doi}
    problems = []
    for index, row in enumerate(rows):
        ident, doi = row.get("id"), row.get("doi")
        where = f"studies[{index}] (id {ident!r})"
        if ident in ids:
            problems.append(
                f"{where}: id {ident!r} is already in the evidence catalog (bundled or "
                f"local: 'dmnpharm catalog show {ident}'); give this study another id"
            )
        if isinstance(doi, str) and doi.lower() in dois:
            problems.append(f"{where}: doi {doi!r} is already the DOI of {dois[doi.lower()]!r}")
    return problems


def _check(rows: Sequence[Mapping[str, Any]], catalog: Catalog, origin: str, fix: str) -> None:
    """Raise one error listing every problem of ``rows`` beside ``catalog``."""
    problems = validate({**_vocabularies(catalog), "studies": list(rows)})
    problems += _clashes(rows, catalog)
    if problems:
        lines = "\n".join(f"  - {p}" for p in problems)
        plural = "s" if len(problems) != 1 else ""
        raise InputError(f"{origin} has {len(problems)} problem{plural}:\n{lines}\n{fix}")


def read_local_studies(path: str | Path, catalog: Catalog) -> tuple[Publication, ...]:
    """Read and validate the studies of a local catalog file.

    Parameters
    ----------
    path : str or pathlib.Path
        The local catalog (see :func:`local_catalog_path`); a file that does
        not exist holds no study.
    catalog : Catalog
        The catalog whose agents, drug classes and populations the studies
        may name, and whose study ids and DOIs they must not repeat.

    Returns
    -------
    tuple of Publication
        The local studies in file order; empty when the file does not exist.

    Raises
    ------
    InputError
        If the file cannot be read or parsed, or has schema problems (all of
        them are listed, each with its study, field and value).
    """
    file = Path(path)
    if not file.is_file():
        return ()
    origin = f"local catalog '{file}'"
    rows = _study_rows(_parse(file, "local catalog"), origin)
    fix = f"Fix the file, or set {LOCAL_CATALOG_ENV} to another local catalog."
    _check(rows, catalog, origin, fix)
    return tuple(build_study(row) for row in rows)


def merge_local(catalog: Catalog, studies: Iterable[Publication]) -> Catalog:
    """Return the catalog with local studies after its own.

    Parameters
    ----------
    catalog : Catalog
        The bundled (or another) catalog.
    studies : iterable of Publication
        Studies read by :func:`read_local_studies` against ``catalog``.

    Returns
    -------
    Catalog
        The same catalog, its ``studies`` followed by the local ones.

    Raises
    ------
    InputError
        If a local study's id is already in ``catalog``.
    """
    local = tuple(studies)
    known = {s.id for s in catalog.studies}
    clash = [s.id for s in local if s.id in known]
    if clash:
        raise InputError(
            f"local study id(s) {', '.join(map(repr, clash))} are also in the catalog; "
            "rename them in the local catalog"
        )
    return replace(catalog, studies=catalog.studies + local)


def _write(path: Path, text: str, catalog: Catalog) -> None:
    """Write ``text`` to ``path`` through a checked temporary file in the same folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    temporary = Path(name)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        read_local_studies(temporary, catalog)  # what was written reads back and validates
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)


def add_studies(
    rows: Sequence[Mapping[str, Any]], path: str | Path, catalog: Catalog, origin: str
) -> tuple[str, ...]:
    """Validate studies and append them to a local catalog file.

    Parameters
    ----------
    rows : sequence of mapping
        ``[[studies]]`` tables as :mod:`tomllib` reads them (or as
        :func:`study_from_results` makes them).
    path : str or pathlib.Path
        The local catalog; created (with its folder) when it does not exist.
    catalog : Catalog
        The bundled catalog: its vocabularies check the studies. The studies
        already in ``path`` are read and checked too.
    origin : str
        What the studies came from, for the messages, e.g. ``"study file
        'mine.toml'"``.

    Returns
    -------
    tuple of str
        The ids of the studies added.

    Raises
    ------
    InputError
        When a study breaks the schema (the message names ``origin``, the
        study, the field and the value, and suggests the closest valid value),
        repeats an id or DOI of the bundled or local catalog, or the local
        file is itself invalid. Nothing is written then.
    """
    file = Path(path)
    merged = merge_local(catalog, read_local_studies(file, catalog))
    fix = "Nothing was added; 'dmnpharm catalog template' shows every field."
    _check(rows, merged, origin, fix)
    text = file.read_text(encoding="utf-8") if file.is_file() else _HEADER
    _write(file, text.rstrip("\n") + "\n\n" + studies_toml(rows), catalog)
    return tuple(str(row["id"]) for row in rows)
