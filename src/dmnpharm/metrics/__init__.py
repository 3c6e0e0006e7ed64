"""Subject-level DMN measures, one tidy row per run and measure.

Connectivity (:func:`connectivity_matrix`: shrunk correlation or partial
correlation; :func:`tangent_connectivity` with a group reference), network
summaries (within- and between-network means, segregation, global brain
connectivity, DMN-task-positive anticorrelation), graph measures of DMN nodes
(degree, participation), amplitude (:func:`region_amplitude`: ALFF, fALFF),
dynamics (:func:`sliding_window_fc`) and complexity (sample entropy,
Lempel-Ziv). Every function documents its definition, unit and reference.
"""

from typing import TYPE_CHECKING

from dmnpharm._utils._lazy import lazy_exports

if TYPE_CHECKING:
    from dmnpharm.metrics._amplitude import RegionAmplitude, region_amplitude
    from dmnpharm.metrics._bundle import (
        BUNDLE_COLUMNS,
        estimate_connectivity,
        matrix_measures,
        run_bundle,
    )
    from dmnpharm.metrics._bundle_config import BundleConfig
    from dmnpharm.metrics._complexity import (
        lempel_ziv_complexity,
        regional_lempel_ziv,
        regional_sample_entropy,
        sample_entropy,
    )
    from dmnpharm.metrics._connectivity import (
        CONNECTIVITY_KINDS,
        ConnectivityResult,
        TangentResult,
        connectivity_matrix,
        tangent_connectivity,
    )
    from dmnpharm.metrics._dynamics import SlidingWindowResult, sliding_window_fc
    from dmnpharm.metrics._estimators import ESTIMATORS
    from dmnpharm.metrics._fc import (
        MEASURES,
        MeasureSpec,
        fisher_z_connectivity,
        network_mean_fc,
        run_fc_metrics,
    )
    from dmnpharm.metrics._graph import (
        NodeGraphMeasures,
        network_node_measures,
        participation_coefficient,
        proportional_threshold,
    )
    from dmnpharm.metrics._names import NETWORK_MEASURES
    from dmnpharm.metrics._references import (
        ESTIMATOR_REFERENCES,
        MEASURE_CAVEATS,
        MEASURE_REFERENCES,
    )
    from dmnpharm.metrics._systems import (
        TASK_POSITIVE_NETWORKS,
        AnticorrelationResult,
        dmn_anticorrelation,
        global_brain_connectivity,
        network_gbc,
        network_segregation,
        system_segregation,
    )

__all__ = [
    "BUNDLE_COLUMNS",
    "CONNECTIVITY_KINDS",
    "ESTIMATORS",
    "ESTIMATOR_REFERENCES",
    "MEASURES",
    "MEASURE_CAVEATS",
    "MEASURE_REFERENCES",
    "NETWORK_MEASURES",
    "TASK_POSITIVE_NETWORKS",
    "AnticorrelationResult",
    "BundleConfig",
    "ConnectivityResult",
    "MeasureSpec",
    "NodeGraphMeasures",
    "RegionAmplitude",
    "SlidingWindowResult",
    "TangentResult",
    "connectivity_matrix",
    "dmn_anticorrelation",
    "estimate_connectivity",
    "fisher_z_connectivity",
    "global_brain_connectivity",
    "lempel_ziv_complexity",
    "matrix_measures",
    "network_gbc",
    "network_mean_fc",
    "network_node_measures",
    "network_segregation",
    "participation_coefficient",
    "proportional_threshold",
    "region_amplitude",
    "regional_lempel_ziv",
    "regional_sample_entropy",
    "run_bundle",
    "run_fc_metrics",
    "sample_entropy",
    "sliding_window_fc",
    "system_segregation",
    "tangent_connectivity",
]

__getattr__, __dir__ = lazy_exports(__name__, __file__)
