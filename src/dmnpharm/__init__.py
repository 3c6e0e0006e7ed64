"""dmnpharm: how psychotropic drugs change the brain's default mode network.

The public object model, imported on first use (importing the package does
nothing observable: no logging handlers, no plotting backends, no files read)::

    import dmnpharm as dp

    study = dp.Study.from_folder("my_study")      # BIDS + fMRIPrep, or ROI level
    config = dp.AnalysisConfig()                  # every analytic choice, validated
    results = study.analyse(config, out="results")
    results.results                               # one row per measure

:class:`Study`, :class:`AnalysisConfig` (with :class:`Inference` and
:class:`Execution`) and :class:`Results` are the whole of it; the layers below
(``dmnpharm.signal``, ``dmnpharm.metrics``, ``dmnpharm.stats`` ...) are
usable on their own, and the command-line tool ``dmnpharm`` is a thin shell
over these objects.
"""

from typing import TYPE_CHECKING

from dmnpharm._utils._lazy import lazy_exports
from dmnpharm._version import __version__

if TYPE_CHECKING:
    from dmnpharm.config import AnalysisConfig, Execution, Inference
    from dmnpharm.pipeline import Results, Study

__all__ = ["AnalysisConfig", "Execution", "Inference", "Results", "Study", "__version__"]

__getattr__, __dir__ = lazy_exports(__name__, __file__)
