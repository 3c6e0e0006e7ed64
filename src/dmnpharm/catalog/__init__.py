"""Evidence catalog: what the literature says drugs do to the default mode network.

The catalog is a versioned TOML file shipped with dmnpharm
(``dmnpharm/catalog/data/evidence.toml``): drug classes, agents and their
targets, populations, publications (:class:`Publication`, the file's
``[[studies]]``) with their findings on a controlled measure vocabulary
(:data:`VOCABULARY`; :data:`COMPUTED` are those dmnpharm measures), disease
baselines versus controls, and the design claims (docs/catalog.md) with the publications
that bear on them and a verdict derived by a written rule
(:func:`derive_verdict`). :func:`load_catalog` reads and validates it;
:func:`validate` lists every schema problem of a parsed file at once.
:func:`compare` sets a group results table beside the claims and findings;
drawing and writing that comparison is :func:`dmnpharm.report.write_comparison`.
"""

from typing import TYPE_CHECKING

from dmnpharm._utils._lazy import lazy_exports

if TYPE_CHECKING:
    from dmnpharm.catalog._claim_tests import MEASURE_ALIASES, canonical_measure
    from dmnpharm.catalog._claims import Claim, ClaimLink, derive_verdict
    from dmnpharm.catalog._compare import Comparison, compare, comparison_text
    from dmnpharm.catalog._compare_rows import COMPARE_COLUMNS, COMPARE_VERDICTS
    from dmnpharm.catalog._describe import evidence_summary, show, summary_text
    from dmnpharm.catalog._drugs import Agent, DrugClass, Target
    from dmnpharm.catalog._fields import DOI_PATTERN
    from dmnpharm.catalog._load import default_catalog_path, load_catalog
    from dmnpharm.catalog._local import (
        LOCAL_CATALOG_ENV,
        add_studies,
        local_catalog_path,
        merge_local,
        read_local_studies,
        read_study_file,
    )
    from dmnpharm.catalog._local_results import RESULT_FIELDS, study_from_results
    from dmnpharm.catalog._model import Catalog
    from dmnpharm.catalog._pharmacology import (
        Component,
        DoseInfo,
        DrugProfile,
        FreeFraction,
        OccupancyMeasurement,
        Pharmacology,
        PlasmaLevel,
        ReceptorCoupling,
        TargetAffinity,
        load_pharmacology,
    )
    from dmnpharm.catalog._publications import (
        EFFECT_CONFIDENCE,
        EFFECT_KINDS,
        Baseline,
        Finding,
        Population,
        Publication,
        StandardizedEffect,
    )
    from dmnpharm.catalog._query import (
        FINDING_COLUMNS,
        FINDING_FIELDS,
        KINDS,
        STUDY_COLUMNS,
        finding_record,
        study_records,
        table_of,
    )
    from dmnpharm.catalog._render import FORMATS, records, render
    from dmnpharm.catalog._results import read_results
    from dmnpharm.catalog._schema import validate
    from dmnpharm.catalog._select import DrugSelection, resolve_drug
    from dmnpharm.catalog._template import studies_toml, template_text, toml_value
    from dmnpharm.catalog._vocabulary import (
        ANY,
        COMPUTED,
        CONFIRMATION,
        DESIGNS,
        DIRECTIONS,
        EFFECT_METRICS,
        MODALITIES,
        MODES,
        RELATIONS,
        VERDICTS,
        VOCABULARY,
    )

__all__ = [
    "ANY",
    "COMPARE_COLUMNS",
    "COMPARE_VERDICTS",
    "COMPUTED",
    "CONFIRMATION",
    "DESIGNS",
    "DIRECTIONS",
    "DOI_PATTERN",
    "EFFECT_CONFIDENCE",
    "EFFECT_KINDS",
    "EFFECT_METRICS",
    "FINDING_COLUMNS",
    "FINDING_FIELDS",
    "FORMATS",
    "KINDS",
    "LOCAL_CATALOG_ENV",
    "MEASURE_ALIASES",
    "MODALITIES",
    "MODES",
    "RELATIONS",
    "RESULT_FIELDS",
    "STUDY_COLUMNS",
    "VERDICTS",
    "VOCABULARY",
    "Agent",
    "Baseline",
    "Catalog",
    "Claim",
    "ClaimLink",
    "Comparison",
    "Component",
    "DoseInfo",
    "DrugClass",
    "DrugProfile",
    "DrugSelection",
    "Finding",
    "FreeFraction",
    "OccupancyMeasurement",
    "Pharmacology",
    "PlasmaLevel",
    "Population",
    "Publication",
    "ReceptorCoupling",
    "StandardizedEffect",
    "Target",
    "TargetAffinity",
    "add_studies",
    "canonical_measure",
    "compare",
    "comparison_text",
    "default_catalog_path",
    "derive_verdict",
    "evidence_summary",
    "finding_record",
    "load_catalog",
    "load_pharmacology",
    "local_catalog_path",
    "merge_local",
    "read_local_studies",
    "read_results",
    "read_study_file",
    "records",
    "render",
    "resolve_drug",
    "show",
    "studies_toml",
    "study_from_results",
    "study_records",
    "summary_text",
    "table_of",
    "template_text",
    "toml_value",
    "validate",
]

__getattr__, __dir__ = lazy_exports(__name__, __file__)
