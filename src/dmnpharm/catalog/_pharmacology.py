"""Drug target profiles: affinities, actions, doses, plasma levels and PET occupancy.

``catalog/data/pharmacology.toml`` gives each catalog agent its targets, actions,
affinities, usual dose, components (molecular weight, plasma level, unbound
fraction) and PET occupancies; ``[[receptors]]`` gives each target's transmitter,
coupling and sign of effect on excitability. Every number has a ``source`` and a
``confidence``: verified (checked against the cited page), unverified (recalled,
not checked) or derived (computed from recorded values or a published range).
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from importlib.resources import files
from pathlib import Path
from typing import Any, TypeVar

from dmnpharm._utils import closest_match
from dmnpharm.catalog._fields import Spec, check_fields, table_list
from dmnpharm.catalog._load import load_catalog
from dmnpharm.catalog._vocabulary import MODES
from dmnpharm.exceptions import InputError

__all__ = [
    "Component",
    "DoseInfo",
    "DrugProfile",
    "FreeFraction",
    "OccupancyMeasurement",
    "Pharmacology",
    "PlasmaLevel",
    "ReceptorCoupling",
    "TargetAffinity",
    "load_pharmacology",
]

#: The vocabularies of the file: confidence levels, target couplings, affinity kinds.
CONFIDENCE: tuple[str, ...] = ("verified", "unverified", "derived")
_CHANNELS = ("cation channel", "anion channel")
COUPLINGS: tuple[str, ...] = ("Gq", "Gs", "Gi/o", *_CHANNELS, "transporter", "enzyme", "other")
KI_KINDS: tuple[str, ...] = ("Ki", "Kd", "IC50", "EC50")

_T = TypeVar("_T")
_Row = Mapping[str, Any]


@dataclass(frozen=True)
class ReceptorCoupling:
    """What a target is and which way its activation moves neuronal excitability.

    Parameters
    ----------
    target, transmitter, coupling, source, note : str
        Target (the Hansen et al. 2022 map name where one exists); transmitter or
        substrate; one of :data:`COUPLINGS`; provenance; reasoning (above all for 0).
    excitability, in_hansen2022 : int, bool
        +1 when agonism raises the excitability of the neuron bearing the target,
        -1 when it lowers it, 0 when unknown or mixed (transporters and enzymes:
        the sign of more transmitter); whether Hansen et al. (2022) map it.
    """

    target: str
    transmitter: str
    coupling: str
    excitability: int
    in_hansen2022: bool
    source: str
    note: str = ""


@dataclass(frozen=True)
class DoseInfo:
    """The dose used when the caller gives none.

    Parameters
    ----------
    usual_dose_mg : float or None
        A typical dose in mg; None when not dosed in mg (inhaled, target infusion).
    route, basis, source, confidence, note : str
        Route; which dose (single, daily, per kg at 70 kg); provenance; one of
        :data:`CONFIDENCE`; caveats.
    """

    usual_dose_mg: float | None
    route: str
    basis: str
    source: str
    confidence: str
    note: str = ""


@dataclass(frozen=True)
class PlasmaLevel:
    """A total plasma concentration at a reference dose.

    Parameters
    ----------
    dose_mg, concentration_ng_ml : float
        The dose (in the agent's dose unit) and the level it produced (ng/mL).
    kind, source, confidence, note : str
        What was measured (Cmax, steady-state range); provenance; confidence; caveats.
    """

    dose_mg: float
    concentration_ng_ml: float
    kind: str
    source: str
    confidence: str
    note: str = ""


@dataclass(frozen=True)
class FreeFraction:
    """The fraction of a component not bound to plasma proteins.

    Parameters
    ----------
    value, source, confidence, note : float, str, str, str
        Unbound fraction in (0, 1]; provenance; confidence; caveats (brain entry).
    """

    value: float
    source: str
    confidence: str
    note: str = ""


@dataclass(frozen=True)
class Component:
    """An active moiety in plasma (psilocin for psilocybin, DMT in ayahuasca).

    Parameters
    ----------
    name, source, confidence, note : str
        Moiety; provenance of the weight; confidence; prodrug conversion, caveats.
    molecular_weight : float
        g/mol of the moiety (free base).
    plasma, free_fraction : PlasmaLevel or None, FreeFraction or None
        Plasma level at a reference dose and unbound fraction, when recorded.
    """

    name: str
    molecular_weight: float
    source: str
    confidence: str
    plasma: PlasmaLevel | None = None
    free_fraction: FreeFraction | None = None
    note: str = ""


@dataclass(frozen=True)
class TargetAffinity:
    """One molecular target of an agent: the action and the affinity.

    Parameters
    ----------
    target, action, component : str
        A target of ``[[receptors]]``; one of the catalog's MODES; the acting component.
    ki_nm : float or None
        Affinity in nM (the file's ``ki_nM``); None when none is recorded (``note`` says why).
    ki_kind, source, confidence : str
        One of :data:`KI_KINDS`, provenance, one of :data:`CONFIDENCE` ("" if no value).
    intrinsic_activity : float or None
        Efficacy relative to the endogenous agonist (0-1), for partial agonists.
    intrinsic_activity_source, note : str
        Provenance of ``intrinsic_activity``; assay, species and caveats.
    """

    target: str
    action: str
    component: str
    ki_nm: float | None
    ki_kind: str = ""
    source: str = ""
    confidence: str = ""
    intrinsic_activity: float | None = None
    intrinsic_activity_source: str = ""
    note: str = ""


@dataclass(frozen=True)
class OccupancyMeasurement:
    """A PET (or SPECT) target occupancy measured at a dose.

    Parameters
    ----------
    target, tracer, source, confidence, note : str
        Target; radioligand; publication; confidence; design (dose regimen, region).
    dose_mg, occupancy : float
        Dose in the agent's dose unit; fraction occupied, in [0, 1].
    """

    target: str
    dose_mg: float
    occupancy: float
    tracer: str
    source: str
    confidence: str
    note: str = ""


def _lookup(kind: str, key: str, table: Mapping[str, _T]) -> _T:
    """Return ``table[key]`` or raise InputError suggesting the closest key."""
    if key in table:
        return table[key]
    hint = closest_match(key, table)
    suggestion = f"; did you mean {hint!r}?" if hint is not None else ""
    raise InputError(f"{kind} {key!r} is not in the pharmacology profiles{suggestion}")


@dataclass(frozen=True)
class DrugProfile:
    """Everything recorded about one agent's pharmacology.

    Parameters
    ----------
    agent, note : str
        Agent id of the evidence catalog; agent-level caveats.
    dose : DoseInfo
        Usual dose.
    components, targets, occupancy : tuple
        :class:`Component`, :class:`TargetAffinity`, :class:`OccupancyMeasurement` rows.
    """

    agent: str
    dose: DoseInfo
    components: tuple[Component, ...]
    targets: tuple[TargetAffinity, ...]
    occupancy: tuple[OccupancyMeasurement, ...] = ()
    note: str = ""

    def component(self, name: str) -> Component:
        """Return a component by name (InputError with a suggestion when unknown)."""
        return _lookup("component", name, {c.name: c for c in self.components})

    def measurements(self, target: str) -> tuple[OccupancyMeasurement, ...]:
        """Return the PET measurements of one target (possibly none)."""
        return tuple(m for m in self.occupancy if m.target == target)


@dataclass(frozen=True)
class Pharmacology:
    """The loaded pharmacology file.

    Parameters
    ----------
    version : str
        The file's version string.
    receptors, profiles : tuple
        :class:`ReceptorCoupling` and :class:`DrugProfile` rows, in file order.
    """

    version: str
    receptors: tuple[ReceptorCoupling, ...]
    profiles: tuple[DrugProfile, ...]

    @property
    def agents(self) -> tuple[str, ...]:
        """Agent ids with a profile, in file order."""
        return tuple(p.agent for p in self.profiles)

    def profile(self, agent_id: str) -> DrugProfile:
        """Return an agent's profile (InputError with a suggestion when unknown)."""
        return _lookup("agent", agent_id, {p.agent: p for p in self.profiles})

    def receptor(self, target: str) -> ReceptorCoupling:
        """Return a target's coupling (InputError with a suggestion when unknown)."""
        return _lookup("target", target, {r.target: r for r in self.receptors})


_Check = Callable[[Any], str]


def _text(value: Any) -> str:
    ok = isinstance(value, str) and value.strip() != ""
    return "" if ok else f"must be a non-empty string, got {value!r}"


def _number(low: float, high: float, low_open: bool) -> _Check:
    def check(value: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"must be a number, got {value!r}"
        ok = (value > low if low_open else value >= low) and value <= high
        return "" if ok else f"{value!r} is outside {'(' if low_open else '['}{low}, {high}]"

    return check


def _enum(allowed: tuple[Any, ...]) -> _Check:
    def check(value: Any) -> str:
        if value in allowed and type(value) is type(allowed[0]):
            return ""
        hint = closest_match(value, allowed) if isinstance(value, str) else None
        suggestion = f"; did you mean {hint!r}?" if hint is not None else ""
        return f"{value!r} is not one of {', '.join(map(repr, allowed))}{suggestion}"

    return check


_CHECKS: dict[str, _Check] = {
    "text": _text,
    "bool": _enum((True, False)),
    "table": lambda v: "" if isinstance(v, dict) else "must be a table",
    "tables": table_list,
    "positive": _number(0.0, float("inf"), low_open=True),
    "unbound": _number(0.0, 1.0, low_open=True),
    "fraction": _number(0.0, 1.0, low_open=False),
    "sign": _enum((-1, 0, 1)),
    "confidence": _enum(CONFIDENCE),
    "coupling": _enum(COUPLINGS),
    "action": _enum(MODES),
    "ki_kind": _enum(KI_KINDS),
}


def _spec(fields_: str) -> Spec:
    """Parse ``"name:check other?:check"`` (``?`` marks an optional field) into a Spec."""
    pairs = (item.split(":") for item in fields_.split())
    return {name.rstrip("?"): (not name.endswith("?"), _CHECKS[check]) for name, check in pairs}


_SOURCED = " source:text confidence:confidence note?:text"
_SPECS: dict[str, Spec] = {
    "file": _spec("version:text receptors:tables agents:tables"),
    "receptors": _spec(
        "target:text transmitter:text coupling:coupling excitability:sign in_hansen2022:bool"
        " source:text note?:text"
    ),
    "agents": _spec(
        "id:text dose:table components:tables targets:tables occupancy?:tables note?:text"
    ),
    "dose": _spec("usual_dose_mg?:positive route:text basis:text" + _SOURCED),
    "components": _spec(
        "name:text molecular_weight:positive plasma?:table free_fraction?:table" + _SOURCED
    ),
    "plasma": _spec("dose_mg:positive concentration_ng_ml:positive kind:text" + _SOURCED),
    "free_fraction": _spec("value:unbound" + _SOURCED),
    "targets": _spec(
        "target:text action:action component?:text ki_nM?:positive ki_kind?:ki_kind"
        " source?:text confidence?:confidence intrinsic_activity?:fraction"
        " intrinsic_activity_source?:text note?:text"
    ),
    "occupancy": _spec("target:text dose_mg:positive occupancy:fraction tracer:text" + _SOURCED),
}


def _rows(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _tag(row: _Row) -> str:
    name = row.get("id", row.get("target", row.get("name")))
    return f" ({name})" if isinstance(name, str) else ""


def _check(row: _Row, name: str, where: str) -> list[str]:
    """Check a table against ``_SPECS[name]``, then its nested tables, recursively."""
    problems = check_fields(row, _SPECS[name], where)
    for key in _SPECS[name].keys() & _SPECS.keys():
        if isinstance(row.get(key), dict):
            problems += _check(row[key], key, f"{where} {key}")
        for i, item in enumerate(_rows(row.get(key))):
            problems += _check(item, key, f"{where} {key}[{i}]{_tag(item)}".strip())
    return problems


def _check_target(row: _Row, where: str, known: set[str], names: list[str]) -> list[str]:
    """Return the rules of a target row that its field checks cannot express."""
    problems = []
    if isinstance(row.get("target"), str) and row["target"] not in known:
        hint = closest_match(row["target"], known)
        extra = f"did you mean {hint!r}?" if hint else "add it to [[receptors]]"
        problems.append(f"{where}: target {row['target']!r} is not in [[receptors]]; {extra}")
    if "ki_nM" in row:
        missing = [k for k in ("ki_kind", "source", "confidence") if k not in row]
        problems += [f"{where}: ki_nM given without {k}" for k in missing]
    elif "note" not in row:
        problems.append(f"{where}: no ki_nM and no note saying why none is recorded")
    if "intrinsic_activity" in row and "intrinsic_activity_source" not in row:
        problems.append(f"{where}: intrinsic_activity given without intrinsic_activity_source")
    if len(names) > 1 and row.get("component") not in names:
        problems.append(f"{where}: component {row.get('component')!r} must be one of {names}")
    return problems


def _check_agent(row: _Row, where: str, known: set[str], ids: frozenset[str]) -> list[str]:
    """Return the rules of an agent row that its field checks cannot express."""
    problems = []
    if isinstance(row.get("id"), str) and row["id"] not in ids:
        hint = closest_match(row["id"], ids)
        extra = f"did you mean {hint!r}?" if hint else "use an agent id of evidence.toml"
        problems.append(f"{where}: id {row['id']!r} is not an agent of the catalog; {extra}")
    if isinstance(row.get("dose"), dict) and not {"usual_dose_mg", "note"} & row["dose"].keys():
        problems.append(f"{where} dose: no usual_dose_mg and no note saying why")
    names = [c["name"] for c in _rows(row.get("components")) if isinstance(c.get("name"), str)]
    if not names:
        problems.append(f"{where}: list at least one named [[agents.components]]")
    targets = _rows(row.get("targets"))
    for i, t in enumerate(targets):
        problems += _check_target(t, f"{where} targets[{i}]{_tag(t)}", known, names)
    own = {t.get("target") for t in targets}
    for i, m in enumerate(_rows(row.get("occupancy"))):
        if isinstance(m.get("target"), str) and m["target"] not in own:
            problems.append(f"{where} occupancy[{i}]: {m['target']!r} is not among its targets")
    return problems


def _validate(raw: _Row, ids: frozenset[str]) -> list[str]:
    """Return every problem of a parsed file, naming the agent or receptor and the field."""
    problems = _check(raw, "file", "")
    known = {r["target"] for r in _rows(raw.get("receptors")) if isinstance(r.get("target"), str)}
    agents = _rows(raw.get("agents"))
    for i, row in enumerate(agents):
        where = f"agents[{i}]{_tag(row)}"
        problems += _check_agent(row, where, known, ids)
        if row.get("id") in [earlier.get("id") for earlier in agents[:i]]:
            problems.append(f"{where}: duplicate id {row.get('id')!r}")
    return problems


def _make(cls: Any, row: _Row, **extra: Any) -> Any:
    """Build dataclass ``cls`` from the keys of ``row`` naming its fields (nested too)."""
    nested = {"plasma": PlasmaLevel, "free_fraction": FreeFraction}
    names = {f.name for f in fields(cls)} - set(extra)
    kept = {k: _make(nested[k], v) if k in nested else v for k, v in row.items() if k in names}
    return cls(**kept, **extra)


def _profile(row: _Row) -> DrugProfile:
    components = tuple(_make(Component, c) for c in row["components"])
    first = {"component": components[0].name}
    return DrugProfile(
        agent=row["id"],
        dose=_make(DoseInfo, row["dose"], usual_dose_mg=row["dose"].get("usual_dose_mg")),
        components=components,
        targets=tuple(
            _make(TargetAffinity, {**first, **t}, ki_nm=t.get("ki_nM")) for t in row["targets"]
        ),
        occupancy=tuple(_make(OccupancyMeasurement, m) for m in row.get("occupancy", [])),
        note=row.get("note", ""),
    )


@functools.cache
def _catalog_agent_ids() -> frozenset[str]:
    return frozenset(agent.id for agent in load_catalog().agents)


@functools.lru_cache(maxsize=8)
def _load(key: tuple[str, int, int]) -> Pharmacology:
    """Read, check and build a file; ``key`` is (path, mtime, size), so an edit reloads."""
    name = key[0]
    try:
        raw = tomllib.loads(Path(name).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise InputError(f"pharmacology file {name!r} cannot be read as TOML: {err}") from err
    problems = _validate(raw, _catalog_agent_ids())
    if problems:
        lines = "".join(f"\n  - {p}" for p in problems)
        fix = "fix each named field (numbers in range, each with a source and a confidence)"
        raise InputError(f"pharmacology file {name!r} has problems; {fix}:{lines}")
    return Pharmacology(
        version=raw["version"],
        receptors=tuple(_make(ReceptorCoupling, r) for r in raw["receptors"]),
        profiles=tuple(_profile(a) for a in raw["agents"]),
    )


def load_pharmacology(path: str | Path | None = None) -> Pharmacology:
    """Read and check a pharmacology file (cached until the file changes).

    Parameters
    ----------
    path : str, pathlib.Path or None
        A TOML file in the shipped file's schema; None reads the shipped file.

    Returns
    -------
    Pharmacology
        The checked profiles and receptor couplings.

    Raises
    ------
    InputError
        When the file cannot be read or parsed, or has problems (all listed, each
        naming the agent or receptor and the field): a missing required field, an
        unknown action, an occupancy outside [0, 1], a Ki that is not positive, a
        value without a source, an agent the evidence catalog lacks.
    """
    shipped = Path(str(files("dmnpharm.catalog") / "data" / "pharmacology.toml"))
    file = shipped if path is None else Path(path)
    try:
        stat = file.stat()
    except OSError as err:
        raise InputError(f"cannot read pharmacology file {str(file)!r}: {err}") from err
    return _load((str(file.resolve()), stat.st_mtime_ns, stat.st_size))
