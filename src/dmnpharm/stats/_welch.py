"""A t contrast robust to unequal group variances: the G statistic with sign flips.

Ordinary least squares assumes one error variance. When groups differ in size
*and* in variance (a small patient group more variable than a large control
group), the OLS t and its permutation test are miscalibrated: 0.155 false
positives at alpha 0.05 for 24 vs 8 subjects with an SD ratio of 2.5. The
G statistic (Winkler et al. 2014, NeuroImage 92:381-397; PALM's ``-vg``)
weights each variance group by the inverse of its own residual variance,

    W_g = tr_g(R) / (e_g' e_g),   G = c' b_W / sqrt(c' (X' W X)^-1 c),

with ``R`` the residual-forming matrix, ``e`` the OLS residuals and ``b_W``
the weighted least-squares estimate; for two groups without covariates G is
the Aspin-Welch v (Welch's t). Weights are recomputed for every member of
the null, which comes from one of two schemes (Winkler et al. 2014):

* sign flips (errors independent and symmetric, not exchangeable) of the full
  model's residuals (ter Braak 1992), for per-subject changes (group x time).
  Full-model residuals keep each subject's own variance group: residuals of
  the nuisance-only model mix the groups' variances through the shared
  nuisance fit, and were liberal with small unequal arms (7 vs 5 subjects, SD
  ratio 3: 0.074 at alpha 0.05, against about 0.055; ``docs/calibration.md``);
* permutations of the Freedman-Lane residuals within exchangeability blocks,
  for between-subject values, whose errors may be skewed (amplitude measures):
  sign flips assume symmetry and were liberal for skewed errors of equal
  variance in groups of 24 and 8 (0.066), where permutations are exact. Each
  permuted G is converted to a z through its own degrees of freedom (and
  reported back on the G scale at the observed degrees of freedom, so the
  null can be recounted from the reported statistic), which keeps the null
  close to pivotal when the variances differ (0.049 for 24 vs 8 at an SD
  ratio of 2.5, against 0.065 for G itself). A parametric p
uses the Welch-Satterthwaite degrees of freedom, generalised to covariates:
``nu = (sum_g a_g)^2 / sum_g (a_g^2 / tr_g(R))`` with ``a_g`` group g's share of
``c' (X' W X)^-1 c``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import linalg

from dmnpharm._utils import fill_doc
from dmnpharm.exceptions import InputError
from dmnpharm.stats._defaults import N_PERMUTATIONS
from dmnpharm.stats._dist import norm_isf, norm_sf, t_isf, t_sf
from dmnpharm.stats._glm import Exchangeability, GlmResult, draw_permutations, permutation_count
from dmnpharm.stats._null import NullTally

__all__ = ["welch_glm"]

Array = npt.NDArray[np.float64]

#: Bytes of the flipped data held at once.
_BATCH_BYTES = 64 * 2**20

#: A group's residual sum of squares below this share of its sum of squares (or of the
#: measure's) is rounding.
_ROUNDING = 1e-12

#: How much more a group without residual variance weighs than the others
#: (:func:`_without_infinities`).
_LIMIT = 1e8


class _Groups:
    """The design split by variance group: cross-products and residual traces."""

    def __init__(self, x: Array, groups: npt.ArrayLike, floor: Array | float = 0.0) -> None:
        # Residual sums of squares at or below ``floor`` (per measure) are none at all.
        self.floor = floor
        codes, self.labels = pd.factorize(pd.Series(np.asarray(groups)).astype(str))
        self.onehot = np.eye(len(self.labels))[codes]  # n x G
        q_x = linalg.orth(x)
        self.q_x = q_x
        r_diag = 1.0 - np.einsum("nr,nr->n", q_x, q_x)
        self.trace = self.onehot.T @ r_diag  # G
        self.xtx = np.einsum("ng,np,nq->gpq", self.onehot, x, x)  # G x p x p
        # The products below over rows (the costly ones) are matrix products, which
        # BLAS does 3-6x faster than einsum's loops at 500-2,000 subjects.
        self.q_t = np.ascontiguousarray(q_x.T)  # r x n
        self.onehot_t = np.ascontiguousarray(self.onehot.T)  # G x n
        self.x_by_group = np.ascontiguousarray(  # G x p x n: each group's rows of the design
            np.einsum("np,ng->gpn", x, self.onehot)
        )
        # Q = X C: each group's projections Q_g' m follow from its X_g' m (the statistic's).
        coef = np.linalg.lstsq(x, q_x, rcond=None)[0]  # p x r
        self.coef_t = np.ascontiguousarray(coef.T)  # r x p
        self.qtq = np.einsum("pr,gpq,qs->grs", coef, self.xtx, coef)  # G x r x r: Q_g' Q_g

    def weights(self, m: Array) -> Array:
        """Per flip, group and measure: ``tr_g(R) / (e_g' e_g)`` (B x G x K)."""
        resid = m - self.q_x @ (self.q_t @ m)
        ss = self.onehot_t @ (resid * resid)
        ss[ss <= self.floor] = 0.0
        with np.errstate(divide="ignore"):
            w: Array = self.trace[None, :, None] / ss
        return w

    def weights_from(self, m: Array, per_group: Array) -> Array:
        """:meth:`weights` from sums of squares and projections, in one pass over ``m``.

        ``e_g' e_g = m_g' m_g - 2 u' Q_g' m_g + u' Q_g' Q_g u`` with ``u = Q' m``,
        where ``Q_g' m_g = C' X_g' m_g`` comes from ``per_group`` (``X_g' m_g``,
        B x G x p x K): the residuals are never formed, which took two thirds of
        the permutations' time at 2,000 subjects. Where a group's residuals
        vanish (rounding below 1e-12 of its sum of squares) they are zero, as the
        formed residuals' would be.
        """
        squares = self.onehot_t @ (m * m)  # B x G x K
        v = np.einsum("rp,bgpk->bgrk", self.coef_t, per_group)  # Q_g' m_g
        u = v.sum(axis=1)  # B x r x K
        ss = squares - 2.0 * np.einsum("bgrk,brk->bgk", v, u)
        ss += np.einsum("brk,grs,bsk->bgk", u, self.qtq, u)
        ss[ss <= np.maximum(squares * _ROUNDING, self.floor)] = 0.0
        with np.errstate(divide="ignore"):
            w: Array = self.trace[None, :, None] / ss
        return w

    def statistic(self, m: Array, c: Array) -> tuple[Array, Array, Array, Array]:
        """G, the estimate, its variance and the weights of each (flip, measure).

        The observed data (one member) get residuals formed exactly
        (:meth:`weights`); a batch of the null, :meth:`weights_from`.
        """
        per_group = self.x_by_group[None] @ m[:, None]  # B x G x p x K
        w = self.weights(m) if m.shape[0] == 1 else self.weights_from(m, per_group)
        w = _without_infinities(w)
        a = np.einsum("bgk,gpq->bkpq", w, self.xtx)
        rhs = np.einsum("bgpk,bgk->bkp", per_group, w)
        beta = np.linalg.solve(a, rhs[..., None])[..., 0]
        a_inv_c = np.linalg.solve(a, np.broadcast_to(c, rhs.shape)[..., None])[..., 0]
        estimate = beta @ c
        variance = a_inv_c @ c
        with np.errstate(divide="ignore", invalid="ignore"):
            g = estimate / np.sqrt(variance)
        return np.nan_to_num(g, nan=0.0), estimate, variance, w

    def welch_df(self, c: Array, w: Array, variance: Array) -> Array:
        """Welch-Satterthwaite degrees of freedom per (permutation and) measure.

        ``w`` is groups x measures (or permutations x groups x measures) and
        ``variance`` measures (or permutations x measures), as ``statistic``
        returns them.
        """
        a = np.einsum("...gk,gpq->...kpq", w, self.xtx)
        rhs = np.broadcast_to(c, (*a.shape[:-2], c.size))[..., None]
        a_inv_c = np.linalg.solve(a, rhs)[..., 0]
        shares = w * np.einsum("...kp,gpq,...kq->...gk", a_inv_c, self.xtx, a_inv_c)
        df: Array = variance**2 / np.sum(shares**2 / self.trace[:, None], axis=-2)
        return df


def _without_infinities(w: Array) -> Array:
    """Weigh a group without residual variance by G's limit as that variance vanishes.

    A group whose residuals all vanish (a measure constant within it, say) has
    an infinite weight, and ``X' W X`` could not be solved. As that group's
    variance goes to zero, G tends to the test that fits it exactly and takes
    its variance from the other groups (for two groups, Welch's t with one
    variance zero). Each infinite weight becomes :data:`_LIMIT` times the
    largest finite weight of its member and measure, which gives that limit to
    about 1e-8; where every group's residuals vanish, the weights stay
    infinite and G is 0.
    """
    infinite = np.isinf(w)
    if not infinite.any():
        return w
    largest = np.where(infinite, 0.0, w).max(axis=-2, keepdims=True)  # over groups
    limited: Array = np.where(infinite & (largest > 0), largest * _LIMIT, w)
    return limited


def _z_of_g(g: Array, df: Array) -> Array:
    """Signed normal quantile of G's two-sided p under t(df): comparable across df."""
    with np.errstate(divide="ignore", invalid="ignore"):
        z: Array = np.sign(g) * norm_isf(t_sf(np.abs(g), np.maximum(df, 1e-3)))
    return np.nan_to_num(z, nan=0.0, posinf=40.0, neginf=-40.0)


def _g_of_z(z: Array, df: Array) -> Array:
    """Inverse of :func:`_z_of_g` at fixed degrees of freedom (per measure)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        g: Array = np.sign(z) * t_isf(norm_sf(np.abs(z)), np.maximum(df, 1e-3))
    return np.nan_to_num(g, nan=0.0, posinf=1e6, neginf=-1e6)


def _check(yy: Array, xx: Array, cc: Array, groups: _Groups) -> None:
    n, p = xx.shape
    if yy.shape[0] != n or cc.shape != (p,):
        raise InputError(
            f"y has {yy.shape[0]} rows and the contrast {cc.size} entries; the design is {n} x {p}"
        )
    if not (np.isfinite(yy).all() and np.isfinite(xx).all()):
        raise InputError("the data or the design contain non-finite values")
    if np.linalg.matrix_rank(xx) < p:
        raise InputError("the design is rank deficient; drop a linearly dependent column")
    thin = [str(lab) for lab, t in zip(groups.labels, groups.trace, strict=True) if t < 1 - 1e-9]
    if thin:
        raise InputError(
            f"variance groups {thin} leave no residual degrees of freedom of their own; each "
            "needs at least two observations beyond what the design fits"
        )


@fill_doc
def welch_glm(
    y: npt.ArrayLike,
    x: npt.ArrayLike,
    contrast: npt.ArrayLike,
    groups: npt.ArrayLike,
    n_permutations: int = N_PERMUTATIONS,
    seed: int = 0,
    exchangeability: Exchangeability | None = None,
) -> GlmResult:
    """Test a t contrast with one error variance per group (G statistic).

    Parameters
    ----------
    y : array_like
        Rows x measures (a 1D array is one measure).
    %(design_matrix)s
        It must have full column rank.
    contrast : array_like
        A vector (one t contrast).
    groups : array_like
        Variance group of each row (e.g. the levels compared).
    %(n_permutations)s
        p-values are ``(count + 1) / (B + 1)``, the observed statistic
        counted once.
    %(seed)s
    exchangeability : Exchangeability or None
        ``None`` or ``sign-flip``: sign flips of the full model's residuals
        (all of them when there are no more), for errors that are symmetric
        but may differ in variance, e.g. per-subject changes. ``permute``:
        permutations of the Freedman-Lane residuals within the given blocks,
        for values whose errors may be skewed; each permutation's G is turned
        into a z through its own Welch-Satterthwaite degrees of freedom, which
        keeps the null nearly pivotal when variances differ (the "z-stat" of
        Winkler et al. 2014).

    Returns
    -------
    GlmResult
        ``statistic`` is G (Welch's t for two groups without covariates),
        ``estimate`` the weighted least-squares contrast and ``se`` its
        standard error; ``df`` is ``(1, nu)`` with ``nu`` the per-measure
        Welch-Satterthwaite degrees of freedom behind ``p_parametric``.

    Raises
    ------
    InputError
        Shapes disagree, values are not finite, the design is rank deficient,
        or a group has no residual degrees of freedom.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> g = np.repeat([0.0, 1.0], [12, 4])
    >>> y = rng.normal(size=16) * np.where(g == 1, 3.0, 1.0)
    >>> res = welch_glm(y, np.column_stack([np.ones(16), g]), [0, 1], g, 999)
    >>> from scipy import stats as sps
    >>> welch = sps.ttest_ind(y[g == 1], y[g == 0], equal_var=False)
    >>> bool(np.isclose(res.statistic[0], welch.statistic))
    True
    """
    yy = np.asarray(y, dtype=np.float64)
    yy = yy[:, None] if yy.ndim == 1 else yy
    xx = np.asarray(x, dtype=np.float64)
    cc = np.asarray(contrast, dtype=np.float64).ravel()
    # A group's residual variance below 1e-12 of the measure's mean square is none: what
    # rounding leaves of a measure constant within the group.
    groups_ = _Groups(xx, groups, _ROUNDING * np.sum(yy * yy, axis=0))
    _check(yy, xx, cc, groups_)
    flips = exchangeability or Exchangeability(
        "sign-flip", None, "sign flips (independent symmetric errors)"
    )
    count_flips, exact = permutation_count(flips, xx.shape[0], n_permutations)
    nuisance = xx @ linalg.null_space(cc[None, :])
    q_z = linalg.orth(nuisance) if nuisance.size else np.zeros((xx.shape[0], 0))
    resid_z = yy - q_z @ (q_z.T @ yy)
    g_obs, estimate, variance, w = groups_.statistic(resid_z[None], cc)
    g_obs, estimate, variance, w = g_obs[0], estimate[0], variance[0], w[0]
    df = groups_.welch_df(cc, w, variance)
    drawn = draw_permutations(flips, xx.shape[0], n_permutations, np.random.default_rng(seed))
    k = yy.shape[1]
    batch = max(1, _BATCH_BYTES // (8 * xx.shape[0] * k * max(1, xx.shape[1])))
    if flips.kind == "permute":
        # each permutation's G through its own df to a z, then back to the G scale at
        # the observed df: per measure a fixed monotone map, so the null stays on the
        # scale of the reported statistic and can be recounted from it
        tally = NullTally(g_obs, count_flips)
        for start in range(0, count_flips, batch):
            rows = drawn[start : start + batch].astype(np.intp)
            g, _, var, w_perm = groups_.statistic(resid_z[rows], cc)
            z = _z_of_g(g, groups_.welch_df(cc, w_perm, var))
            tally.add(start, _g_of_z(z, df))
    else:
        resid_full = yy - groups_.q_x @ (groups_.q_x.T @ yy)
        tally = NullTally(g_obs, count_flips)
        for start in range(0, count_flips, batch):
            chunk = drawn[start : start + batch]
            flipped = groups_.statistic(chunk[:, :, None] * resid_full[None], cc)[0]
            flipped[np.all(chunk > 0, axis=1)] = g_obs  # a drawn identity is the data
            tally.add(start, flipped)
    p_uncorrected, p_fwer, null = tally.result()
    return GlmResult(
        estimate=estimate,
        se=np.sqrt(variance),
        statistic=g_obs,
        df=(1.0, df),  # type: ignore[arg-type]  # per measure
        p_parametric=np.asarray(2 * t_sf(np.abs(g_obs), df), dtype=np.float64),
        p_uncorrected=p_uncorrected,
        p_fwer=p_fwer,
        partial_eta2=g_obs**2 / (g_obs**2 + df),
        n_permutations=count_flips,
        exact=exact,
        null=null,
    )
