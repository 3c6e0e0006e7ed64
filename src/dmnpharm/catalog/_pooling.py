"""Random-effects pooling of the literature's effects, and where one study falls."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from dmnpharm.stats import t_ppf

__all__ = ["POOL_COLUMNS", "pool_literature"]

#: Columns of the pooled table (one row per measure with comparable literature effects).
POOL_COLUMNS = (
    "measure",
    "kind",
    "k",
    "k_imputed",
    "pooled",
    "pooled_ci_low",
    "pooled_ci_high",
    "tau2",
    "i2",
    "pi_low",
    "pi_high",
    "ours",
    "ours_in_pi",
    "pooled_reported",
    "pooled_reported_ci_low",
    "pooled_reported_ci_high",
    "method",
)

_METHOD = "DerSimonian-Laird random effects, tau^2 truncated at zero"
_Z95 = 1.959963984540054


def _prediction_interval(pooled: float, se: float, tau2: float, k: int) -> tuple[float, float]:
    """Higgins, Thompson & Spiegelhalter (2009): pooled +- t(k-2) sqrt(tau2 + se^2)."""
    if k < 3:
        return math.nan, math.nan
    half = float(t_ppf(0.975, k - 2)) * math.sqrt(tau2 + se**2)
    return pooled - half, pooled + half


def _pool(values: np.ndarray, ses: np.ndarray) -> dict[str, float]:
    """DerSimonian & Laird (1986) random effects, tau^2 truncated at zero.

    statsmodels' ``combine_effects(method_re="dl")`` (0.14-0.15) leaves the
    one-step moment estimate of tau^2 untruncated, so a Q below its degrees of
    freedom gives a negative tau^2 and a pooled SE smaller than the fixed-effect
    one; the truncated estimator is the DerSimonian-Laird one. The tests check
    this against ``combine_effects`` where tau^2 > 0 and against its fixed-effect
    pool where Q <= k - 1.
    """
    w = 1.0 / ses**2
    fixed = float(w @ values / w.sum())
    q = float(w @ (values - fixed) ** 2)
    k = values.size
    c = float(w.sum() - (w**2).sum() / w.sum())
    tau2 = max(0.0, (q - (k - 1)) / c) if c > 0 else 0.0
    w_re = 1.0 / (ses**2 + tau2)
    pooled = float(w_re @ values / w_re.sum())
    se = float(math.sqrt(1.0 / w_re.sum()))
    i2 = max(0.0, (q - (k - 1)) / q) if q > 0 else 0.0
    return {
        "pooled": pooled,
        "se": se,
        "pooled_ci_low": pooled - _Z95 * se,
        "pooled_ci_high": pooled + _Z95 * se,
        "tau2": tau2,
        "i2": i2,
    }


def _fit(values: np.ndarray, ses: np.ndarray) -> dict[str, float]:
    """Return the random-effects pool of ``values``, or the one value as it is."""
    if values.size > 1:
        return _pool(values, ses)
    value, se = float(values[0]), float(ses[0])
    return {
        "pooled": value,
        "se": se,
        "tau2": math.nan,
        "i2": math.nan,
        "pooled_ci_low": value - _Z95 * se,
        "pooled_ci_high": value + _Z95 * se,
    }


def _imputed(rows: pd.DataFrame) -> np.ndarray:
    """Return which rows hold an effect imputed from a significance threshold."""
    if "literature_effect_confidence" not in rows:
        return np.zeros(len(rows), dtype=bool)
    return (rows["literature_effect_confidence"] == "imputed").to_numpy()


def _reported_columns(fit: dict[str, float] | None) -> dict[str, float]:
    """Return the pool of the reported (not imputed) effects, NaN when there are none."""
    if fit is None:
        return dict.fromkeys(
            ("pooled_reported", "pooled_reported_ci_low", "pooled_reported_ci_high"), math.nan
        )
    return {
        "pooled_reported": fit["pooled"],
        "pooled_reported_ci_low": fit["pooled_ci_low"],
        "pooled_reported_ci_high": fit["pooled_ci_high"],
    }


def pool_literature(rows: pd.DataFrame) -> pd.DataFrame:
    """Pool the comparable literature effects of each measure and place this study.

    Comparable effects are the findings' standardized effects
    (``literature_std_effect`` with ``literature_std_se``) of the same kind as
    this study's effect size (``our_effect_size_kind``: d_z with d_z, Hedges'
    g with g, r as Fisher z with r). With one effect there is nothing to pool
    and the row gives it as it is; the 95% prediction interval of a new study
    (Higgins et al. 2009) needs three or more.

    Effects imputed at a significance threshold (``effect_confidence``
    ``"imputed"``, counted in ``k_imputed``) are lower bounds and pull the pool
    towards zero; ``pooled_reported`` (with its CI) pools the reported numbers
    alone, NaN when every effect is imputed.

    Parameters
    ----------
    rows : pandas.DataFrame
        :attr:`Comparison.rows`.

    Returns
    -------
    pandas.DataFrame
        :data:`POOL_COLUMNS`; ``ours_in_pi`` is "inside", "outside" or "no
        interval".
    """
    out = []
    findings = rows[(rows["kind"] == "finding") & rows["literature_std_effect"].notna()]
    for measure, sub in findings.groupby("measure", sort=False):
        ours_kind = str(sub["our_effect_size_kind"].iloc[0])
        same = sub[sub["literature_std_kind"] == _scale(ours_kind)]
        if same.empty:
            continue
        values = same["literature_std_effect"].to_numpy(dtype=float)
        ses = same["literature_std_se"].to_numpy(dtype=float)
        imputed = _imputed(same)
        k = values.size
        fit = _fit(values, ses)
        reported = _fit(values[~imputed], ses[~imputed]) if (~imputed).any() else None
        low, high = _prediction_interval(fit["pooled"], fit["se"], fit["tau2"], k)
        ours = float(sub["our_effect_size"].iloc[0])
        if ours_kind == "pearson_r":
            ours = float(np.arctanh(np.clip(ours, -0.999999, 0.999999)))
        where = (
            "no interval"
            if not math.isfinite(low)
            else ("inside" if low <= ours <= high else "outside")
        )
        out.append(
            {
                "measure": measure,
                "kind": _scale(ours_kind),
                "k": k,
                "k_imputed": int(imputed.sum()),
                **{c: fit[c] for c in ("pooled", "pooled_ci_low", "pooled_ci_high", "tau2", "i2")},
                "pi_low": low,
                "pi_high": high,
                "ours": ours,
                "ours_in_pi": where,
                **_reported_columns(reported),
                "method": _METHOD if k > 1 else "single study, not pooled",
            }
        )
    return pd.DataFrame(out, columns=list(POOL_COLUMNS))


def _scale(kind: str) -> str:
    """Return the literature's standardized kind matching this study's effect-size kind."""
    return {"d_z": "d_z", "hedges_g": "hedges_g", "g": "hedges_g", "pearson_r": "fisher_z"}.get(
        kind, kind
    )
