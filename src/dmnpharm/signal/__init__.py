"""Denoising of region time series: named confound strategies, censoring, filtering.

:class:`DenoiseConfig` names a strategy (``6p``, ``24p``, ``36p``, ``acompcor``,
``aroma``, with or without global signal regression) and its censoring and
filter settings; :func:`clean_run` applies it to one run's signals with the
run's fMRIPrep confounds table and returns the cleaned kept volumes with a
provenance record. Results agree with :func:`nilearn.signal.clean` fed by
:func:`nilearn.interfaces.fmriprep.load_confounds` where the two define the
same thing (see :func:`clean_run`). :func:`low_frequency_amplitude` gives
ALFF and fALFF, through the Lomb-Scargle spectrum when volumes were censored.
"""

from typing import TYPE_CHECKING

from dmnpharm._utils._lazy import lazy_exports

if TYPE_CHECKING:
    from dmnpharm.signal._clean import CleanResult, clean_run
    from dmnpharm.signal._config import DEFAULT_DENOISE, RECOMMENDED, STRATEGIES, DenoiseConfig
    from dmnpharm.signal._confounds import kept_volumes, select_confounds
    from dmnpharm.signal._requirements import (
        confounds_problems,
        length_problems,
        needs_confounds,
        nyquist_problems,
    )
    from dmnpharm.signal._spectrum import (
        ALFF_BAND,
        Amplitude,
        amplitude_spectrum,
        low_frequency_amplitude,
        zscore_finite,
    )

__all__ = [
    "ALFF_BAND",
    "DEFAULT_DENOISE",
    "RECOMMENDED",
    "STRATEGIES",
    "Amplitude",
    "CleanResult",
    "DenoiseConfig",
    "amplitude_spectrum",
    "clean_run",
    "confounds_problems",
    "kept_volumes",
    "length_problems",
    "low_frequency_amplitude",
    "needs_confounds",
    "nyquist_problems",
    "select_confounds",
    "zscore_finite",
]

__getattr__, __dir__ = lazy_exports(__name__, __file__)
