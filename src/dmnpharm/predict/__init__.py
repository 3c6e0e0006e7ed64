"""Predict: what a drug should do to the DMN, and which receptor maps an observed effect follows.

Receptor density maps (loaded from the user's folder or table; never bundled),
spatial-autocorrelation-preserving null maps, and the explanation of an
observed regional effect map by receptor maps (correlations with spatial-null
p-values, multiple regression with dominance analysis, Hansen et al. 2022).
"""

from typing import TYPE_CHECKING

from dmnpharm._utils._lazy import lazy_exports

if TYPE_CHECKING:
    from dmnpharm.predict._distance import read_distance, read_region_matrix
    from dmnpharm.predict._drug import (
        LOAD_NOTE,
        NETWORK_COLUMNS,
        DrugPrediction,
        model_network_changes,
        predict_drug,
    )
    from dmnpharm.predict._explain import (
        MAX_DOMINANCE_PREDICTORS,
        DominanceResult,
        adjusted_r2_null,
        dominance_analysis,
        receptor_correlations,
    )
    from dmnpharm.predict._explain_map import DEFAULT_N_NULL, MapExplanation, explain_map
    from dmnpharm.predict._hopf import (
        CONNECTOME_MAX,
        DEFAULT_A,
        DEFAULT_OMEGA,
        DEFAULT_SIGMA,
        EDR_DECAY,
        Connectome,
        distance_connectome,
        hopf_jacobian,
        linear_noise_fc,
        simulate_hopf,
    )
    from dmnpharm.predict._hopf_fit import CouplingFit, fit_coupling
    from dmnpharm.predict._hopf_predict import (
        DEFAULT_SCALE,
        MAX_BAND_COUPLINGS,
        ModelPrediction,
        band_couplings,
        predict_fc_change,
    )
    from dmnpharm.predict._observed import (
        REGION_MEASURES,
        RegionalMap,
        load_observed,
        read_regional_map,
        regional_effect_map,
    )
    from dmnpharm.predict._occupancy import (
        METHODS,
        OccupancyEstimate,
        emax_occupancy,
        fit_ed50,
        free_concentration_nm,
        mass_action_occupancy,
        net_sign,
        net_sign_rule,
        target_occupancy,
    )
    from dmnpharm.predict._pharmacological import (
        PharmacologicalPrediction,
        network_loads,
        pharmacological_map,
    )
    from dmnpharm.predict._prediction import Prediction, observed_network_changes
    from dmnpharm.predict._receptor_files import (
        load_receptor_pscalar,
        load_receptors,
        parcellate_receptor_volumes,
        with_atlas_coords,
    )
    from dmnpharm.predict._receptors import (
        HANSEN2022_REFERENCE,
        ReceptorMaps,
        align_regions,
        load_hansen2022,
        load_receptor_table,
    )
    from dmnpharm.predict._study_fc import ReferenceFC, reference_fc
    from dmnpharm.predict._surrogates import (
        empirical_variogram,
        euclidean_distance,
        spatial_p,
        variogram_surrogates,
    )

__all__ = [
    "CONNECTOME_MAX",
    "DEFAULT_A",
    "DEFAULT_N_NULL",
    "DEFAULT_OMEGA",
    "DEFAULT_SCALE",
    "DEFAULT_SIGMA",
    "EDR_DECAY",
    "HANSEN2022_REFERENCE",
    "LOAD_NOTE",
    "MAX_BAND_COUPLINGS",
    "MAX_DOMINANCE_PREDICTORS",
    "METHODS",
    "NETWORK_COLUMNS",
    "REGION_MEASURES",
    "Connectome",
    "CouplingFit",
    "DominanceResult",
    "DrugPrediction",
    "MapExplanation",
    "ModelPrediction",
    "OccupancyEstimate",
    "PharmacologicalPrediction",
    "Prediction",
    "ReceptorMaps",
    "ReferenceFC",
    "RegionalMap",
    "adjusted_r2_null",
    "align_regions",
    "band_couplings",
    "distance_connectome",
    "dominance_analysis",
    "emax_occupancy",
    "empirical_variogram",
    "euclidean_distance",
    "explain_map",
    "fit_coupling",
    "fit_ed50",
    "free_concentration_nm",
    "hopf_jacobian",
    "linear_noise_fc",
    "load_hansen2022",
    "load_observed",
    "load_receptor_pscalar",
    "load_receptor_table",
    "load_receptors",
    "mass_action_occupancy",
    "model_network_changes",
    "net_sign",
    "net_sign_rule",
    "network_loads",
    "observed_network_changes",
    "parcellate_receptor_volumes",
    "pharmacological_map",
    "predict_drug",
    "predict_fc_change",
    "read_distance",
    "read_region_matrix",
    "read_regional_map",
    "receptor_correlations",
    "reference_fc",
    "regional_effect_map",
    "simulate_hopf",
    "spatial_p",
    "target_occupancy",
    "variogram_surrogates",
    "with_atlas_coords",
]

__getattr__, __dir__ = lazy_exports(__name__, __file__)
