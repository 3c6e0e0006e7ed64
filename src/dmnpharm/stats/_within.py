"""Within-subject permutation tests (repeated-measures F, linear trend) as matrix products.

Every subject is measured once at each of ``k`` levels (conditions, doses).
With one intercept per subject, the model's residual space and its tests live
in each subject's values centred on the subject's mean, ``R_i`` (``k`` values per
measure). Under the null hypothesis of no level effect the level labels are
exchangeable within subject, so a permutation reorders each subject's levels
(``k!`` orders per subject; Winkler et al. 2014, NeuroImage 92:381, exchangeability
blocks). Three facts make a batch of permutations one matrix product:

* Reordering a subject's levels does not change the subject's within-subject
  sum of squares, so the total ``SS`` per measure is fixed; only the tested
  sum of squares ``SS_q`` changes, and ``F = (SS_q / q) / ((SS - SS_q) / df2)`` is
  an increasing function of ``v = SS_q / SS`` alone (``df2 = n (k - 1) - q``), the
  same function for every measure. ``v`` is also the partial eta squared.
* With ``E`` (``k x q``, orthonormal, orthogonal to the constant) spanning the
  tested contrasts (all of them for the F test, the centred dose for a trend),
  ``SS_q = |sum_i E' P_i R_i|^2 / n`` for the permutation matrices ``P_i``.
* Writing ``R_i = H Z_i`` with ``H`` an orthonormal (Helmert) basis of the
  contrasts, ``Z_i = H' R_i`` has ``k - 1`` rows and
  ``sum_i E' P_i R_i = sum_i (E' P_i H) Z_i``: for a batch of permutations, one
  ``(batch q) x (n (k - 1))`` coefficient matrix times the ``(n (k - 1)) x
  measures`` data. For ``k = 2`` this is the sign-flip test.

Dividing each measure's ``Z`` by ``sqrt(n SS)`` makes ``v`` the squared column
norm of the product, so the maximum statistic over measures (family-wise error)
needs no F at all. The products run on column tiles in threads
(:func:`~dmnpharm.stats._tiles.run_tiles`), and memory is bounded by the tile.

The permutations are those of :func:`~dmnpharm.stats.draw_permutations` for
rows ordered level by level with subjects as blocks, so the p-values equal
those of :func:`~dmnpharm.stats.permutation_glm` on the same design and seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import linalg

from dmnpharm._utils import fill_doc
from dmnpharm.exceptions import InputError
from dmnpharm.stats._defaults import N_PERMUTATIONS
from dmnpharm.stats._dist import f_sf, t_sf
from dmnpharm.stats._glm import Exchangeability, GlmResult, _count_reaching, draw_permutations
from dmnpharm.stats._null import NULL_MEASURE_LIMIT, TIE_RTOL, PermutationNull
from dmnpharm.stats._tiles import run_tiles, tile_workers

__all__ = ["within_permutations", "within_subject_test"]

Array = npt.NDArray[np.float64]

# Products of at most this many bytes per tile (permutations x measures x q).
_TILE_BYTES = 4 * 2**20
_TILE_COLUMNS = 4096
# Permutation coefficients ((permutations q) x (subjects (k - 1))) built at once.
_COEF_BYTES = 64 * 2**20


def _contrast_basis(k: int) -> Array:
    """Orthonormal basis (k x (k-1)) of the vectors summing to zero (Helmert)."""
    basis: Array = linalg.null_space(np.ones((1, k)))
    return basis


@fill_doc
def within_permutations(
    n_subjects: int, n_levels: int, n_permutations: int, seed: int
) -> npt.NDArray[np.intp]:
    """Draw within-subject reorderings of the levels.

    Parameters
    ----------
    n_subjects, n_levels : int
        Subjects, and levels measured in every subject.
    %(n_permutations)s
    %(seed)s

    Returns
    -------
    numpy.ndarray
        ``n_permutations x n_subjects x n_levels``: entry ``[b, i, l]`` is the
        level whose value subject ``i`` shows at level ``l`` under permutation
        ``b``. They are the draws of :func:`~dmnpharm.stats.draw_permutations`
        for rows ordered level by level (row ``l * n_subjects + i``) with each
        subject a block, so :func:`~dmnpharm.stats.permutation_glm` on those
        rows and seed uses the same permutations.
    """
    blocks = np.tile(np.arange(n_subjects), n_levels)
    exch = Exchangeability("permute", blocks, "levels within subject")
    rows = draw_permutations(
        exch, n_subjects * n_levels, n_permutations, np.random.default_rng(seed)
    )
    source = np.asarray(rows, dtype=np.intp).reshape(n_permutations, n_levels, n_subjects)
    out: npt.NDArray[np.intp] = np.ascontiguousarray(source.transpose(0, 2, 1) // n_subjects)
    return out


@dataclass(frozen=True)
class _Prepared:
    """Scaled contrast coordinates of the data and the observed tested share."""

    q: int
    df2: float
    tested: Array  # k x q, orthonormal
    helmert: Array  # k x (k-1)
    scaled: Array  # (n (k-1)) x measures, Z / sqrt(n SS)
    observed: Array  # q x measures, sum_i E' R_i / sqrt(n SS)
    ss: Array  # per measure, within-subject sum of squares


def _prepare(y: Array, trend: Array | None) -> _Prepared:
    n, k, _ = y.shape
    helmert = _contrast_basis(k)
    if trend is None:
        tested = helmert
    else:
        centred = trend - trend.mean()
        tested = (centred / np.linalg.norm(centred))[:, None]
    q = tested.shape[1]
    centred = y - y.mean(axis=1, keepdims=True)  # exact zeros for constant subjects
    z = np.einsum("kj,ikm->ijm", helmert, centred)
    ss = np.einsum("ijm,ijm->m", z, z)
    with np.errstate(divide="ignore"):
        scale = np.where(ss > 0, 1.0 / np.sqrt(n * ss), 0.0)
    scaled = (z * scale).reshape(n * (k - 1), -1)
    observed = tested.T @ helmert @ (z * scale).sum(axis=0)
    return _Prepared(q, float(n * (k - 1) - q), tested, helmert, scaled, observed, ss)


def _coefficients(prep: _Prepared, source: npt.NDArray[np.intp]) -> Array:
    """Per tested direction and permutation, ``E' P_i H`` for every subject.

    Returns ``q x permutations x (n (k-1))``: row ``[j, b]`` times the scaled
    data gives direction ``j`` of permutation ``b``'s tested sum.
    """
    inverse = np.argsort(source, axis=2)  # (E' P)[j, c] = E[inverse(c), j]
    rows = prep.tested[inverse]  # b x n x k x q
    coef = np.einsum("bnkq,kj->qbnj", rows, prep.helmert)
    out: Array = np.ascontiguousarray(coef.reshape(prep.q, source.shape[0], -1))
    return out


def _statistic(share: Array, prep: _Prepared) -> Array:
    """F (q > 1) or signed t (q = 1) from the tested share (signed for t)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if prep.q == 1:
            rest = 1.0 - share * share
            t = share * np.sqrt(prep.df2) / np.sqrt(rest)
            out: Array = np.where(rest > 0, t, np.copysign(np.inf, share))
            return np.where(share == 0, 0.0, out)
        f = share / (1.0 - share) * prep.df2 / prep.q
        return np.where(share < 1.0, f, np.inf)


def _share_limit(statistic: Array, prep: _Prepared) -> Array:
    """Return the tested share at which the statistic reaches ``|statistic| (1 - tie_rtol)``."""
    target = np.abs(statistic) * (1 - TIE_RTOL)
    with np.errstate(invalid="ignore", over="ignore"):
        if prep.q == 1:
            limit = target / np.sqrt(target * target + prep.df2)
        else:
            limit = target / (target + prep.df2 / prep.q)
    out: Array = np.where(np.isinf(target), 1.0 - 1e-12, limit)
    return out


def _null_counts(
    prep: _Prepared, coef: Array, limit: Array, keep: Array | None
) -> tuple[Array, Array]:
    """Per measure, permutations reaching its limit; per permutation, the largest share."""
    n_perm = coef.shape[1]
    m = prep.scaled.shape[1]
    count = np.zeros(m)
    cols = max(1, min(m, _TILE_COLUMNS, -(-m // tile_workers())))
    rows = max(1, _TILE_BYTES // (8 * cols))

    def tile(c0: int, c1: int) -> Array:
        block = np.ascontiguousarray(prep.scaled[:, c0:c1])
        block_limit = limit[c0:c1]
        row_max = np.empty(n_perm)
        for start in range(0, n_perm, rows):
            stop = min(start + rows, n_perm)
            share = coef[0, start:stop] @ block
            if prep.q == 1 and keep is not None:
                keep[start:stop, c0:c1] = share
            if prep.q == 1:
                np.abs(share, out=share)
            else:
                np.square(share, out=share)
            for j in range(1, prep.q):
                part = coef[j, start:stop] @ block
                share += np.square(part, out=part)
            if prep.q > 1 and keep is not None:
                keep[start:stop, c0:c1] = share
            count[c0:c1] += (share >= block_limit).sum(axis=0)
            row_max[start:stop] = share.max(axis=1)
        return row_max

    return count, run_tiles(tile, m, cols, n_perm)


def _check(y: Array, trend: Array | None, n_permutations: int) -> None:
    if y.ndim != 3:
        raise InputError(f"values must be subjects x levels x measures; got shape {y.shape}")
    n, k, _ = y.shape
    if n < 2 or k < 2:
        raise InputError(f"a within-subject test needs 2+ subjects and 2+ levels; got {n}, {k}")
    if not np.isfinite(y).all():
        raise InputError("the values contain missing or non-finite entries")
    if n_permutations < 1:
        raise InputError(f"n_permutations must be positive, got {n_permutations}")
    if trend is not None:
        if trend.shape != (k,) or not np.isfinite(trend).all():
            raise InputError(f"trend must give one finite number per level ({k})")
        if np.ptp(trend) == 0:
            raise InputError("trend is the same at every level; nothing to test")
    if n * (k - 1) - (1 if trend is not None else k - 1) < 1:
        raise InputError("too few subjects and levels leave no residual degrees of freedom")


@fill_doc
def within_subject_test(
    values: npt.ArrayLike,
    trend: npt.ArrayLike | None = None,
    n_permutations: int = N_PERMUTATIONS,
    seed: int = 0,
) -> GlmResult:
    """Test a within-subject factor by permuting levels within subject, all measures at once.

    The model has one intercept per subject and either a mean per level (the
    repeated-measures F over the levels, as statsmodels' ``AnovaRM``) or a
    linear ``trend`` over the levels (t of its slope). See the module notes
    for how batches of permutations become matrix products.

    Parameters
    ----------
    values : array_like
        ``subjects x levels x measures`` (one value per subject and level).
    trend : array_like, optional
        One number per level (e.g. the dose): test its linear trend (t, two
        sided) instead of any difference among the levels (F).
    %(n_permutations)s
        Each reorders every subject's levels at random
        (:func:`within_permutations`); p-values are ``(count + 1) /
        (n_permutations + 1)``.
    %(seed)s

    Returns
    -------
    GlmResult
        Per measure: ``statistic`` (F, or t of the slope), ``df`` ``(q, n (k -
        1) - q)``, parametric and permutation p-values, ``p_fwer`` (maximum
        statistic over measures), ``partial_eta2``; for a trend also
        ``estimate`` (slope per unit of ``trend``) and ``se``. The null keeps
        each measure's permuted statistics when there are at most
        :data:`~dmnpharm.stats.NULL_MEASURE_LIMIT` measures.

    Raises
    ------
    InputError
        Wrong shape, non-finite values, a constant trend, too few subjects or
        levels, or a non-positive number of permutations.
    """
    y = np.asarray(values, dtype=np.float64)
    dose = None if trend is None else np.asarray(trend, dtype=np.float64).ravel()
    _check(y, dose, n_permutations)
    n, k, m = y.shape
    prep = _prepare(y, dose)
    share_obs = prep.observed[0] if prep.q == 1 else (prep.observed**2).sum(axis=0)
    observed = _statistic(share_obs, prep)
    limit = _share_limit(observed, prep)
    keep = np.empty((n_permutations, m)) if m <= NULL_MEASURE_LIMIT else None
    source = within_permutations(n, k, n_permutations, seed)
    count, row_max = np.zeros(m), np.zeros(n_permutations)
    batch = max(1, _COEF_BYTES // (8 * prep.q * n * (k - 1)))
    for start in range(0, n_permutations, batch):
        stop = min(start + batch, n_permutations)
        coef = _coefficients(prep, source[start:stop])
        part = None if keep is None else keep[start:stop]
        batch_count, batch_max = _null_counts(prep, coef, limit, part)
        count += batch_count
        row_max[start:stop] = np.maximum(batch_max, 0.0)
    p_unc = (count + 1) / (n_permutations + 1)
    p_fwer = (_count_reaching(row_max, limit) + 1) / (n_permutations + 1)
    partial_eta2 = np.where(prep.ss > 0, np.abs(share_obs) ** (2 if prep.q == 1 else 1), 0.0)
    if dose is not None:
        centred = dose - dose.mean()
        norm2 = float(centred @ centred)
        estimate = np.einsum("k,ikm->m", centred, y) / (n * norm2)
        rss = prep.ss * (1.0 - partial_eta2)
        se = np.sqrt(rss / prep.df2 / (n * norm2))
        p_par = 2 * t_sf(np.abs(observed), prep.df2)
    else:
        estimate = se = np.full(m, np.nan)
        p_par = f_sf(observed, prep.q, prep.df2)
    null = PermutationNull(
        "t" if prep.q == 1 else "F",
        np.abs(_statistic(row_max, prep)),
        None if keep is None else _statistic(keep, prep),
        tie_rtol=TIE_RTOL,
    )
    return GlmResult(
        estimate=estimate,
        se=se,
        statistic=observed,
        df=(float(prep.q), prep.df2),
        p_parametric=p_par,
        p_uncorrected=p_unc,
        p_fwer=p_fwer,
        partial_eta2=partial_eta2,
        n_permutations=n_permutations,
        exact=False,
        null=null,
    )
