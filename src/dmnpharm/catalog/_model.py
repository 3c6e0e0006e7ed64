"""The evidence catalog's data model: frozen records and the verdict rule.

Every record is a frozen dataclass so that a loaded catalog is hashable and can
be stored in provenance. The controlled vocabularies live in ``_vocabulary``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from dmnpharm._utils import closest_match
from dmnpharm.catalog._vocabulary import ANY, VOCABULARY
from dmnpharm.exceptions import InputError

__all__ = [
    "Agent",
    "Baseline",
    "Catalog",
    "Claim",
    "ClaimLink",
    "DrugClass",
    "Finding",
    "Population",
    "Publication",
    "Target",
    "derive_verdict",
]

_REST_MODALITIES = frozenset({"rest", "rest+task"})

_T = TypeVar("_T")


@dataclass(frozen=True)
class DrugClass:
    """A pharmacological class of drugs.

    Parameters
    ----------
    id : str
        Short lowercase identifier, e.g. ``"ssri_snri"``.
    name : str
        Human-readable name.
    description : str
        One sentence on what the class is.
    """

    id: str
    name: str
    description: str


@dataclass(frozen=True)
class Target:
    """One molecular target of an agent.

    Parameters
    ----------
    target : str
        Target name; where a PET map exists the name of Hansen et al. (2022) is
        used (``"5HTT"``, ``"5HT2a"``, ``"D2"``, ``"GABAa"``, ``"NMDA"``, ...).
    mode : str
        One of :data:`MODES`.
    """

    target: str
    mode: str


@dataclass(frozen=True)
class Agent:
    """A drug (or a mixture such as ayahuasca) named by the publications.

    Parameters
    ----------
    id : str
        Lowercase identifier, e.g. ``"escitalopram"``.
    name : str
        Display name.
    drug_class : str
        Id of its :class:`DrugClass`.
    targets : tuple of Target
        Main molecular targets and how the agent acts on them.
    """

    id: str
    name: str
    drug_class: str
    targets: tuple[Target, ...]


@dataclass(frozen=True)
class Population:
    """A group of people studied.

    Parameters
    ----------
    id : str
        Lowercase identifier, e.g. ``"healthy"`` or ``"mdd"``.
    name : str
        Display name.
    description : str
        Who belongs to it.
    """

    id: str
    name: str
    description: str


@dataclass(frozen=True)
class Finding:
    """One reported result of a publication on one measure.

    Parameters
    ----------
    measure : str
        A key of :data:`VOCABULARY`.
    direction : str
        One of :data:`DIRECTIONS`, of the signed value of ``measure``.
    effect : str
        The reported statistic as text, prefixed where needed by the agent or
        regions it concerns ("ketamine: d = 0.63"); a short scope alone when no
        statistic was reported; empty when neither is known.
    effect_size : float or None
        A standardized effect as reported (sign as in the source), or None.
    effect_metric : str
        What ``effect_size`` is, one of :data:`EFFECT_METRICS` ("" when None).
    """

    measure: str
    direction: str
    effect: str
    effect_size: float | None
    effect_metric: str


@dataclass(frozen=True)
class Publication:
    """One publication: a published study, preprint, abstract, review or model.

    A paper of the literature, one ``[[studies]]`` table of the catalog file;
    not to be confused with :class:`dmnpharm.Study`, a dataset being analysed.

    Parameters
    ----------
    id : str
        Unique lowercase id, first author and year, e.g. ``"schaefer2014"``.
    first_author : str
        Surname of the first author ("" when it was not seen).
    year : int or None
        Publication year, None when it was not seen.
    journal : str
        Journal with volume and pages as far as known ("" when not seen).
    doi : str or None
        DOI when one was seen, else None.
    agents : tuple of str
        Ids of the :class:`Agent` s given; empty for disease baselines.
    drug_class : str
        Id of the publication's :class:`DrugClass` (``"none"`` for baselines,
        ``"multiple"`` for studies of several classes).
    dose : str
        Dose, route and duration as reported ("" when not reported).
    design : str
        One of :data:`DESIGNS`.
    population : str
        Id of the :class:`Population` studied.
    n : str
        Sample size as reported.
    modality : str
        One of :data:`MODALITIES`.
    findings : tuple of Finding
        The results on catalogued measures (empty for reviews and models).
    gsr : bool or None
        Whether global signal regression was used, None when not known.
    confirmation : str
        One of :data:`CONFIRMATION`.
    note : str
        Short remark in our own words.
    """

    id: str
    first_author: str
    year: int | None
    journal: str
    doi: str | None
    agents: tuple[str, ...]
    drug_class: str
    dose: str
    design: str
    population: str
    n: str
    modality: str
    findings: tuple[Finding, ...]
    gsr: bool | None
    confirmation: str
    note: str

    @property
    def is_resting_state(self) -> bool:
        """Whether the publication has resting-state data ("rest" or "rest+task")."""
        return self.modality in _REST_MODALITIES


@dataclass(frozen=True)
class Baseline:
    """A disease-versus-healthy difference, the reference for "normalization".

    Parameters
    ----------
    id : str
        Unique lowercase id.
    population : str
        Id of the patient :class:`Population` compared with healthy controls.
    measure : str
        A key of :data:`VOCABULARY`.
    direction : str
        One of :data:`DIRECTIONS`: patients relative to controls.
    studies : tuple of str
        Ids of the publications reporting it.
    note : str
        Scope and caveats.
    """

    id: str
    population: str
    measure: str
    direction: str
    studies: tuple[str, ...]
    note: str


@dataclass(frozen=True)
class ClaimLink:
    """How one publication bears on a claim.

    Parameters
    ----------
    study : str
        Id of the :class:`Publication`.
    relation : str
        One of :data:`RELATIONS`.
    """

    study: str
    relation: str


@dataclass(frozen=True)
class Claim:
    """A claim of DESIGN.md's table about how a drug class changes the DMN.

    Parameters
    ----------
    id : str
        Unique lowercase id.
    drug_class : str
        Id of the :class:`DrugClass` (``"any"`` for cross-class claims).
    population : str
        Id of the :class:`Population` (``"any"`` for cross-population claims).
    statement : str
        The claim in one sentence.
    measures : tuple of str
        Keys of :data:`VOCABULARY` that test it.
    expected_direction : str
        One of :data:`DIRECTIONS` ("mixed" where the claim only says "changes").
    links : tuple of ClaimLink
        The publications that bear on it.
    verdict : str
        One of :data:`VERDICTS`; must equal :func:`derive_verdict`.
    rationale : str
        Why, in one or two sentences.
    """

    id: str
    drug_class: str
    population: str
    statement: str
    measures: tuple[str, ...]
    expected_direction: str
    links: tuple[ClaimLink, ...]
    verdict: str
    rationale: str


def derive_verdict(claim: Claim, studies_by_id: Mapping[str, Publication]) -> str:
    """Return the verdict that follows from a claim's links.

    The rule, applied in order:

    1. Only resting-state studies (modality ``"rest"`` or ``"rest+task"``)
       count; task-only studies never do. If no linked study is resting-state,
       the verdict is ``"no resting-state evidence"``.
    2. Of those, studies graded ``"unconfirmed"`` are set aside. If any
       remaining study *contradicts* the claim, the verdict is ``"contested"``
       (whatever else supports it).
    3. If at least two ``"confirmed"`` studies *support* the claim, or one
       ``"confirmed"`` meta-analysis does, the verdict is ``"supported"``.
    4. Otherwise (only partial relations, partly confirmed support, or a single
       supporting study) the verdict is ``"weak"``.

    Parameters
    ----------
    claim : Claim
        The claim to judge.
    studies_by_id : mapping of str to Publication
        Every publication the links may name.

    Returns
    -------
    str
        One of :data:`VERDICTS`.

    Raises
    ------
    InputError
        When a link names a publication that ``studies_by_id`` lacks.
    """
    linked: list[tuple[Publication, str]] = []
    for link in claim.links:
        if link.study not in studies_by_id:
            raise InputError(f"claim {claim.id!r} links unknown study {link.study!r}")
        linked.append((studies_by_id[link.study], link.relation))
    rest = [(s, rel) for s, rel in linked if s.is_resting_state]
    if not rest:
        return "no resting-state evidence"
    counted = [(s, rel) for s, rel in rest if s.confirmation != "unconfirmed"]
    if any(rel == "contradicts" for _, rel in counted):
        return "contested"
    support = [s for s, rel in counted if rel == "supports" and s.confirmation == "confirmed"]
    if len(support) >= 2 or any(s.design == "meta-analysis" for s in support):
        return "supported"
    return "weak"


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
        The claims of DESIGN.md with their evidence.
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
