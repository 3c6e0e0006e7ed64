"""Random-intercept mixed models with Satterthwaite degrees of freedom, one per measure.

statsmodels' ``MixedLM`` fits the model (REML); the Wald z test it reports is
too liberal at the sample sizes of drug studies (0.06-0.08 false positives at
alpha 0.05 with 12 subjects and missing sessions). The fixed effect is tested
here with a t reference whose degrees of freedom come from Satterthwaite's
approximation (Satterthwaite 1946; as lmerTest computes them, Kuznetsova et
al. 2017, J Stat Softw 82(13)): ``df = 2 phi^2 / (g' A g)`` with ``phi`` the
contrast's variance, ``g`` its gradient in the variance parameters and ``A``
their asymptotic covariance, the inverse of half the Hessian of the REML
deviance. For a complete, balanced paired design this is ``n - 1`` and the
test equals the paired t test.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats as sps
from statsmodels.regression.mixed_linear_model import MixedLM
from statsmodels.stats.multitest import multipletests

from dmnpharm.exceptions import InputError
from dmnpharm.stats._model_parts import (
    EXTRA_COLUMNS,
    ModelSpec,
    StatsResult,
    _need_column,
    _need_level,
)
from dmnpharm.stats._paired import RESULT_COLUMNS

__all__ = ["mixed_model", "satterthwaite"]

Array = npt.NDArray[np.float64]

#: Relative step of the numerical derivatives in the variance parameters.
_STEP = 1e-4

#: A subject variance below this fraction of the residual one is a boundary fit
#: (the model is ordinary least squares, with n - p degrees of freedom).
_BOUNDARY = 1e-4


@dataclass(frozen=True)
class _Groups:
    """Per subject: its rows' design column sums and cross-products (compound symmetry)."""

    sizes: Array
    x_sums: Array  # subjects x p
    y_sums: Array  # subjects
    xtx: Array  # p x p, summed over subjects
    xty: Array  # p
    yty: float

    @classmethod
    def build(cls, y: Array, x: Array, groups: npt.ArrayLike) -> _Groups:
        codes = pd.factorize(pd.Series(np.asarray(groups)))[0]
        n_groups = int(codes.max()) + 1
        sizes = np.bincount(codes, minlength=n_groups).astype(float)
        x_sums = np.zeros((n_groups, x.shape[1]))
        np.add.at(x_sums, codes, x)
        y_sums = np.bincount(codes, weights=y, minlength=n_groups).astype(np.float64)
        return cls(sizes, x_sums, y_sums, x.T @ x, x.T @ y, float(y @ y))

    def deviance(self, theta: Array) -> tuple[float, Array]:
        """REML deviance (-2 log likelihood, constants dropped) and ``(X' V^-1 X)^-1``."""
        s_u, s_e = float(theta[0]), float(theta[1])
        w = s_u / (s_e + self.sizes * s_u)
        xvx = (self.xtx - (self.x_sums * w[:, None]).T @ self.x_sums) / s_e
        xvy = (self.xty - (self.x_sums * w[:, None]).T @ self.y_sums) / s_e
        yvy = (self.yty - float(np.sum(w * self.y_sums**2))) / s_e
        cov: Array = np.asarray(np.linalg.inv(xvx), dtype=np.float64)
        logdet_v = float(np.sum((self.sizes - 1) * np.log(s_e) + np.log(s_e + self.sizes * s_u)))
        deviance = logdet_v + np.linalg.slogdet(xvx)[1] + yvy - xvy @ cov @ xvy
        return float(deviance), cov


def satterthwaite(
    y: npt.ArrayLike,
    x: npt.ArrayLike,
    groups: npt.ArrayLike,
    contrast: npt.ArrayLike,
    variances: tuple[float, float],
) -> tuple[float, float]:
    """Return a contrast's variance and Satterthwaite degrees of freedom.

    Parameters
    ----------
    y : array_like
        Observations.
    x : array_like
        Fixed-effects design (observations x p).
    groups : array_like
        Subject of each observation (random intercept per subject).
    contrast : array_like
        Length p.
    variances : tuple of float
        REML estimates ``(subject variance, residual variance)``.

    Returns
    -------
    tuple of float
        ``c' (X' V^-1 X)^-1 c`` and its degrees of freedom, at most ``n - p``.
        With a subject variance estimated at (or numerically next to) zero, a
        boundary fit, the model is ordinary least squares and the degrees of
        freedom are ``n - p``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = np.column_stack([np.ones(8), np.tile([0.0, 1.0], 4)])
    >>> y = np.repeat(rng.normal(size=4), 2) + rng.normal(size=8) + x[:, 1]
    >>> round(satterthwaite(y, x, np.repeat(np.arange(4), 2), [0, 1], (1.0, 1.0))[1], 6)
    3.0
    """
    yy, xx = np.asarray(y, dtype=np.float64), np.asarray(x, dtype=np.float64)
    c = np.asarray(contrast, dtype=np.float64)
    model = _Groups.build(yy, xx, groups)
    theta = np.asarray(variances, dtype=np.float64)
    if not (np.isfinite(theta).all() and theta[1] > 0 and theta[0] >= 0):
        raise InputError(
            f"the variance estimates {tuple(theta)} leave no residual variance to test against"
        )
    phi = float(c @ model.deviance(theta)[1] @ c)
    boundary = float(xx.shape[0] - xx.shape[1])
    if theta[0] <= _BOUNDARY * theta[1]:
        return phi, boundary
    steps = _STEP * theta
    grad = np.empty(2)
    hessian = np.empty((2, 2))
    for i in range(2):
        e_i = np.eye(2)[i] * steps[i]
        up, down = model.deviance(theta + e_i)[1], model.deviance(theta - e_i)[1]
        grad[i] = (float(c @ up @ c) - float(c @ down @ c)) / (2 * steps[i])
        for j in range(2):
            e_j = np.eye(2)[j] * steps[j]
            corners = [
                model.deviance(theta + si * e_i + sj * e_j)[0]
                for si, sj in ((1, 1), (1, -1), (-1, 1), (-1, -1))
            ]
            hessian[i, j] = (corners[0] - corners[1] - corners[2] + corners[3]) / (
                4 * steps[i] * steps[j]
            )
    if not np.isfinite(hessian).all() or np.linalg.eigvalsh(hessian).min() <= 0:
        # The deviance is flat or curved the wrong way in the subject variance: a fit
        # at (or numerically next to) its boundary, where the model is OLS.
        return phi, boundary
    covariance = np.linalg.inv(hessian / 2)  # information = half the deviance's Hessian
    denominator = float(grad @ covariance @ grad)
    if not np.isfinite(denominator) or denominator <= 0:
        return phi, boundary
    return phi, min(2 * phi**2 / denominator, boundary)


def _fixed_effects(
    data: pd.DataFrame, table: pd.DataFrame, spec: ModelSpec
) -> tuple[pd.DataFrame, list[str], str]:
    """Code the fixed effects: the contrast, its interaction, covariates (text as dummies)."""
    assert spec.contrast is not None
    assert spec.within is not None
    a = spec.contrast[0]
    data["_x"] = (data[spec.within].astype(str) == a).astype(float)
    fixed, term = ["_x"], "_x"
    if spec.between and spec.between_contrast:
        ga, gb = spec.between_contrast
        data = data[data[spec.between].astype(str).isin([ga, gb])].copy()
        data["_g"] = (data[spec.between].astype(str) == ga).astype(float)
        data["_xg"] = data["_x"] * data["_g"]
        fixed += ["_g", "_xg"]
        term = "_xg"
    for cov in (*spec.covariates, *spec.run_covariates):
        _need_column(table, cov, "covariate")
        numeric = pd.to_numeric(data[cov], errors="coerce")
        if numeric.notna().all():
            data[cov] = numeric
            fixed.append(cov)
            continue
        if data[cov].isna().any():
            raise InputError(f"the covariate '{cov}' has missing values; fill or drop them")
        dummies = pd.get_dummies(data[cov].astype(str), prefix=cov, prefix_sep="=", dtype=float)
        dummies = dummies.iloc[:, 1:]  # the first level is the reference
        data = pd.concat([data, dummies], axis=1)
        fixed += list(dummies.columns)
    return data, fixed, term


def _fit_measure(sub: pd.DataFrame, fixed: list[str], k: int, subject: str) -> dict[str, object]:
    """Fit one measure; give its estimate, Satterthwaite t test, or why it is not estimable."""
    y = sub["value"].to_numpy(float)
    x = np.column_stack([np.ones(len(sub)), sub[fixed].to_numpy(dtype=float)])
    row: dict[str, object] = {"n": int(sub[subject].nunique()), "problem": ""}
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fit = MixedLM(y, x, groups=sub[subject].to_numpy()).fit(reml=True)
        row["problem"] = "; ".join(str(w.message) for w in caught)
        variances = (float(np.asarray(fit.cov_re)[0, 0]), float(fit.scale))
        phi, df = satterthwaite(y, x, sub[subject], np.eye(x.shape[1])[k], variances)
        estimate, se = float(fit.fe_params[k]), float(np.sqrt(phi))
        if not (np.isfinite(estimate) and np.isfinite(se) and se > 0 and np.isfinite(df)):
            raise InputError(f"the fit gave estimate {estimate}, SE {se}, df {df}")
    except (InputError, np.linalg.LinAlgError, ValueError) as exc:
        row.update(estimate=np.nan, se=np.nan, df=np.nan, problem=f"not estimable: {exc}")
        return row
    row.update(estimate=estimate, se=se, df=df)
    return row


def mixed_model(table: pd.DataFrame, spec: ModelSpec) -> StatsResult:
    """Fit a random-intercept mixed model per measure; test the contrast with t (Satterthwaite).

    Parameters
    ----------
    table : pandas.DataFrame
        Tidy metrics; every run is used, so subjects missing a session count.
    spec : ModelSpec
        ``within`` and ``contrast`` ``(a, b)``: the fixed effect of ``a`` vs the
        reference ``b``; with ``between`` and ``between_contrast``, the
        ``within x between`` interaction is tested instead. ``covariates`` and
        ``run_covariates`` are fixed effects (text columns dummy-coded).

    Returns
    -------
    StatsResult
        t tests with Satterthwaite degrees of freedom (``df``), t-based
        confidence intervals; ``p_uncorrected`` equals ``p_parametric``;
        ``p_fwer`` is Holm and ``p_fdr`` Benjamini-Hochberg over the measures
        that could be estimated. A measure whose fit fails is kept with NaN
        statistics, and the summary says why; the others go on.

    Raises
    ------
    InputError
        Missing columns or levels, or no measure could be estimated.
    """
    if not (spec.within and spec.contrast):
        raise InputError("the mixed model needs within and contrast (a-b)")
    _need_column(table, spec.within, "within")
    a, b = spec.contrast
    for level in (a, b):
        _need_level(table, spec.within, level)
    data = table[table[spec.within].astype(str).isin([a, b])].copy()
    data, fixed, term = _fixed_effects(data, table, spec)
    k = 1 + fixed.index(term)
    rows = []
    for measure, sub in data.groupby("measure", sort=False):
        rows.append({"measure": measure, **_fit_measure(sub, fixed, k, spec.subject)})
    out = pd.DataFrame(rows)
    estimable = out["se"].notna()
    if not estimable.any():
        raise InputError(f"no measure could be estimated: {'; '.join(out['problem'])}")
    t = out["estimate"] / out["se"]
    crit = sps.t.ppf(0.975, out["df"].where(estimable, 1.0))
    out["ci_low"] = out["estimate"] - crit * out["se"]
    out["ci_high"] = out["estimate"] + crit * out["se"]
    out["statistic"] = t
    out["p_parametric"] = 2 * sps.t.sf(np.abs(t), out["df"])
    out["p_uncorrected"] = out["p_parametric"]
    for column, method in (("p_fwer", "holm"), ("p_fdr", "fdr_bh")):
        out[column] = np.nan
        out.loc[estimable, column] = multipletests(
            out.loc[estimable, "p_parametric"], method=method
        )[1]
    label = f"{a}-{b}" if term == "_x" else f"({a}-{b}) x ({spec.between_contrast})"
    out["contrast"] = label
    for column in ("effect_size_dz", "effect_size", "effect_size_ci_low", "effect_size_ci_high"):
        out[column] = np.nan
    out["effect_size_kind"] = ""
    out["partial_eta2"] = t**2 / (t**2 + out["df"])
    out["test"] = "mixed model (random intercept, REML), t with Satterthwaite df"
    out["n_permutations"] = 0
    out["exchangeability"] = "none (parametric); Holm over measures for p_fwer"
    out["model"] = "mixed"
    problems = [f"{m}: {p}" for m, p in zip(out["measure"], out["problem"], strict=True) if p]
    summary = (
        f"Mixed model per measure: value ~ {' + '.join(['1', *fixed])} with a random "
        f"intercept per {spec.subject} (statsmodels MixedLM, REML); t test of {label} with "
        "Satterthwaite degrees of freedom (Kuznetsova et al. 2017); Holm over measures."
        + (f" Problems: {'; '.join(problems)}." if problems else "")
    )
    design = data[[spec.subject, spec.within, *fixed]].drop_duplicates()
    return StatsResult(out[list(RESULT_COLUMNS + EXTRA_COLUMNS)], design, summary, ())
