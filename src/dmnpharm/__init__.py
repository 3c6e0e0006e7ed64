"""dmnpharm: how psychotropic drugs change the brain's default mode network.

Importing the package does nothing observable: no logging handlers, no plotting
backends, no configuration files. The work lives in the subpackages
(``dmnpharm.simulate``, ``dmnpharm.run``, ``dmnpharm.stats``, ...) and the
command-line tool ``dmnpharm``.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("dmnpharm")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["__version__"]
