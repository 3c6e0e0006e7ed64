"""General linear model with Freedman-Lane permutation inference, vectorised over measures.

For a design ``X`` (n x p) and a contrast ``C`` (q x p, full row rank), the model is
re-parameterised into regressors of interest and nuisance ``Z`` (``X`` times a basis
of the null space of ``C``). Freedman and Lane (1983) permute the residuals of the
nuisance-only fit and add them back to its fitted values; Winkler et al. (2014,
NeuroImage 92:381-397) show this is the most robust of the usual schemes. Because the
nuisance fit lies in the column space of ``X``, the permuted statistic needs only the
permuted nuisance residuals ``M = P R_z``:

* with ``Q_i`` an orthonormal basis of the part of ``col(X)`` orthogonal to ``Z``
  and ``Q_x`` one of ``col(X)``, ``RSS = |M|^2 - |Q_x' M|^2``;
* ``t = Q_i' M / sqrt(RSS / (n - p))`` when ``q = 1`` (the sign of ``Q_i`` follows the
  contrast), and ``F = |Q_i' M|^2 / q / (RSS / (n - p))``.

So a permutation costs one gather and two small matrix products per measure, done in
batches that bound memory. The family-wise error over measures uses the maximum
statistic (|t| or F) per permutation; all measures share the permutations.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import linalg

from dmnpharm._utils import fill_doc, progress
from dmnpharm.exceptions import InputError
from dmnpharm.stats._defaults import N_PERMUTATIONS
from dmnpharm.stats._dist import f_sf, t_sf
from dmnpharm.stats._null import NULL_MEASURE_LIMIT, PermutationNull

__all__ = [
    "Exchangeability",
    "GlmResult",
    "draw_permutations",
    "null_statistics",
    "permutation_count",
    "permutation_glm",
]

Array = npt.NDArray[np.float64]

_BATCH_BYTES = 64 * 2**20
_TIE_RTOL = 1e-10


@dataclass(frozen=True, eq=False)
class Exchangeability:
    """How rows may be shuffled under the null hypothesis.

    Parameters
    ----------
    kind : str
        ``permute``: rows are exchanged, only within their block;
        ``sign-flip``: each row's residual may change sign (symmetric errors),
        e.g. per-subject differences.
    blocks : numpy.ndarray or None
        One block label per row; rows are only exchanged within a block (e.g.
        conditions within a subject, subjects within a site). None: one block.
    description : str
        Readable summary for outputs.
    """

    kind: str = "permute"
    blocks: npt.NDArray[Any] | None = None
    description: str = "rows freely exchangeable"

    def __post_init__(self) -> None:
        """Check the kind."""
        if self.kind not in ("permute", "sign-flip"):
            raise InputError(f"exchangeability kind must be permute or sign-flip, got {self.kind}")


@dataclass(frozen=True, eq=False)
class GlmResult:
    """Per-measure results of :func:`permutation_glm`.

    Parameters
    ----------
    estimate : numpy.ndarray
        ``C beta`` for a t contrast (q = 1); NaN for an F contrast.
    se : numpy.ndarray
        Standard error of the estimate (t contrasts).
    statistic : numpy.ndarray
        t (q = 1) or F.
    df : tuple of float
        ``(q, n - p)``.
    p_parametric, p_uncorrected, p_fwer : numpy.ndarray
        Two-sided t or F p-value; permutation p; max-statistic FWER p.
    partial_eta2 : numpy.ndarray
        ``q F / (q F + n - p)``.
    n_permutations : int
        Permutations used (the identity is counted in the +1).
    exact : bool
        Whether they were every sign flip there is (:func:`permutation_count`).
    null : PermutationNull or None
        The permuted statistics (signed t, or F) per measure, kept when there
        are at most :data:`NULL_MEASURE_LIMIT` measures, and the maximum |t|
        (or F) over measures per permutation; they reproduce ``p_uncorrected``
        and ``p_fwer``.
    """

    estimate: Array
    se: Array
    statistic: Array
    df: tuple[float, float]
    p_parametric: Array
    p_uncorrected: Array
    p_fwer: Array
    partial_eta2: Array
    n_permutations: int
    exact: bool = False
    null: PermutationNull | None = None


def _count_reaching(null: npt.ArrayLike, thresholds: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Count, per threshold, the null values at or above it (a sorted search, no grid)."""
    ordered = np.sort(np.asarray(null, dtype=np.float64))
    limits = np.asarray(thresholds, dtype=np.float64)
    counts: npt.NDArray[np.int64] = ordered.size - np.searchsorted(ordered, limits, side="left")
    return counts


def _orthonormal(a: Array) -> Array:
    """Orthonormal basis of the column space of ``a`` (rank-revealing QR)."""
    if a.shape[1] == 0:
        return np.zeros((a.shape[0], 0))
    q, r, _ = linalg.qr(a, mode="economic", pivoting=True)
    diag = np.abs(np.diag(r))
    rank = int(np.sum(diag > diag.max() * 1e-10)) if diag.size else 0
    basis: Array = np.asarray(q[:, :rank], dtype=np.float64)
    return basis


def permutation_count(
    exchangeability: Exchangeability, n_rows: int, n_permutations: int
) -> tuple[int, bool]:
    """Return how many permutations are drawn, and whether they are all there are.

    Sign flips of ``n`` rows have ``2**n - 1`` non-identity members; when
    that is no more than ``n_permutations`` every one is enumerated (an exact
    test: with the identity, ``p = (count + 1) / 2**n``, the smallest
    attainable ``1 / 2**n``). Otherwise ``n_permutations`` are drawn at random.

    Parameters
    ----------
    exchangeability : Exchangeability
        The scheme.
    n_rows : int
        Rows of the design.
    n_permutations : int
        Permutations asked for.

    Returns
    -------
    tuple of (int, bool)
        The number of permutations (identity excluded) and whether they are
        every one.

    Examples
    --------
    >>> permutation_count(Exchangeability("sign-flip", None, ""), 8, 10000)
    (255, True)
    """
    if exchangeability.kind == "sign-flip" and n_rows < 63 and 2**n_rows - 1 <= n_permutations:
        return 2**n_rows - 1, True
    return n_permutations, False


@fill_doc
def draw_permutations(
    exchangeability: Exchangeability, n_rows: int, n_permutations: int, rng: np.random.Generator
) -> npt.NDArray[np.int64] | Array:
    """Draw permutations (row indices) or sign flips respecting the exchangeability.

    Parameters
    ----------
    exchangeability : Exchangeability
        The scheme.
    n_rows : int
        Rows of the design.
    %(n_permutations)s
        The identity is not included.
    %(rng)s

    Returns
    -------
    numpy.ndarray
        ``n_permutations x n_rows``: row indices (permute) or +/-1 (sign-flip);
        for sign flips whose non-identity members number no more than
        ``n_permutations``, every one of them (:func:`permutation_count`).
    """
    count, exact = permutation_count(exchangeability, n_rows, n_permutations)
    if exact:
        codes = (np.arange(1, count + 1)[:, None] >> np.arange(n_rows)[None, :]) & 1
        every: Array = (1.0 - 2.0 * codes).astype(np.float64)
        return every
    if exchangeability.kind == "sign-flip":
        signs = rng.integers(0, 2, size=(n_permutations, n_rows))
        flips: Array = (1.0 - 2.0 * signs).astype(np.float64)
        return flips
    blocks = exchangeability.blocks
    keys = rng.random((n_permutations, n_rows))
    if blocks is None:
        perms: npt.NDArray[np.int64] = np.argsort(keys, axis=1)
        return perms
    codes = np.unique(np.asarray(blocks), return_inverse=True)[1].astype(np.float64)
    order = np.argsort(codes, kind="stable")  # positions grouped by block
    shuffled = np.argsort(codes[None, :] + keys, axis=1)  # random order within each block
    perms = np.empty((n_permutations, n_rows), dtype=np.int64)
    perms[:, order] = shuffled
    return perms


@dataclass(frozen=True, eq=False)
class _FreedmanLane:
    """Projections of one design and contrast, and the nuisance residuals of the data."""

    q: int
    df2: float
    q_x: Array
    q_i: Array
    resid_z: Array
    pinv: Array

    @classmethod
    def build(cls, yy: Array, xx: Array, cc: Array) -> _FreedmanLane:
        q = cc.shape[0]
        q_z = _orthonormal(xx @ linalg.null_space(cc))
        q_x = _orthonormal(xx)
        pinv: Array = np.asarray(np.linalg.pinv(xx), dtype=np.float64)
        if q == 1:
            a = pinv.T @ cc[0]  # c' beta = a' y; a lies in col(X), orthogonal to Z
            q_i = (a / np.linalg.norm(a))[:, None]
        else:
            q_i = _orthonormal(q_x - q_z @ (q_z.T @ q_x))
        resid_z = yy - q_z @ (q_z.T @ yy)
        return cls(q, float(xx.shape[0] - xx.shape[1]), q_x, q_i, resid_z, pinv)

    def statistics(self, m: Array) -> Array:
        """Signed t (q = 1) or F per (permutation, measure) of permuted residuals m."""
        proj_x = np.einsum("nr,bnk->brk", self.q_x, m)
        rss = np.einsum("bnk,bnk->bk", m, m) - np.einsum("brk,brk->bk", proj_x, proj_x)
        sigma2 = np.maximum(rss, 0.0) / self.df2
        proj_i = np.einsum("nr,bnk->brk", self.q_i, m)
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.q == 1:
                out: Array = proj_i[:, 0, :] / np.sqrt(sigma2)
            else:
                out = np.einsum("brk,brk->bk", proj_i, proj_i) / self.q / sigma2
        return np.nan_to_num(out, nan=0.0, posinf=np.inf, neginf=-np.inf)


@fill_doc
def null_statistics(
    model: _FreedmanLane, exchangeability: Exchangeability, n_permutations: int, seed: int
) -> Iterator[tuple[int, Array]]:
    """Yield ``(first permutation index, statistics)`` batches of the permutation null.

    Parameters
    ----------
    model : _FreedmanLane
        Prepared design, contrast and nuisance residuals.
    exchangeability : Exchangeability
        How rows may be shuffled.
    %(n_permutations)s
    %(seed)s

    Yields
    ------
    tuple of (int, numpy.ndarray)
        The batch's first permutation and its ``batch x measures`` statistics
        (signed t, or F), in a batch size that bounds memory.
    """
    n, k = model.resid_z.shape
    perms = draw_permutations(exchangeability, n, n_permutations, np.random.default_rng(seed))
    batch = max(1, _BATCH_BYTES // (8 * n * k))
    flipped = exchangeability.kind == "sign-flip"
    for start in progress(range(0, perms.shape[0], batch), "permutations"):
        chunk = perms[start : start + batch]
        m = chunk[:, :, None] * model.resid_z[None] if flipped else model.resid_z[chunk]
        yield start, model.statistics(m)


@fill_doc
def permutation_glm(
    y: npt.ArrayLike,
    x: npt.ArrayLike,
    contrast: npt.ArrayLike,
    exchangeability: Exchangeability | None = None,
    n_permutations: int = N_PERMUTATIONS,
    seed: int = 0,
    column_names: tuple[str, ...] | None = None,
) -> GlmResult:
    """Fit an OLS model to every measure and test a contrast by Freedman-Lane permutation.

    Parameters
    ----------
    y : array_like
        Rows x measures (a 1D array is one measure).
    %(design_matrix)s
        It must have full column rank.
    contrast : array_like
        A vector (t contrast) or a q x p matrix (F contrast, full row rank).
    %(exchangeability)s
    %(n_permutations)s
        p-values are ``(count + 1) / (n_permutations + 1)``; sign flips are
        all enumerated when there are no more (:func:`permutation_count`).
    %(seed)s
    column_names : tuple of str, optional
        Names of the design's columns, used in error messages.

    Returns
    -------
    GlmResult
        Per measure: estimate, statistic, parametric and permutation p-values.

    Raises
    ------
    InputError
        Shapes disagree, values are not finite, the design is rank deficient
        (the message names the dependent columns), or no residual df is left.
    """
    yy = np.asarray(y, dtype=np.float64)
    if yy.ndim == 1:
        yy = yy[:, None]
    xx = np.asarray(x, dtype=np.float64)
    cc = np.atleast_2d(np.asarray(contrast, dtype=np.float64))
    n, p = xx.shape
    if yy.shape[0] != n:
        raise InputError(f"y has {yy.shape[0]} rows but the design has {n}")
    if cc.shape[1] != p:
        raise InputError(f"the contrast has {cc.shape[1]} entries but the design {p} columns")
    if not (np.isfinite(yy).all() and np.isfinite(xx).all()):
        raise InputError("the data or the design contain non-finite values")
    if n - p < 1:
        raise InputError(f"{n} rows and {p} regressors leave no residual degrees of freedom")
    rank = np.linalg.matrix_rank(xx)
    if rank < p:
        names = column_names or tuple(f"column {i}" for i in range(p))
        null = linalg.null_space(xx)
        involved = np.flatnonzero(np.abs(null).max(axis=1) > 1e-8)
        dependent = ", ".join(names[int(i)] for i in involved)
        raise InputError(
            f"the design is rank deficient (rank {rank} of {p} columns); linearly "
            f"dependent: {dependent}. Drop one of them (or a constant or all-zero column)"
        )
    if np.linalg.matrix_rank(cc) < cc.shape[0]:
        raise InputError("the contrast rows are linearly dependent")
    if n_permutations < 1:
        raise InputError(f"n_permutations must be positive, got {n_permutations}")
    exch = exchangeability or Exchangeability()
    n_permutations, exact = permutation_count(exch, n, n_permutations)
    model = _FreedmanLane.build(yy, xx, cc)
    q, df2, pinv = model.q, model.df2, model.pinv
    observed = model.statistics(model.resid_z[None])[0]
    target = np.abs(observed) if q == 1 else observed
    threshold = target * (1 - _TIE_RTOL)
    count = np.zeros(yy.shape[1])
    row_max = np.empty(n_permutations)
    kept = np.empty((n_permutations, yy.shape[1])) if yy.shape[1] <= NULL_MEASURE_LIMIT else None
    for start, null in null_statistics(model, exch, n_permutations, seed):
        if kept is not None:
            kept[start : start + null.shape[0]] = null
        if q == 1:
            null = np.abs(null)
        count += (null >= threshold).sum(axis=0)
        row_max[start : start + null.shape[0]] = null.max(axis=1)
    count_max = _count_reaching(row_max, threshold)
    p_unc = (count + 1) / (n_permutations + 1)
    p_fwer = (count_max + 1) / (n_permutations + 1)
    beta = pinv @ yy
    resid = yy - xx @ beta
    sigma2 = np.einsum("nk,nk->k", resid, resid) / df2
    if q == 1:
        estimate = cc[0] @ beta
        se = np.sqrt(sigma2 * float(cc[0] @ np.linalg.solve(xx.T @ xx, cc[0])))
        p_par = 2 * t_sf(np.abs(observed), df2)
        f_equiv = observed**2
    else:
        estimate = np.full(yy.shape[1], np.nan)
        se = np.full(yy.shape[1], np.nan)
        p_par = f_sf(observed, q, df2)
        f_equiv = observed
    eta2 = q * f_equiv / (q * f_equiv + df2)
    return GlmResult(
        estimate=estimate,
        se=se,
        statistic=observed,
        df=(float(q), df2),
        p_parametric=p_par,
        p_uncorrected=p_unc,
        p_fwer=p_fwer,
        partial_eta2=eta2,
        n_permutations=n_permutations,
        exact=exact,
        null=PermutationNull("t" if q == 1 else "F", row_max, kept, tie_rtol=_TIE_RTOL),
    )
