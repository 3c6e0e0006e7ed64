"""Controlled vocabularies of the evidence catalog: measures, designs, directions, ...

The data file may use these values only; :func:`dmnpharm.catalog.validate`
checks them. Measure names are dmnpharm's own (:data:`COMPUTED`) plus a few
that the literature reports and dmnpharm does not compute.
"""

from __future__ import annotations

from dmnpharm.metrics import NETWORK_MEASURES

__all__ = [
    "ANY",
    "COMPUTED",
    "CONFIRMATION",
    "DESIGNS",
    "DIRECTIONS",
    "EFFECT_METRICS",
    "MODALITIES",
    "MODES",
    "RELATIONS",
    "VERDICTS",
    "VOCABULARY",
]

#: Measures the literature reports that dmnpharm does not compute, one line each.
_CATALOG_ONLY: dict[str, str] = {
    "dmn_activity_task": "task-evoked activation or deactivation of DMN regions "
    "(task fMRI; not resting-state evidence) [catalog only]",
    "dmn_cbf": "cerebral blood flow (arterial spin labelling) or resting BOLD level "
    "in DMN regions [catalog only]",
    "dmn_centrality": "voxel- or region-wise centrality of DMN territory in the whole-brain "
    "graph (degree or eigenvector centrality, FC density) [catalog only]",
    "dmn_integrity": "strength or spatial coherence of the ICA/dual-regression DMN component "
    "(map-level integrity) [catalog only]",
    "dmn_between_fc_other": "connectivity between DMN regions and regions outside the SN, FPN "
    "and DAN (sensory, motor, limbic, subcortical, cerebellar) [catalog only]",
    "non_dmn_fc": "connectivity within or between networks that do not include the DMN "
    "(e.g. visual, sensorimotor, striatal, thalamic) [catalog only]",
    "non_dmn_activity": "amplitude, blood flow or task activation of regions outside the DMN "
    "[catalog only]",
    "global_fc": "brain-wide connectivity: mean or global FC over all regions [catalog only]",
    "modularity": "graph modularity of the whole-brain network (lower = more integrated) "
    "[catalog only]",
    "brain_entropy": "whole-brain entropy, state-transition or control-energy measures "
    "[catalog only]",
}

#: Controlled measure vocabulary: every dmnpharm network measure plus the
#: catalog-only measures (marked "[catalog only]" in their description).
VOCABULARY: dict[str, str] = {**NETWORK_MEASURES, **_CATALOG_ONLY}

#: The measures of :data:`VOCABULARY` that dmnpharm computes.
COMPUTED: frozenset[str] = frozenset(NETWORK_MEASURES)

#: Direction of a finding, always of the signed value of its measure: a weaker
#: DMN-task-positive anticorrelation (less negative) is an "increase".
DIRECTIONS: tuple[str, ...] = ("increase", "decrease", "no change", "normalization", "mixed")

#: Study designs. "crossover": within-subject drug vs placebo, another drug or
#: off-drug, in counterbalanced or randomized order;
#: "parallel": randomized groups; "placebo-controlled": placebo-controlled but
#: within- or between-subject allocation not known; "open": uncontrolled
#: pre/post or on/off exposure; "longitudinal": weeks of treatment with
#: repeated scans and no placebo arm; "meta-analysis" includes pooled
#: mega-analyses; "review": review or hypothesis; "modeling": a computational
#: model or re-analysis built on existing data.
DESIGNS: tuple[str, ...] = (
    "crossover",
    "parallel",
    "placebo-controlled",
    "open",
    "cross-sectional",
    "meta-analysis",
    "longitudinal",
    "review",
    "modeling",
)

#: How far the record was confirmed at its source (docs/evidence.md grades C/P/U).
CONFIRMATION: tuple[str, ...] = ("confirmed", "partial", "unconfirmed")

#: How a study bears on a claim.
RELATIONS: tuple[str, ...] = ("supports", "contradicts", "partial")

#: What the linked evidence says about a claim (see :func:`derive_verdict`).
VERDICTS: tuple[str, ...] = ("supported", "contested", "weak", "no resting-state evidence")

#: How a drug acts on a target.
MODES: tuple[str, ...] = (
    "inhibitor",
    "agonist",
    "partial agonist",
    "antagonist",
    "releaser",
    "modulator",
    "blocker",
)

#: What was scanned: resting state, task, or both.
MODALITIES: tuple[str, ...] = ("rest", "task", "rest+task")

#: Names of the standardized effect of a finding ("" when none is given):
#: Cohen's d, paired d_z, Hedges' g, correlation r, t or z statistic.
EFFECT_METRICS: tuple[str, ...] = ("d", "dz", "g", "r", "t", "z", "")

#: Wildcard id: a claim whose drug class or population is ``ANY`` applies to all.
ANY = "any"
