"""Predict: what a drug should do to the DMN, and which receptor maps an observed effect follows.

Receptor density maps (loaded from the user's folder or table; never bundled),
spatial-autocorrelation-preserving null maps, and the explanation of an
observed regional effect map by receptor maps (correlations with spatial-null
p-values, multiple regression with dominance analysis, Hansen et al. 2022).
"""

from typing import TYPE_CHECKING

from dmnpharm._utils._lazy import lazy_exports

if TYPE_CHECKING:
    from dmnpharm.predict._distance import read_distance
    from dmnpharm.predict._explain import (
        MAX_DOMINANCE_PREDICTORS,
        DominanceResult,
        adjusted_r2_null,
        dominance_analysis,
        receptor_correlations,
    )
    from dmnpharm.predict._explain_map import DEFAULT_N_NULL, MapExplanation, explain_map
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
    from dmnpharm.predict._receptor_files import (
        load_receptor_pscalar,
        load_receptors,
        parcellate_receptor_volumes,
    )
    from dmnpharm.predict._receptors import (
        HANSEN2022_REFERENCE,
        ReceptorMaps,
        align_regions,
        load_hansen2022,
        load_receptor_table,
    )
    from dmnpharm.predict._surrogates import (
        empirical_variogram,
        euclidean_distance,
        spatial_p,
        variogram_surrogates,
    )

__all__ = [
    "DEFAULT_N_NULL",
    "HANSEN2022_REFERENCE",
    "MAX_DOMINANCE_PREDICTORS",
    "METHODS",
    "REGION_MEASURES",
    "DominanceResult",
    "MapExplanation",
    "OccupancyEstimate",
    "ReceptorMaps",
    "RegionalMap",
    "adjusted_r2_null",
    "align_regions",
    "dominance_analysis",
    "emax_occupancy",
    "empirical_variogram",
    "euclidean_distance",
    "explain_map",
    "fit_ed50",
    "free_concentration_nm",
    "load_hansen2022",
    "load_observed",
    "load_receptor_pscalar",
    "load_receptor_table",
    "load_receptors",
    "mass_action_occupancy",
    "net_sign",
    "net_sign_rule",
    "parcellate_receptor_volumes",
    "read_distance",
    "read_regional_map",
    "receptor_correlations",
    "regional_effect_map",
    "spatial_p",
    "target_occupancy",
    "variogram_surrogates",
]

__getattr__, __dir__ = lazy_exports(__name__, __file__)
