"""Which analysis tests which claim, and which analysis a results table is.

A claim is judged only by the analysis that tests it (issue 21):

=========================  =================================================
test                       analysis that decides it
=========================  =================================================
``mean change``            a drug-placebo (or before-after) contrast of the
                           measure: ``dmnpharm run`` or ``stats --within``
``any change``             the same contrast, two-sided: a claim that a
                           measure *changes* (direction "mixed")
``between-network``        the contrast on between-network measures only
                           (DMN-SN, DMN-FPN, DMN-DAN, anticorrelation): a
                           claim that a *balance* between networks shifts
``association``            the association of the per-subject change with a
                           rating: ``stats --test-covariate RATING``
``normalization``          patients' distance to controls before and after:
                           ``stats --normalization PATIENT-CONTROL``
``moderation``             how the effect depends on dose or group:
                           ``stats --trend dose_mg`` or a group x time model
=========================  =================================================

Anything else is "not testable with this analysis", with the command that
would test it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from dmnpharm.catalog._claims import Claim
from dmnpharm.catalog._vocabulary import COMPUTED, VOCABULARY

__all__ = [
    "ANALYSIS_KINDS",
    "BETWEEN_NETWORK",
    "MEASURE_ALIASES",
    "ClaimTest",
    "analysis_kind",
    "canonical_measure",
    "claim_test",
    "measure_map",
]

#: Other dmnpharm names of the same definitions: the simulator's and power's
#: ground-truth keys (``within_fc_<NET>``, ``between_fc_<NET>_<NET>``).
MEASURE_ALIASES: dict[str, str] = {
    "within_fc_DMN": "dmn_within_fc",
    "between_fc_DMN_SN": "dmn_salience_fc",
    "between_fc_DMN_FPN": "dmn_fpn_fc",
    "between_fc_DMN_DAN": "dmn_dan_fc",
}

#: What a results table can be, from its ``model``/``test``/``contrast`` columns.
ANALYSIS_KINDS = ("mean change", "association", "normalization", "dose-response")

#: Measures of a balance between the DMN and the task-positive networks.
BETWEEN_NETWORK = ("dmn_salience_fc", "dmn_fpn_fc", "dmn_dan_fc", "dmn_anticorrelation")

_COMMANDS = {
    "mean change": "dmnpharm run STUDY --out OUT (or dmnpharm stats TABLE --within condition "
    "--contrast drug-placebo)",
    "association": "dmnpharm stats TABLE --within condition --contrast drug-placebo "
    "--test-covariate {rating}",
    "normalization": "dmnpharm stats TABLE --within session --contrast post-pre "
    "--normalization patient-control",
    "moderation": "dmnpharm stats TABLE --within condition --trend dose_mg (or a group x "
    "time model: --between group --within session)",
}

#: Claims whose test is not the default of their expected direction.
_SPECIAL: dict[str, tuple[str, str]] = {
    "psychedelic_ego_dissolution": ("association", "ego_dissolution"),
    "stimulant_adhd_task_positive_balance": ("between-network", ""),
    "effects_depend_on_context": ("moderation", ""),
}


@dataclass(frozen=True)
class ClaimTest:
    """The analysis that tests a claim.

    Parameters
    ----------
    kind : str
        ``mean change``, ``any change``, ``between-network``, ``association``,
        ``normalization`` or ``moderation``.
    analysis : str
        The :data:`ANALYSIS_KINDS` entry of the results that can decide it.
    rating : str
        The rating an association claim is about ("" otherwise).
    command : str
        The command that runs that analysis.
    """

    kind: str
    analysis: str
    rating: str
    command: str

    def measures(self, claimed: tuple[str, ...]) -> tuple[str, ...]:
        """Return the claim's measures this test reads.

        Parameters
        ----------
        claimed : tuple of str
            The claim's measures.

        Returns
        -------
        tuple of str
            All of them, or only the between-network ones for a balance claim.
        """
        if self.kind == "between-network":
            return tuple(m for m in claimed if m in BETWEEN_NETWORK)
        return claimed


def claim_test(claim: Claim) -> ClaimTest:
    """Return the analysis that tests a claim.

    Parameters
    ----------
    claim : Claim
        A claim of the catalog.

    Returns
    -------
    ClaimTest
        Its test, the analysis kind that decides it and the command to run it.
    """
    kind, rating = _SPECIAL.get(claim.id, ("", ""))
    if not kind:
        kind = {
            "normalization": "normalization",
            "mixed": "any change",
        }.get(claim.expected_direction, "mean change")
    analysis = {
        "any change": "mean change",
        "between-network": "mean change",
        "moderation": "dose-response",
    }.get(kind, kind)
    command = _COMMANDS.get(analysis if kind != "moderation" else "moderation", "")
    return ClaimTest(kind, analysis, rating, command.format(rating=rating or "RATING"))


def analysis_kind(table: pd.DataFrame) -> str:
    """Return which analysis a results table holds (one of :data:`ANALYSIS_KINDS`).

    Parameters
    ----------
    table : pandas.DataFrame
        Group results of one contrast (``run`` or ``stats``).

    Returns
    -------
    str
        ``normalization`` (distance to controls), ``association`` (a slope on
        a subject covariate: ``model`` "brain-behaviour" or a "slope of"
        contrast), ``dose-response`` (a trend or F over several levels), else
        ``mean change``.
    """
    model = table["model"].astype(str) if "model" in table.columns else pd.Series(dtype=str)
    contrast = table["contrast"].astype(str) if "contrast" in table.columns else model
    test = table["test"].astype(str) if "test" in table.columns else model
    if len(model) and (model == "normalization").all():
        return "normalization"
    if len(contrast) and contrast.str.startswith("distance to ").all():
        return "normalization"
    if len(model) and (model == "brain-behaviour").all():
        return "association"
    if len(contrast) and contrast.str.startswith("slope of").all():
        return "association"
    if len(test) and test.str.contains("trend|repeated measures f", case=False).all():
        return "dose-response"
    return "mean change"


def canonical_measure(name: str) -> str:
    """Return the catalog's name of a results measure with the same definition.

    Parameters
    ----------
    name : str
        A measure of a results table.

    Returns
    -------
    str
        The catalog vocabulary key (the bundle's own names are the catalog's;
        :data:`MEASURE_ALIASES` maps the simulator's), or ``name`` unchanged.
    """
    return MEASURE_ALIASES.get(name, name)


def measure_map(result_measures: list[str]) -> pd.DataFrame:
    """Return how the results' measures match the catalog's, by definition.

    Parameters
    ----------
    result_measures : list of str
        The measures of the results table.

    Returns
    -------
    pandas.DataFrame
        ``results_measure``, ``catalog_measure`` and ``definition`` (the
        catalog's), or ``"(not in the catalog)"``; no match is made by name
        similarity.
    """
    rows = []
    for name in result_measures:
        key = canonical_measure(name)
        if key in VOCABULARY and key in COMPUTED:
            rows.append((name, key, VOCABULARY[key]))
        else:
            rows.append((name, "(not in the catalog)", ""))
    return pd.DataFrame(rows, columns=["results_measure", "catalog_measure", "definition"])
