"""The evidence catalog's literature records: populations, publications, findings, baselines.

Every record is a frozen dataclass so that a loaded catalog is hashable and can
be stored in provenance. The controlled vocabularies live in ``_vocabulary``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Baseline", "Finding", "Population", "Publication"]

_REST_MODALITIES = frozenset({"rest", "rest+task"})


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
