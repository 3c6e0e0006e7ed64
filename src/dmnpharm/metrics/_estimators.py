"""The connectivity estimators' names, in a module light enough for the command line."""

__all__ = ["ESTIMATORS"]

#: Connectivity estimators: how the region-by-region matrix is made.
ESTIMATORS: dict[str, str] = {
    "pearson": "Pearson correlation, Fisher z transformed",
    "partial": "partial correlation from the Ledoit-Wolf shrunk precision, Fisher z transformed",
    "tangent": "tangent-space projection at the group's geometric mean covariance "
    "(Varoquaux et al. 2010); unitless log-map values",
}
