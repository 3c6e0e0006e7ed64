"""Group statistics: designs, GLM permutation inference, effect sizes.

:func:`analyse` turns a tidy metrics table and a :class:`ModelSpec` into a result
table; :func:`permutation_glm` is the engine (Freedman-Lane, exchangeability
blocks, max-statistic FWER); :func:`sign_flip_test` the fast paired path and
:func:`within_subject_test` the fast repeated-measures one (F over levels, or a
dose trend, with batches of within-subject permutations as matrix products).
:func:`name_measures` gives each region and edge of ``dmnpharm run``'s region and
edge tables its own measure (``gbc[A]``, ``edge_fc[A--B]``) and
:func:`check_unique_runs` refuses a table whose runs repeat a measure.
:func:`t_ppf` is Student's t quantile as ``scipy.stats.t.ppf`` computes it, for
callers that need a t-based interval without importing ``scipy.stats``.
"""

from typing import TYPE_CHECKING

from dmnpharm._utils._lazy import lazy_exports

if TYPE_CHECKING:
    from dmnpharm.stats._backend import BACKENDS, array_module, flip_counts
    from dmnpharm.stats._defaults import (
        CONFIDENCE,
        EFFECT_CI,
        EFFECT_CI_METHODS,
        MOTION_PERMUTATIONS,
        N_BOOTSTRAP,
        N_PERMUTATIONS,
    )
    from dmnpharm.stats._dist import t_ppf
    from dmnpharm.stats._effect_ci import dz_interval, noncentral_t_interval
    from dmnpharm.stats._effects import bootstrap_ci, cohens_dz, hedges_g, pearson_r
    from dmnpharm.stats._glm import Exchangeability, GlmResult, draw_permutations, permutation_glm
    from dmnpharm.stats._measures import (
        RUN_COLUMNS,
        check_unique_runs,
        measure_name,
        name_measures,
        split_measure_name,
    )
    from dmnpharm.stats._mixed import mixed_model, satterthwaite
    from dmnpharm.stats._model import EXTRA_COLUMNS, StatsResult, analyse
    from dmnpharm.stats._nbs import NbsResult, network_based_statistic
    from dmnpharm.stats._null import NULL_MEASURE_LIMIT, PermutationNull
    from dmnpharm.stats._paired import (
        RESULT_COLUMNS,
        paired_differences,
        paired_test,
        sign_flip_test,
    )
    from dmnpharm.stats._qc import QC_MEASURES, motion_imbalance, qc_fc, run_qc
    from dmnpharm.stats._spec import ModelSpec
    from dmnpharm.stats._special import normalization
    from dmnpharm.stats._tfce import TfceResult, tfce, tfce_permutation_test
    from dmnpharm.stats._two_sample import two_sample_permutation_test
    from dmnpharm.stats._within import within_permutations, within_subject_test

__all__ = [
    "BACKENDS",
    "CONFIDENCE",
    "EFFECT_CI",
    "EFFECT_CI_METHODS",
    "EXTRA_COLUMNS",
    "MOTION_PERMUTATIONS",
    "NULL_MEASURE_LIMIT",
    "N_BOOTSTRAP",
    "N_PERMUTATIONS",
    "QC_MEASURES",
    "RESULT_COLUMNS",
    "RUN_COLUMNS",
    "Exchangeability",
    "GlmResult",
    "ModelSpec",
    "NbsResult",
    "PermutationNull",
    "StatsResult",
    "TfceResult",
    "analyse",
    "array_module",
    "bootstrap_ci",
    "check_unique_runs",
    "cohens_dz",
    "draw_permutations",
    "dz_interval",
    "flip_counts",
    "hedges_g",
    "measure_name",
    "mixed_model",
    "motion_imbalance",
    "name_measures",
    "network_based_statistic",
    "noncentral_t_interval",
    "normalization",
    "paired_differences",
    "paired_test",
    "pearson_r",
    "permutation_glm",
    "qc_fc",
    "run_qc",
    "satterthwaite",
    "sign_flip_test",
    "split_measure_name",
    "t_ppf",
    "tfce",
    "tfce_permutation_test",
    "two_sample_permutation_test",
    "within_permutations",
    "within_subject_test",
]

__getattr__, __dir__ = lazy_exports(__name__, __file__)
