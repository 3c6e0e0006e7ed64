"""The evidence catalog's literature records: populations, publications, findings, baselines.

Every record is a frozen dataclass so that a loaded catalog is hashable and can
be stored in provenance. The controlled vocabularies live in ``_vocabulary``;
the kinds of numeric effect and their conversion to a common scale are here,
next to :class:`Finding`, which carries them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from dmnpharm.exceptions import InputError

__all__ = [
    "EFFECT_CONFIDENCE",
    "EFFECT_KINDS",
    "Baseline",
    "Finding",
    "Population",
    "Publication",
    "StandardizedEffect",
]

_REST_MODALITIES = frozenset({"rest", "rest+task"})

#: What the number of a finding (``effect_size``) is. ``d_z``: paired or
#: one-sample Cohen's d (mean change / SD of the change); ``hedges_g``: two-group
#: standardized mean difference with the small-sample correction; ``d``: Cohen's
#: d as reported, its design not stated; ``r``: a correlation;
#: ``fisher_z_change``: a change of Fisher-z connectivity (not standardized);
#: ``percent_change``: a change in percent (not standardized);
#: ``mean_difference``: a difference in the measure's own units (not
#: standardized; the units are in ``effect``); ``t``: a t statistic
#: (``effect_n`` subjects; two groups when ``effect_group_sizes`` is given);
#: ``z``: a z statistic.
EFFECT_KINDS: tuple[str, ...] = (
    "d_z",
    "hedges_g",
    "d",
    "r",
    "fisher_z_change",
    "percent_change",
    "mean_difference",
    "t",
    "z",
)

#: How far a number was checked. ``verified``: read at its source (the paper's
#: text, table or figure named by ``effect_source``); ``derived``: computed by
#: the catalog from statistics read at the source, as ``effect_derivation``
#: says; ``unverified``: taken from a secondary record and not found at the
#: source, to be used with care; ``imputed``: no statistic was reported, and the
#: number is the smallest effect that reaches the reported significance
#: (``significance_p``), a lower bound (:mod:`dmnpharm.catalog._imputation`).
EFFECT_CONFIDENCE: tuple[str, ...] = ("verified", "derived", "unverified", "imputed")

#: The legacy short names of ``effect_metric`` and the kinds they stand for.
KIND_OF_METRIC = {"d": "d", "dz": "d_z", "g": "hedges_g", "r": "r", "t": "t", "z": "z"}
_METRIC_OF_KIND = {kind: metric for metric, kind in KIND_OF_METRIC.items()}

# Two-sided 95% normal quantile: a 95% CI spans 2 * 1.959964 standard errors.
_Z95 = 1.959963984540054


class StandardizedEffect(NamedTuple):
    """A finding's effect on a common scale, from :meth:`Finding.standardized`.

    Parameters
    ----------
    value : float
        The effect, sign as in the source.
    se : float or None
        Its standard error, None when the record does not allow one.
    kind : str
        ``"d_z"`` (paired), ``"hedges_g"`` (two groups), ``"fisher_z"``
        (a correlation, z = atanh(r)) or ``"d"`` (Cohen's d whose design the
        source does not give; not converted).
    """

    value: float
    se: float | None
    kind: str


def _dz_se(dz: float, n: int) -> float:
    """Return the approximate standard error of a paired Cohen's d_z.

    ``SE = sqrt(1/n + d_z**2 / (2 n))``, the large-sample variance of a
    standardized mean change with the SD of the differences as standardizer
    (Borenstein et al. 2009, Introduction to Meta-Analysis, ch. 4; Lakens 2013,
    Front Psychol 4:863).
    """
    return math.sqrt(1.0 / n + dz**2 / (2.0 * n))


def _hedges_j(n1: int, n2: int) -> float:
    """Return Hedges' small-sample correction ``J = 1 - 3 / (4 df - 1)``, df = n1 + n2 - 2.

    Borenstein et al. 2009, eq. 4.22.
    """
    return 1.0 - 3.0 / (4.0 * (n1 + n2 - 2) - 1.0)


def _d_variance(d: float, n1: int, n2: int) -> float:
    """Return the variance of a two-group Cohen's d (Borenstein et al. 2009, eq. 4.20).

    ``V_d = (n1 + n2) / (n1 n2) + d**2 / (2 (n1 + n2))``.
    """
    return (n1 + n2) / (n1 * n2) + d**2 / (2.0 * (n1 + n2))


def _g_from_d(d: float, n1: int, n2: int) -> StandardizedEffect:
    """Return Hedges' g and its SE from a two-group d (Borenstein et al. 2009, eqs 4.20-4.24)."""
    j = _hedges_j(n1, n2)
    return StandardizedEffect(j * d, j * math.sqrt(_d_variance(d, n1, n2)), "hedges_g")


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

    The first five fields are those of earlier catalog versions and keep their
    meaning; the others describe the number (if any) and where it comes from.

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
        The effect's number (sign as in the source), on the scale named by
        ``effect_kind``; None when no number is recorded.
    effect_metric : str
        Short name of the kind, kept for older code: ``"d"``, ``"dz"``,
        ``"g"``, ``"r"``, ``"t"``, ``"z"``, the kind itself for kinds without
        a short name, ``""`` when ``effect_size`` is None.
    effect_kind : str
        One of :data:`EFFECT_KINDS` ("" when ``effect_size`` is None). Given
        only ``effect_metric``, it is filled in from it, and the other way round.
    effect_n : int or None
        Number of subjects the effect is based on (both groups together for a
        two-group effect).
    effect_group_sizes : tuple of int
        The two group sizes of a two-group effect (``d``, ``hedges_g`` or a
        two-sample ``t``); empty otherwise.
    ci_low, ci_high : float or None
        A 95% confidence interval on the scale of ``effect_size``.
    se : float or None
        Standard error on the scale of ``effect_size``.
    effect_source : str
        Where in the publication the number is: page, table or figure
        ("Table 2, p. 4855").
    effect_derivation : str
        How the number was computed when the source did not report it as such
        ("d_z = t / sqrt(n) from t(19) = 3.1").
    effect_confidence : str
        One of :data:`EFFECT_CONFIDENCE` ("" when ``effect_size`` is None).
    direction_only : bool
        True when the source gives a direction but no number that an effect
        could be taken or derived from.
    direction_only_reason : str
        Why there is no number, one line (required with ``direction_only``).
    significance_p : float or None
        The two-sided threshold at which the source reports the finding
        significant when it gives no statistic; the effect is then imputed
        from it (``effect_confidence`` ``"imputed"``).
    """

    measure: str
    direction: str
    effect: str
    effect_size: float | None
    effect_metric: str
    effect_kind: str = ""
    effect_n: int | None = None
    effect_group_sizes: tuple[int, ...] = ()
    ci_low: float | None = None
    ci_high: float | None = None
    se: float | None = None
    effect_source: str = ""
    effect_derivation: str = ""
    effect_confidence: str = ""
    direction_only: bool = False
    direction_only_reason: str = ""
    significance_p: float | None = None

    def __post_init__(self) -> None:
        kind = self.effect_kind or KIND_OF_METRIC.get(self.effect_metric, self.effect_metric)
        metric = self.effect_metric or _METRIC_OF_KIND.get(kind, kind)
        if (
            self.effect_kind
            and self.effect_metric
            and KIND_OF_METRIC.get(self.effect_metric, self.effect_metric) != self.effect_kind
        ):
            raise InputError(
                f"effect_metric {self.effect_metric!r} does not name "
                f"effect_kind {self.effect_kind!r}"
            )
        object.__setattr__(self, "effect_kind", kind)
        object.__setattr__(self, "effect_metric", metric)

    def standardized(self) -> StandardizedEffect | None:
        """Return the effect on a common scale with its standard error.

        Conversions (Borenstein, Hedges, Higgins & Rothstein 2009,
        *Introduction to Meta-Analysis*, chs 4 and 6; Lakens 2013, Front
        Psychol 4:863):

        - a paired or one-sample ``t`` with ``n`` subjects gives
          ``d_z = t / sqrt(n)``;
        - a two-sample ``t`` gives ``d = t sqrt(1/n1 + 1/n2)``, and a
          two-group ``d`` gives Hedges' ``g = J d`` with
          ``J = 1 - 3 / (4 (n1 + n2 - 2) - 1)``;
        - a correlation ``r`` gives Fisher's ``z = atanh(r)`` with
          ``SE = 1 / sqrt(n - 3)``.

        The standard error is the stored ``se`` when there is one, else the
        width of the stored 95% CI over 2 x 1.96 (for ``r`` on the Fisher-z
        scale), else the large-sample formula: ``sqrt(1/n + d_z**2 / (2n))``
        for d_z, ``J sqrt((n1 + n2) / (n1 n2) + d**2 / (2 (n1 + n2)))`` for g.

        Returns
        -------
        StandardizedEffect or None
            ``(value, se, kind)`` with kind ``"d_z"``, ``"hedges_g"``,
            ``"fisher_z"`` or ``"d"`` (a d of unstated design, unconverted);
            ``se`` is None when neither the record nor a formula gives it. None
            when there is no number or it is not a standardized effect
            (``fisher_z_change``, ``percent_change``, ``mean_difference``,
            ``z``, or a ``t`` without ``effect_n``).
        """
        value = self.effect_size
        if value is None:
            return None
        kind = self.effect_kind
        groups = self.effect_group_sizes if len(self.effect_group_sizes) == 2 else None
        if kind == "t":
            if groups is not None:
                n1, n2 = groups
                return _g_from_d(value * math.sqrt(1.0 / n1 + 1.0 / n2), n1, n2)
            if self.effect_n is None:
                return None
            dz = value / math.sqrt(self.effect_n)
            return StandardizedEffect(dz, _dz_se(dz, self.effect_n), "d_z")
        if kind == "r":
            z = math.atanh(value)
            se = self._stored_se(math.atanh)
            if se is None and self.effect_n is not None and self.effect_n > 3:
                se = 1.0 / math.sqrt(self.effect_n - 3)
            return StandardizedEffect(z, se, "fisher_z")
        if kind == "d_z":
            se = self._stored_se()
            if se is None and self.effect_n is not None:
                se = _dz_se(value, self.effect_n)
            return StandardizedEffect(value, se, "d_z")
        if kind == "d" and groups is not None:
            converted = _g_from_d(value, *groups)
            stored = self._stored_se()
            if stored is None:
                return converted
            return converted._replace(se=_hedges_j(*groups) * stored)
        if kind == "d":
            return StandardizedEffect(value, self._stored_se(), "d")
        if kind == "hedges_g":
            se = self._stored_se()
            if se is None and groups is not None:
                j = _hedges_j(*groups)
                se = j * math.sqrt(_d_variance(value / j, *groups))
            return StandardizedEffect(value, se, "hedges_g")
        return None

    def _stored_se(self, to_scale: Callable[[float], float] | None = None) -> float | None:
        """Return the stored SE, else one from the stored 95% CI (after ``to_scale``)."""
        if self.se is not None:
            return self.se
        if self.ci_low is None or self.ci_high is None:
            return None
        low, high = self.ci_low, self.ci_high
        if to_scale is not None:
            low, high = to_scale(low), to_scale(high)
        return (high - low) / (2.0 * _Z95)


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
        Short remark in our own words, written for users.
    doi_reason : str
        Why there is no DOI ("conference abstract", ...); "" when ``doi`` is set.
    year_reason : str
        Why the year is not known; "" when ``year`` is set.
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
    doi_reason: str = ""
    year_reason: str = ""

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
