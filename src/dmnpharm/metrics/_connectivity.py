"""Shrunk connectivity estimators: correlation, partial correlation and tangent space.

All covariances are Ledoit-Wolf estimates (scikit-learn ``LedoitWolf``), the default
of nilearn's ``ConnectivityMeasure``, so that results are comparable with studies
that used nilearn.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import linalg

from dmnpharm._utils import check_option
from dmnpharm.exceptions import DmnpharmError, InputError
from dmnpharm.metrics._checks import as_timeseries, check_not_constant, to_fisher_z

__all__ = [
    "CONNECTIVITY_KINDS",
    "ConnectivityResult",
    "TangentResult",
    "connectivity_matrix",
    "tangent_connectivity",
]

#: The kinds accepted by :func:`connectivity_matrix`.
CONNECTIVITY_KINDS: tuple[str, ...] = ("correlation", "partial correlation")

_ESTIMATOR = "LedoitWolf"
_Matrix = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class ConnectivityResult:
    """A connectivity matrix with the estimator that produced it.

    Parameters
    ----------
    matrix : numpy.ndarray
        Regions x regions Fisher z (``arctanh`` of the shrunk coefficient), zero diagonal.
        Read-only.
    kind : str
        ``"correlation"`` or ``"partial correlation"``.
    estimator : str
        Covariance estimator, ``"LedoitWolf"``.
    shrinkage : float
        The Ledoit-Wolf shrinkage intensity used, in [0, 1].
    """

    matrix: _Matrix
    kind: str
    estimator: str
    shrinkage: float


@dataclass(frozen=True, eq=False)
class TangentResult:
    """Tangent-space connectivity of a group of runs and the reference it depends on.

    Parameters
    ----------
    matrices : numpy.ndarray
        Runs x regions x regions tangent matrices (symmetric, diagonal kept). Read-only.
    reference : numpy.ndarray
        Regions x regions geometric-mean covariance the runs were projected at. Read-only.
    run_ids : tuple of str
        Identifier of each run, in the order of ``matrices``.
    reference_runs : tuple of str
        Identifiers of the runs whose covariances formed ``reference``. Tangent values
        change when this set changes, so compare only matrices sharing one reference.
    estimator : str
        Covariance estimator, ``"LedoitWolf"``.
    shrinkage : tuple of float
        Ledoit-Wolf shrinkage of each run.
    iterations : int
        Gradient steps the geometric mean took to converge.
    """

    matrices: npt.NDArray[np.float64]
    reference: _Matrix
    run_ids: tuple[str, ...]
    reference_runs: tuple[str, ...]
    estimator: str
    shrinkage: tuple[float, ...]
    iterations: int


def _ledoit_wolf(x: _Matrix) -> tuple[_Matrix, float]:
    # scikit-learn costs about 0.5 s to import: only the partial and tangent estimators need it.
    from sklearn.covariance import LedoitWolf

    est = LedoitWolf(store_precision=False).fit(x)
    cov = np.asarray(est.covariance_, dtype=np.float64)
    return (cov + cov.T) / 2, float(est.shrinkage_)


def _cov_to_corr(cov: _Matrix) -> _Matrix:
    inv_sd = 1.0 / np.sqrt(np.diag(cov))
    corr: _Matrix = cov * inv_sd[:, None] * inv_sd[None, :]
    np.fill_diagonal(corr, 1.0)
    return corr


def connectivity_matrix(
    data: npt.ArrayLike, kind: Literal["correlation", "partial correlation"]
) -> ConnectivityResult:
    """Return the Ledoit-Wolf shrunk correlation or partial correlation, Fisher z transformed.

    Parameters
    ----------
    data : array-like
        One run's volumes x regions time series, columns in atlas order. No column may
        be constant.
    kind : {"correlation", "partial correlation"}
        ``"correlation"``: the columns are z-scored and their Ledoit-Wolf covariance
        rescaled to unit diagonal; off the diagonal this is ``(1 - shrinkage)`` times
        the Pearson correlation. ``"partial correlation"``: the Ledoit-Wolf
        covariance of the (unstandardised) signals is inverted to the precision
        ``P`` and ``rho_ij = -P_ij / sqrt(P_ii P_jj)``, the correlation of regions
        i and j given all other regions. Both follow nilearn's ``ConnectivityMeasure``
        (0.10-0.14) with its default ``LedoitWolf(store_precision=False)`` estimator.

    Returns
    -------
    ConnectivityResult
        ``matrix`` holds ``arctanh(r)`` (unitless Fisher z; ``|r|`` clipped to
        ``1 - 1e-12``), zeros on the diagonal, with the kind, estimator and shrinkage.

    Notes
    -----
    Shrinkage: Ledoit O, Wolf M (2004) A well-conditioned estimator for
    large-dimensional covariance matrices. J Multivar Anal 88:365-411. Partial
    correlation as a functional connectivity measure: Marrelec G et al. (2006)
    Partial correlation for functional brain interactivity investigation in
    functional MRI. NeuroImage 32:228-237. Because shrinkage lowers ``|r|``, these
    values are smaller than the unshrunk :func:`fisher_z_connectivity`.
    """
    check_option("kind", kind, CONNECTIVITY_KINDS)
    x = as_timeseries(data)
    check_not_constant(x)
    if kind == "correlation":
        xs = (x - x.mean(axis=0)) / x.std(axis=0, ddof=1)
        cov, shrinkage = _ledoit_wolf(xs)
        r = _cov_to_corr(cov)
    else:
        cov, shrinkage = _ledoit_wolf(x)
        r = -_cov_to_corr(linalg.inv(cov, check_finite=False))
    matrix = to_fisher_z(r)
    matrix.setflags(write=False)
    return ConnectivityResult(matrix, kind, _ESTIMATOR, shrinkage)


def _eig_map(func: Callable[[_Matrix], _Matrix], sym: _Matrix) -> _Matrix:
    vals, vecs = linalg.eigh(sym, check_finite=False)
    out: _Matrix = (vecs * func(vals)) @ vecs.T
    return (out + out.T) / 2


def _spd_log(sym: _Matrix, label: str) -> _Matrix:
    vals, vecs = linalg.eigh(sym, check_finite=False)
    if vals[0] <= 0:
        raise InputError(f"the covariance of run {label!r} is not positive definite")
    out: _Matrix = (vecs * np.log(vals)) @ vecs.T
    return (out + out.T) / 2


def _geometric_mean(
    covs: npt.NDArray[np.float64], labels: Sequence[str], max_iter: int = 100
) -> tuple[_Matrix, int]:
    """Riemannian (affine-invariant) mean of SPD matrices by Karcher-flow gradient descent.

    Starts at the log-Euclidean mean; each step moves the estimate G along the
    geodesic by the mean of the whitened logarithms, ``G <- G^1/2 exp(L) G^1/2``
    with ``L = mean_k log(G^-1/2 C_k G^-1/2)``, halving the step when ``||L||``
    grows. Stops when ``||L||_F`` (the gradient norm) is below ``1e-10`` per region.
    """
    tol = 1e-10 * covs.shape[-1]
    logs = [_spd_log(c, label) for c, label in zip(covs, labels, strict=True)]
    gmean = _eig_map(np.exp, np.mean(logs, axis=0))
    step, best = 1.0, np.inf
    for iteration in range(1, max_iter + 1):
        vals, vecs = linalg.eigh(gmean, check_finite=False)
        root = (vecs * np.sqrt(vals)) @ vecs.T
        inv_root = (vecs / np.sqrt(vals)) @ vecs.T
        grad = np.mean([_eig_map(np.log, inv_root @ c @ inv_root) for c in covs], axis=0)
        norm = float(np.linalg.norm(grad))
        if norm < tol:
            return gmean, iteration
        if norm > best:
            step /= 2
        best = min(best, norm)
        gmean = root @ _eig_map(np.exp, step * grad) @ root
        gmean = (gmean + gmean.T) / 2
    raise DmnpharmError(
        f"the geometric mean of the covariances did not converge in {max_iter} steps "
        f"(gradient norm {best:.3g} > {tol:g}); the runs may be too dissimilar"
    )


def tangent_connectivity(
    runs: Sequence[npt.ArrayLike],
    run_ids: Sequence[str] | None = None,
    reference_ids: Sequence[str] | None = None,
) -> TangentResult:
    """Return tangent-space connectivity of runs at their group's geometric-mean covariance.

    Each run's Ledoit-Wolf covariance ``C`` is whitened by the reference ``R`` and
    mapped to the tangent space at ``R``: ``T = logm(R^-1/2 C R^-1/2)``. The
    reference is the geometric (Riemannian, Frechet) mean of the reference runs'
    covariances, the matrix minimising the summed squared affine-invariant distances
    ``||logm(R^-1/2 C_k R^-1/2)||_F^2``. Same definition as nilearn's
    ``ConnectivityMeasure(kind="tangent")``, whose ``vectorize=True`` output keeps the
    diagonal, scaled by ``sqrt(2)``; here the full matrix is returned unscaled.

    Parameters
    ----------
    runs : sequence of array-like
        Volumes x regions time series of each run, the same regions in the same order
        (volume counts may differ). At least two runs.
    run_ids : sequence of str, optional
        An identifier per run (e.g. ``"sub-01_ses-placebo"``) recorded in the result;
        by default the positions ``"0"``, ``"1"``, ...
    reference_ids : sequence of str, optional
        The runs (by id) whose covariances form the reference, e.g. the placebo
        sessions only; by default every run. At least two.

    Returns
    -------
    TangentResult
        Per-run tangent matrices (unitless: matrix logarithm of a whitened covariance;
        off-diagonal entries are not correlations), the reference, the runs that
        formed it and the shrinkage per run.

    Notes
    -----
    Varoquaux G, Baronnet F, Kleinschmidt A, Fillard P, Thirion B (2010) Detection
    of brain functional-connectivity difference in post-stroke patients using
    group-level covariance modeling. MICCAI 2010, LNCS 6361:200-208. Pervaiz U,
    Vidaurre D, Woolrich MW, Smith SM (2020) Optimising network modelling methods
    for fMRI. NeuroImage 211:116604. The mean is computed after Fletcher PT, Joshi S
    (2007) Riemannian geometry for the statistical analysis of diffusion tensor
    data. Signal Processing 87:250-262.
    """
    if len(runs) < 2:
        raise InputError(f"tangent space needs a group of at least two runs, got {len(runs)}")
    ids = tuple(str(i) for i in range(len(runs))) if run_ids is None else tuple(run_ids)
    if len(ids) != len(runs) or len(set(ids)) != len(ids):
        raise InputError(f"run_ids must be {len(runs)} unique identifiers, got {list(ids)}")
    ref_ids = ids if reference_ids is None else tuple(reference_ids)
    for rid in ref_ids:
        check_option("reference run", rid, ids)
    if len(set(ref_ids)) < 2:
        raise InputError("the reference needs at least two distinct runs")
    series = [as_timeseries(run, name=f"run {rid!r}") for run, rid in zip(runs, ids, strict=True)]
    n_regions = {x.shape[1] for x in series}
    if len(n_regions) != 1:
        raise InputError(f"runs have different numbers of regions: {sorted(n_regions)}")
    covs, shrinkage = [], []
    for x, rid in zip(series, ids, strict=True):
        check_not_constant(x, name=f"run {rid!r}")
        cov, s = _ledoit_wolf(x)
        covs.append(cov)
        shrinkage.append(s)
    stack = np.stack(covs)
    chosen = [ids.index(rid) for rid in dict.fromkeys(ref_ids)]
    reference_runs = tuple(ids[i] for i in chosen)
    reference, iterations = _geometric_mean(stack[chosen], reference_runs)
    whiten = _eig_map(lambda v: 1.0 / np.sqrt(v), reference)
    tangents = np.stack(
        [_spd_log(whiten @ c @ whiten, rid) for c, rid in zip(stack, ids, strict=True)]
    )
    tangents.setflags(write=False)
    reference.setflags(write=False)
    return TangentResult(
        matrices=tangents,
        reference=reference,
        run_ids=ids,
        reference_runs=reference_runs,
        estimator=_ESTIMATOR,
        shrinkage=tuple(shrinkage),
        iterations=iterations,
    )
