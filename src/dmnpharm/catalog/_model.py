"""The evidence catalog as a whole: the :class:`Catalog` record and its lookups.

The records it holds are defined by kind: drug classes, agents and targets in
``_drugs``; populations, publications, findings and baselines in
``_publications``; claims and the verdict rule in ``_claims``. The controlled
vocabularies live in ``_vocabulary``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from dmnpharm._utils import closest_match
from dmnpharm.catalog._claims import Claim
from dmnpharm.catalog._drugs import Agent, DrugClass
from dmnpharm.catalog._publications import Baseline, Population, Publication
from dmnpharm.catalog._vocabulary import ANY, VOCABULARY
from dmnpharm.exceptions import InputError

__all__ = ["Catalog"]

_T = TypeVar("_T")


def _lookup(kind: str, key: str, table: Mapping[str, _T]) -> _T:
    """Return ``table[key]`` or raise an error that suggests the closest key."""
    if key in table:
        return table[key]
    hint = closest_match(key, table)
    suggestion = f"; did you mean {hint!r}?" if hint is not None else ""
    raise InputError(f"{kind} {key!r} is not in the evidence catalog{suggestion}")


@dataclass(frozen=True)
class Catalog:
    """The whole evidence catalog, as loaded from its data file.

    Parameters
    ----------
    version : str
        Calendar version of the data, e.g. ``"2026.11.0"``.
    drug_classes : tuple of DrugClass
        Every drug class.
    agents : tuple of Agent
        Every agent.
    populations : tuple of Population
        Every population.
    studies : tuple of Publication
        Every publication (the ``[[studies]]`` tables of the file).
    baselines : tuple of Baseline
        Disease-versus-control baselines.
    claims : tuple of Claim
        The catalog's claims with their evidence.
    """

    version: str
    drug_classes: tuple[DrugClass, ...]
    agents: tuple[Agent, ...]
    populations: tuple[Population, ...]
    studies: tuple[Publication, ...]
    baselines: tuple[Baseline, ...]
    claims: tuple[Claim, ...]

    @property
    def studies_by_id(self) -> dict[str, Publication]:
        """Every publication keyed by its id."""
        return {s.id: s for s in self.studies}

    def study(self, id: str) -> Publication:
        """Return the publication with this id.

        Parameters
        ----------
        id : str
            Publication id, e.g. ``"schaefer2014"`` (case-insensitive).

        Returns
        -------
        Publication
            The publication.

        Raises
        ------
        InputError
            When no publication has this id; the message suggests the closest one.
        """
        return _lookup("study", id.strip().lower(), self.studies_by_id)

    def agent(self, name_or_id: str) -> Agent:
        """Return an agent by id or display name, ignoring case.

        Parameters
        ----------
        name_or_id : str
            E.g. ``"escitalopram"``, ``"LSD"`` or ``"Methylphenidate"``.

        Returns
        -------
        Agent
            The agent.

        Raises
        ------
        InputError
            When no agent matches; the message suggests the closest one.
        """
        table: dict[str, Agent] = {}
        for a in self.agents:
            table[a.name.lower()] = a
            table[a.id] = a
        return _lookup("agent", name_or_id.strip().lower(), table)

    def drug_class(self, id: str) -> DrugClass:
        """Return a drug class by id (or name), ignoring case.

        Parameters
        ----------
        id : str
            E.g. ``"ssri_snri"`` or ``"psychedelic"``.

        Returns
        -------
        DrugClass
            The drug class.

        Raises
        ------
        InputError
            When no class matches; the message suggests the closest one.
        """
        table: dict[str, DrugClass] = {}
        for c in self.drug_classes:
            table[c.name.lower()] = c
            table[c.id] = c
        return _lookup("drug class", id.strip().lower(), table)

    def population(self, id: str) -> Population:
        """Return a population by id, ignoring case.

        Parameters
        ----------
        id : str
            E.g. ``"healthy"``, ``"mdd"`` or ``"schizophrenia"``.

        Returns
        -------
        Population
            The population.

        Raises
        ------
        InputError
            When no population matches; the message suggests the closest one.
        """
        return _lookup("population", id.strip().lower(), {p.id: p for p in self.populations})

    def _measure(self, measure: str) -> str:
        return _lookup("measure", measure, {m: m for m in VOCABULARY})

    def claims_for(
        self,
        drug_class: str | None = None,
        population: str | None = None,
        measure: str | None = None,
    ) -> tuple[Claim, ...]:
        """Return the claims that match every filter given.

        A claim whose drug class or population is :data:`ANY` matches any
        value of that filter.

        Parameters
        ----------
        drug_class : str or None
            Drug class id or name, or an agent id or name (its class is used).
        population : str or None
            Population id.
        measure : str or None
            A key of :data:`VOCABULARY`; the claim must list it.

        Returns
        -------
        tuple of Claim
            Matching claims in file order.

        Raises
        ------
        InputError
            When a filter value is not in the catalog.
        """
        cls = self._class_of(drug_class) if drug_class is not None else None
        pop = self.population(population).id if population is not None else None
        mea = self._measure(measure) if measure is not None else None
        return tuple(
            c
            for c in self.claims
            if (cls is None or c.drug_class in (cls, ANY))
            and (pop is None or c.population in (pop, ANY))
            and (mea is None or mea in c.measures)
        )

    def _class_of(self, drug: str) -> str:
        ids = {c.id for c in self.drug_classes}
        key = drug.strip().lower()
        if key in ids:
            return key
        names = {c.name.lower(): c.id for c in self.drug_classes}
        if key in names:
            return names[key]
        return self.agent(drug).drug_class

    def studies_for(
        self,
        drug: str | None = None,
        population: str | None = None,
        measure: str | None = None,
    ) -> tuple[Publication, ...]:
        """Return the publications that match every filter given.

        Parameters
        ----------
        drug : str or None
            An agent id or name (publications that gave it) or a drug class id
            or name (publications of that class, or giving an agent of it).
        population : str or None
            Population id.
        measure : str or None
            A key of :data:`VOCABULARY`; the publication must report a finding on it.

        Returns
        -------
        tuple of Publication
            Matching publications in file order.

        Raises
        ------
        InputError
            When a filter value is not in the catalog.
        """
        agent_ids: set[str] | None = None
        class_id: str | None = None
        if drug is not None:
            key = drug.strip().lower()
            classes = {c.id: c.id for c in self.drug_classes}
            classes.update({c.name.lower(): c.id for c in self.drug_classes})
            if key in classes:
                class_id = classes[key]
                agent_ids = {a.id for a in self.agents if a.drug_class == class_id}
            else:
                agent_ids = {self.agent(drug).id}
        pop = self.population(population).id if population is not None else None
        mea = self._measure(measure) if measure is not None else None
        return tuple(
            s
            for s in self.studies
            if (
                agent_ids is None or s.drug_class == class_id or not agent_ids.isdisjoint(s.agents)
            )
            and (pop is None or s.population == pop)
            and (mea is None or any(f.measure == mea for f in s.findings))
        )

    def baselines_for(
        self, population: str | None = None, measure: str | None = None
    ) -> tuple[Baseline, ...]:
        """Return the disease baselines that match every filter given.

        Parameters
        ----------
        population : str or None
            Population id.
        measure : str or None
            A key of :data:`VOCABULARY`.

        Returns
        -------
        tuple of Baseline
            Matching baselines in file order.

        Raises
        ------
        InputError
            When a filter value is not in the catalog.
        """
        pop = self.population(population).id if population is not None else None
        mea = self._measure(measure) if measure is not None else None
        return tuple(
            b
            for b in self.baselines
            if (pop is None or b.population == pop) and (mea is None or b.measure == mea)
        )
