"""BIDS entities of functional files, BIDS filter files, and the choice among variants.

A BIDS filter file is the JSON that fMRIPrep and XCP-D take with
``--bids-filter-file``: each top-level key names a query (``bold``, ``t1w``,
``sbref`` ...), each value maps pybids entity names to what is wanted::

    {"bold": {"acquisition": "mb4", "echo": null, "run": [1, 2]}}

A string or integer asks for that value (``run``, ``echo`` and ``chunk`` compare
as integers, so ``1`` matches ``run-1`` and ``run-01``), a list for any of its
values, ``null`` for files without the entity and ``"*"`` for files with it
(any value). dmnpharm reads only the ``bold`` query; the others are checked and
ignored. Entity names are pybids' (``acquisition``, ``ceagent``,
``reconstruction``, ``direction``, ``density`` ...) or the short keys of file
names (``acq``, ``ce``, ``rec``, ``dir``, ``den`` ...).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dmnpharm._utils import closest_match, get_logger
from dmnpharm.exceptions import InputError

__all__ = [
    "FUNC_ENTITIES",
    "RAW_ENTITIES",
    "VARIANT_ENTITIES",
    "BidsFilter",
    "matching_file",
    "other_space_problems",
    "parse_bids_filter",
    "parse_entities",
    "read_bids_filter",
    "variant_problems",
]

_LOG = get_logger("io")

#: Raw entities of a functional file name, in BIDS order.
RAW_ENTITIES = ("sub", "ses", "task", "acq", "ce", "rec", "dir", "run", "echo", "part", "chunk")
#: Entities a functional derivative's name may carry, in BIDS order: raw, then derivative.
FUNC_ENTITIES = (*RAW_ENTITIES, "space", "cohort", "res", "den", "desc")

#: Entities that tell apart versions of one run (sub, ses, task, run) which a
#: study must choose among: acquisitions, echoes, resolutions, densities ...
VARIANT_ENTITIES = ("acq", "ce", "rec", "dir", "echo", "part", "chunk", "cohort", "res", "den")

#: pybids' entity names, and the keys of file names, mapped to the file-name keys.
_NAMES: dict[str, str] = {
    "subject": "sub",
    "session": "ses",
    "acquisition": "acq",
    "ceagent": "ce",
    "reconstruction": "rec",
    "direction": "dir",
    "resolution": "res",
    "density": "den",
    "datatype": "datatype",
    "suffix": "suffix",
    "extension": "extension",
    **{key: key for key in FUNC_ENTITIES},
}

#: pybids' long name of each key, for messages and records.
_LONG = {
    "sub": "subject",
    "ses": "session",
    "acq": "acquisition",
    "ce": "ceagent",
    "rec": "reconstruction",
    "dir": "direction",
    "res": "res",
    "den": "den",
}

#: Entities compared as integers (``run-01`` is run 1).
_INDEX = ("run", "echo", "chunk")

#: Query names of fMRIPrep (niworkflows) and XCP-D filter files that dmnpharm ignores.
_FMRIPREP_QUERIES = ("sbref", "fmap", "t1w", "t2w", "flair", "roi", "pet", "asl", "dwi", "m0scan")
_XCPD_QUERIES = ("anat_dseg", "anat_brainmask", "anat_to_template_xfm", "template_to_anat_xfm")
_IGNORED_QUERIES = (*_FMRIPREP_QUERIES, *_XCPD_QUERIES)

#: Entities besides a BOLD file's that other queries (anatomical, field maps) may name.
_OTHER_RAW = ("sample", "tracksys", "staining", "tracer", "proc", "modality", "flip", "inv", "mt")
_OTHER_DERIVED = ("recording", "hemi", "atlas", "roi", "label", "from", "to", "mode", "fmapid")
_OTHER_ENTITIES = (*_OTHER_RAW, *_OTHER_DERIVED)

#: A value meaning "the entity is present, whatever its value" (pybids' Query.ANY).
ANY = "*"

_PAIR = re.compile(r"^([a-zA-Z]+)-([a-zA-Z0-9]+)$")
_LABEL = re.compile(r"^[a-zA-Z0-9]+$")
_EXTENSION = re.compile(r"^(\.[a-zA-Z0-9]+)+$")


def parse_entities(name: str) -> dict[str, str]:
    """Return the entities of a BIDS file name, with its suffix and extension.

    Parameters
    ----------
    name : str
        A file name such as ``sub-01_task-rest_acq-mb4_bold.nii.gz`` (a path's
        folders are ignored).

    Returns
    -------
    dict of str to str
        Each ``key-value`` pair of the name in file order (values without
        prefix), then ``suffix`` (``bold``) and ``extension`` (``.nii.gz``)
        when the name has them. Parts that are not ``key-value`` pairs are left
        out.

    Examples
    --------
    >>> parse_entities("sub-01_ses-1_task-rest_echo-2_bold.nii.gz")["echo"]
    '2'
    """
    base = Path(name).name
    stem, dot, rest = base.partition(".")
    parts = stem.split("_")
    found: dict[str, str] = {}
    for part in parts[:-1] if "-" not in parts[-1] else parts:
        pair = _PAIR.match(part)
        if pair:
            found.setdefault(pair.group(1), pair.group(2))
    if "-" not in parts[-1] and parts[-1]:
        found["suffix"] = parts[-1]
    if dot:
        found["extension"] = f".{rest}"
    return found


def _allowed(value: str | None, wanted: str | None, key: str) -> bool:
    """Tell whether an entity's value (None: absent) is the one wanted.

    ``None`` wants the entity absent, ``"*"`` present; indices compare as integers.
    """
    if wanted is None or value is None:
        return wanted is None and value is None
    if wanted == ANY:
        return True
    if key in _INDEX and wanted.isdigit() and value.isdigit():
        return int(wanted) == int(value)
    return wanted == value


@dataclass(frozen=True)
class BidsFilter:
    """Which BOLD files a BIDS filter file keeps: its ``bold`` query.

    Parameters
    ----------
    bold : tuple of (str, tuple)
        Per entity key (``acq``, ``run``, ... or ``datatype``, ``suffix``,
        ``extension``), the values allowed: strings, ``None`` for "absent",
        ``"*"`` for "present with any value". A file is kept when every entity
        has an allowed value.
    ignored : tuple of str
        The file's other queries (``t1w``, ``sbref`` ...), checked and ignored.
    source : str
        The filter file, or ``""`` for a filter built in code.
    """

    bold: tuple[tuple[str, tuple[str | None, ...]], ...] = ()
    ignored: tuple[str, ...] = ()
    source: str = ""

    def matches(self, entities: Mapping[str, str]) -> bool:
        """Tell whether a file with these entities passes the ``bold`` query.

        Parameters
        ----------
        entities : mapping of str to str
            From :func:`parse_entities` (file-name keys), with ``datatype``
            added by the caller when known.

        Returns
        -------
        bool
            True when every entity of the query has an allowed value.
        """
        return all(
            any(_allowed(entities.get(key), wanted, key) for wanted in values)
            for key, values in self.bold
        )

    def record(self) -> dict[str, Any]:
        """Return the filter as a JSON-ready dict for provenance.

        Returns
        -------
        dict
            ``source`` (the file), ``bold`` (pybids entity name to the value
            or list of values; ``None`` for absent) and ``ignored_queries``.
        """
        bold = {
            _LONG.get(key, key): list(values) if len(values) > 1 else values[0]
            for key, values in self.bold
        }
        return {"source": self.source, "bold": bold, "ignored_queries": list(self.ignored)}

    def describe(self) -> str:
        """Return the ``bold`` query as short text for messages.

        Returns
        -------
        str
            E.g. ``acquisition=mb4, echo=none`` (or ``no entity`` when empty).
        """
        shown = [
            f"{_LONG.get(k, k)}={'|'.join('none' if v is None else v for v in values)}"
            for k, values in self.bold
        ]
        return ", ".join(shown) or "no entity"


def _value(raw: Any, where: str, label: str, key: str) -> str | None:
    """Return one allowed value of entity ``key`` as text, or raise naming the file and key."""
    if raw is None:
        return None
    if isinstance(raw, int) and not isinstance(raw, bool):
        if raw < 0:
            raise InputError(f"{where}: {label} is {raw}; entity values are not negative")
        return str(raw)
    if not isinstance(raw, str):
        raise InputError(
            f'{where}: {label} is {json.dumps(raw)}; give a string (e.g. "2"), an integer, '
            "a list of them, null for 'absent' or \"*\" for 'present'"
        )
    if key == "extension" and raw != ANY:
        text = raw if raw.startswith(".") else f".{raw}"
        if not _EXTENSION.match(text):
            raise InputError(f"{where}: {label} {raw!r} is not a file extension like '.nii.gz'")
        return text
    if raw != ANY and not _LABEL.match(raw):
        raise InputError(
            f"{where}: {label} {raw!r} is not a BIDS label (letters and digits only; "
            '"*" for any value, null for absent)'
        )
    return raw


def _values(raw: Any, where: str, label: str, key: str) -> tuple[str | None, ...]:
    """Return the allowed values of one entity (a list gives any of them)."""
    if not isinstance(raw, list):
        return (_value(raw, where, label, key),)
    if not raw:
        raise InputError(f"{where}: {label} is an empty list, which matches no file")
    found = [_value(item, where, f"{label}[{i}]", key) for i, item in enumerate(raw)]
    return tuple(dict.fromkeys(found))


def _entity_key(name: str, where: str, query: str, allowed: Sequence[str]) -> str:
    """Return the file-name key of an entity name, or raise with the closest allowed."""
    if name in allowed:
        return _NAMES.get(name, name)
    hint = closest_match(name, allowed)
    fix = f"; did you mean '{hint}'?" if hint else ""
    if query != "bold":
        raise InputError(f"{where}: {query}.{name} is not a BIDS entity{fix}")
    shown = sorted({_LONG.get(k, k) for k in FUNC_ENTITIES} | {"datatype", "suffix", "extension"})
    raise InputError(
        f"{where}: bold.{name} is not a BOLD file's entity{fix} (they are: {', '.join(shown)})"
    )


def _query(content: Any, where: str, query: str) -> tuple[tuple[str, tuple[str | None, ...]], ...]:
    """Check one query's dict and return its entities with their allowed values."""
    if not isinstance(content, dict):
        raise InputError(
            f"{where}: {query} must map entity names to values, e.g. "
            f'{{"{query}": {{"acquisition": "mb4"}}}}; got {json.dumps(content)}'
        )
    allowed = list(_NAMES) if query == "bold" else [*_NAMES, *_OTHER_ENTITIES]
    checked: dict[str, tuple[str | None, ...]] = {}
    for name, raw in content.items():
        key = _entity_key(str(name), where, query, allowed)
        if key in checked:
            raise InputError(f"{where}: {query} names the entity {key} twice ({name!r})")
        checked[key] = _values(raw, where, f"{query}.{name}", key)
    return tuple(checked.items())


def parse_bids_filter(content: Any, source: str = "") -> BidsFilter:
    """Check the content of a BIDS filter file and return its filter.

    Parameters
    ----------
    content : object
        The parsed JSON: a dict of query names to dicts of entity names to
        values (string, integer, list of them, ``null`` or ``"*"``).
    source : str
        Where it came from (the file), named in every message.

    Returns
    -------
    BidsFilter
        The ``bold`` query's entities and values; the other queries' names.

    Raises
    ------
    InputError
        For a query or entity name that is not known (with the closest one), a
        value of the wrong type, or an empty list; naming the file and key.
    """
    where = source or "BIDS filter"
    if not isinstance(content, dict):
        raise InputError(
            f"{where}: a BIDS filter must be a JSON object of queries, e.g. "
            '{"bold": {"acquisition": "mb4"}}; got ' + json.dumps(content)[:80]
        )
    known = ["bold", *_IGNORED_QUERIES]
    bold: tuple[tuple[str, tuple[str | None, ...]], ...] = ()
    ignored = []
    for query, entities in content.items():
        if query not in known:
            hint = closest_match(str(query), known)
            fix = f"; did you mean '{hint}'?" if hint else ""
            raise InputError(
                f"{where}: query {query!r} is not one of {', '.join(known)}{fix} "
                "(dmnpharm reads 'bold'; the others are accepted and ignored)"
            )
        checked = _query(entities, where, query)
        if query == "bold":
            bold = checked
        else:
            ignored.append(query)
            _LOG.debug(
                "BIDS filter %s: query %r ignored; dmnpharm reads only 'bold'", where, query
            )
    return BidsFilter(bold, tuple(ignored), source)


def read_bids_filter(path: str | Path) -> BidsFilter:
    """Read and check a BIDS filter file (as fMRIPrep's ``--bids-filter-file`` takes).

    Parameters
    ----------
    path : str or Path
        The JSON file, e.g. ``{"bold": {"acquisition": "mb4"}}``.

    Returns
    -------
    BidsFilter
        Its ``bold`` query; :meth:`BidsFilter.record` gives it for provenance.

    Raises
    ------
    InputError
        When the file is missing, not valid JSON, or its content is not a
        filter (see :func:`parse_bids_filter`).
    """
    file = Path(path)
    if not file.is_file():
        raise InputError(f"BIDS filter file '{file}' does not exist")
    try:
        content = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{file}: is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{file}: cannot be read as UTF-8 text ({exc})") from None
    return parse_bids_filter(content, str(file))


def matching_file(
    entities: Mapping[str, str],
    candidates: Sequence[tuple[Path, Mapping[str, str]]],
    keys: Sequence[str],
) -> Path | None:
    """Return the one candidate file with the same ``keys``; without echo, then part, if none.

    Parameters
    ----------
    entities : mapping of str to str
        The image's entities.
    candidates : sequence of (Path, mapping)
        Companion files (masks, confounds) with their entities.
    keys : sequence of str
        Entities that must be equal (absent in both counts as equal).

    Returns
    -------
    Path or None
        None when no candidate, or more than one, matches.
    """
    for dropped in ((), ("echo",), ("echo", "part")):
        compared = [k for k in keys if k not in dropped]
        same = [p for p, c in candidates if all(c.get(k) == entities.get(k) for k in compared)]
        if same:
            return same[0] if len(same) == 1 else None
    return None


def _variant_message(folder: Path, paths: Sequence[tuple[Path, Mapping[str, str]]]) -> str:
    """Describe one run's versions that differ in variant entities, and how to choose."""
    differing = [key for key in VARIANT_ENTITIES if len({ent.get(key) for _, ent in paths}) > 1]
    ent = paths[0][1]
    what = " ".join(f"{key}-{ent[key]}" for key in ("sub", "ses", "task", "run") if ent.get(key))
    values = {key: sorted({e.get(key) or "(none)" for _, e in paths}) for key in differing}
    listed = "; ".join(f"{key} {', '.join(v)}" for key, v in values.items())
    example = {}
    for key in differing:
        present = sorted(e[key] for _, e in paths if e.get(key))
        # A version without the entity (e.g. the optimally combined echo) is the usual pick.
        example[_LONG.get(key, key)] = None if len(present) < len(paths) else present[0]
    params = [k for k in differing if k in ("res", "den")]
    extra = f" (or {' and '.join(f'{k}=' for k in params)})" if params else ""
    names = ", ".join(path.name for path, _ in paths)
    return (
        f"{folder}: {len(paths)} BOLD images of {what} differ in {listed}: {names}; nothing "
        f"chose one. Choose with a BIDS filter file{extra}, e.g. "
        f"{json.dumps({'bold': example})}"
    )


def variant_problems(files: Sequence[tuple[Path, Mapping[str, str]]], most: int = 10) -> list[str]:
    """Return a problem per run found in several versions (acquisitions, echoes ...).

    Parameters
    ----------
    files : sequence of (Path, mapping)
        BOLD images with their entities (from :func:`parse_entities`).
    most : int
        Runs described one by one; the rest are counted in one last line.

    Returns
    -------
    list of str
        One line per (subject, session, task, run) whose images differ in an
        entity of :data:`VARIANT_ENTITIES`, naming the files and a filter that
        would choose one; empty when every run has one version. Images that
        differ in nothing but their extension are left to the duplicate check.
    """
    groups: dict[tuple[str, ...], list[tuple[Path, Mapping[str, str]]]] = {}
    for path, ent in files:
        key = tuple(ent.get(k, "") for k in ("sub", "ses", "task", "run"))
        groups.setdefault(key, []).append((path, ent))
    problems = []
    for paths in groups.values():
        variants = {tuple(ent.get(k) for k in VARIANT_ENTITIES) for _, ent in paths}
        if len(variants) > 1:
            problems.append(_variant_message(paths[0][0].parent, paths))
    if len(problems) > most:
        rest = len(problems) - most
        problems = [
            *problems[:most],
            f"... and {rest} more runs found in several versions; the same filter chooses",
        ]
    return problems


def other_space_problems(
    by_space: Mapping[str, Sequence[tuple[Path, Mapping[str, str]]]],
    chosen: Sequence[tuple[Path, Mapping[str, str]]],
    space: str,
) -> list[str]:
    """Return a problem per image of a subject/session with BOLD in other spaces only.

    Parameters
    ----------
    by_space : mapping of str to sequence of (Path, mapping)
        Every BOLD image with its entities, by its space.
    chosen : sequence of (Path, mapping)
        The images of the space analysed.
    space : str
        The space analysed.

    Returns
    -------
    list of str
        One line per image of a subject and session that has none in ``space``.
    """
    chosen_keys = {(ent.get("sub"), ent.get("ses")) for _, ent in chosen}
    return [
        f"{path}: this subject/session has BOLD in space '{other}' but none in "
        f"'{space}'; rerun fMRIPrep with that output space or exclude it"
        for other, files in sorted(by_space.items())
        if other != space
        for path, ent in files
        if (ent.get("sub"), ent.get("ses")) not in chosen_keys
    ]
