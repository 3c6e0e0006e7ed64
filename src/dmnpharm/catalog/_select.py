"""Resolving what a user typed into catalog records, and filtering by it.

``drug`` is an agent (by id or name, any case) or a drug class (id or name);
``population`` a population id, or ``patients`` for every population other
than healthy volunteers; ``measure`` a measure of the catalog's vocabulary. A
value the catalog does not know raises
:class:`~dmnpharm.exceptions.InputError` naming it and the closest valid ones.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

from dmnpharm.catalog._claims import Claim
from dmnpharm.catalog._drugs import Agent, DrugClass
from dmnpharm.catalog._model import Catalog
from dmnpharm.catalog._publications import Publication
from dmnpharm.catalog._vocabulary import ANY, VOCABULARY
from dmnpharm.exceptions import InputError

__all__ = [
    "HEALTHY",
    "PATIENTS",
    "DrugSelection",
    "check_measure",
    "check_population",
    "find_study",
    "population_matches",
    "resolve_drug",
    "select_claims",
    "select_studies",
]

#: Population id of healthy volunteers.
HEALTHY = "healthy"

#: Population word matching every population except :data:`HEALTHY`.
PATIENTS = "patients"

# ---------------------------------------------------------------------------
# Resolving what the user typed
# ---------------------------------------------------------------------------


def _closest(value: str, options: Iterable[str], n: int = 3) -> list[str]:
    """Return up to ``n`` options closest to ``value`` (case-insensitive)."""
    lowered: dict[str, str] = {}
    for option in options:
        lowered.setdefault(option.lower(), option)
    key = value.strip().lower()
    hits = difflib.get_close_matches(key, list(lowered), n=n, cutoff=0.5)
    # Prefixes and substrings count too ("escit" finds "escitalopram").
    for low in lowered:
        if key and (low.startswith(key) or key in low) and low not in hits:
            hits.append(low)
    return [lowered[h] for h in hits[:n]]


def _unknown(what: str, value: str, options: Iterable[str], listing: str = "") -> InputError:
    """Build the error for an unknown value, suggesting the closest valid ones."""
    choices = sorted(set(options))
    near = _closest(value, choices)
    hint = f"; did you mean {' or '.join(repr(n) for n in near)}?" if near else ""
    valid = f" ({listing})" if listing else f" (valid: {', '.join(choices)})"
    return InputError(f"{what} {value!r} is not in the evidence catalog{hint}{valid}")


@dataclass(frozen=True)
class DrugSelection:
    """What a ``--drug`` value selected: a whole class, or one agent of it.

    Parameters
    ----------
    drug_class : DrugClass
        The class (of the agent, when an agent was named).
    agent : Agent or None
        The agent named, or None when a class was named.
    """

    drug_class: DrugClass
    agent: Agent | None

    @property
    def label(self) -> str:
        """Return a readable name: the agent's (with its class) or the class's."""
        if self.agent is None:
            return f"{self.drug_class.name} ({self.drug_class.id})"
        return f"{self.agent.name} ({self.drug_class.name})"


def resolve_drug(catalog: Catalog, drug: str) -> DrugSelection:
    """Find the agent or drug class a user named.

    Parameters
    ----------
    catalog : Catalog
        The evidence catalog.
    drug : str
        Agent id or name (any case), or drug class id or name.

    Returns
    -------
    DrugSelection
        The class, and the agent when one was named.

    Raises
    ------
    InputError
        If neither an agent nor a class has that id or name; the message
        suggests the closest ones.
    """
    key = drug.strip().lower()
    for agent in catalog.agents:
        if key in (agent.id.lower(), agent.name.lower()):
            return DrugSelection(catalog.drug_class(agent.drug_class), agent)
    for cls in catalog.drug_classes:
        if key in (cls.id.lower(), cls.name.lower()):
            return DrugSelection(cls, None)
    names = [a.name for a in catalog.agents] + [c.id for c in catalog.drug_classes]
    raise _unknown("drug", drug, names, "see 'dmnpharm catalog drugs' for every agent and class")


def _population_ids(catalog: Catalog) -> list[str]:
    return [p.id for p in catalog.populations]


def check_population(catalog: Catalog, population: str) -> str:
    """Return the population id a user named, or :data:`PATIENTS`.

    Parameters
    ----------
    catalog : Catalog
        The evidence catalog.
    population : str
        A population id (any case) or ``patients``.

    Returns
    -------
    str
        The catalog's spelling of the id, or ``patients``.

    Raises
    ------
    InputError
        If the catalog has no such population.
    """
    key = population.strip().lower()
    if key == PATIENTS:
        return PATIENTS
    for pid in _population_ids(catalog):
        if pid.lower() == key:
            return pid
    raise _unknown("population", population, [*_population_ids(catalog), PATIENTS])


def population_matches(selected: str, population: str) -> bool:
    """Return whether a study's or claim's population is in the selection.

    Parameters
    ----------
    selected : str
        A population id, or :data:`PATIENTS` (every population but healthy).
    population : str
        The population of a study or claim.

    Returns
    -------
    bool
        True when it matches; a population of ``any`` matches every selection.
    """
    if population == ANY:
        return True
    if selected == PATIENTS:
        return population != HEALTHY
    return population == selected


def check_measure(measure: str) -> str:
    """Return a measure of the catalog vocabulary, matched regardless of case.

    Parameters
    ----------
    measure : str
        A measure name (see ``VOCABULARY``).

    Returns
    -------
    str
        The vocabulary's spelling.

    Raises
    ------
    InputError
        If the vocabulary has no such measure.
    """
    key = measure.strip().lower()
    for name in VOCABULARY:
        if name.lower() == key:
            return name
    raise _unknown("measure", measure, VOCABULARY)


def find_study(catalog: Catalog, study_id: str) -> Publication:
    """Return the publication with this id (any case).

    Parameters
    ----------
    catalog : Catalog
        The evidence catalog.
    study_id : str
        Publication id, e.g. ``"schaefer2014"``.

    Returns
    -------
    Publication
        The publication.

    Raises
    ------
    InputError
        If no publication has that id; the message suggests the closest ids.
    """
    key = study_id.strip().lower()
    for study in catalog.studies:
        if study.id.lower() == key:
            return study
    raise _unknown(
        "study",
        study_id,
        [s.id for s in catalog.studies],
        "see 'dmnpharm catalog studies' for every study id",
    )


# ---------------------------------------------------------------------------
# Filtering
# ---------------------------------------------------------------------------


def _study_in(catalog: Catalog, study: Publication, drug: DrugSelection | None) -> bool:
    if drug is None:
        return True
    if drug.agent is not None:
        return drug.agent.id in study.agents
    if study.drug_class == drug.drug_class.id:
        return True
    # Publications of several classes ("multiple") count for each class they gave.
    members = {a.id for a in catalog.agents if a.drug_class == drug.drug_class.id}
    return not members.isdisjoint(study.agents)


def select_studies(
    catalog: Catalog,
    drug: DrugSelection | None = None,
    population: str | None = None,
    measure: str | None = None,
) -> list[Publication]:
    """Return the publications passing every filter given, in catalog order.

    Parameters
    ----------
    catalog : Catalog
        The evidence catalog.
    drug : DrugSelection, optional
        Publications of this agent, or of this class or giving any of its agents.
    population : str, optional
        A checked population id or :data:`PATIENTS`.
    measure : str, optional
        Publications with a finding on this measure.

    Returns
    -------
    list of Publication
        The publications kept.
    """
    kept = []
    for study in catalog.studies:
        if not _study_in(catalog, study, drug):
            continue
        if population is not None and not population_matches(population, study.population):
            continue
        if measure is not None and all(f.measure != measure for f in study.findings):
            continue
        kept.append(study)
    return kept


def select_claims(
    catalog: Catalog,
    drug: DrugSelection | None = None,
    population: str | None = None,
    measure: str | None = None,
) -> list[Claim]:
    """Return the claims passing every filter given, in catalog order.

    Parameters
    ----------
    catalog : Catalog
        The evidence catalog.
    drug : DrugSelection, optional
        Claims about this class (an agent selects its class), and claims
        about any class (``any``).
    population : str, optional
        A checked population id or :data:`PATIENTS`.
    measure : str, optional
        Claims naming this measure.

    Returns
    -------
    list of Claim
        The claims kept.
    """
    kept = []
    for claim in catalog.claims:
        if drug is not None and claim.drug_class not in (drug.drug_class.id, ANY):
            continue
        if population is not None and not population_matches(population, claim.population):
            continue
        if measure is not None and measure not in claim.measures:
            continue
        kept.append(claim)
    return kept
