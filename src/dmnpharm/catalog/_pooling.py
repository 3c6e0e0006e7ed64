"""Random-effects pooling of the literature's effects, and where one study falls."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["POOL_COLUMNS", "pool_literature"]

#: Columns of the pooled table (one row per measure with comparable literature effects).
POOL_COLUMNS = (
    "measure",
    "kind",
    "k",
    "pooled",
    "pooled_ci_low",
    "pooled_ci_high",
    "tau2",
    "i2",
    "pi_low",
    "pi_high",
    "ours",
    "ours_in_pi",
    "method",
)

_METHOD = "DerSimonian-Laird random effects (statsmodels combine_effects)"


def _prediction_interval(pooled: float, se: float, tau2: float, k: int) -> tuple[float, float]:
    """Higgins, Thompson & Spiegelhalter (2009): pooled +- t(k-2) sqrt(tau2 + se^2)."""
    if k < 3:
        return math.nan, math.nan
    half = float(stats.t.ppf(0.975, k - 2)) * math.sqrt(tau2 + se**2)
    return pooled - half, pooled + half


def _pool(values: np.ndarray, ses: np.ndarray) -> dict[str, float]:
    from statsmodels.stats.meta_analysis import combine_effects

    result: Any = combine_effects(values, ses**2, method_re="chi2")
    pooled, se = float(result.mean_effect_re), float(result.sd_eff_w_re)
    tau2 = float(result.tau2)
    q = float(result.q)
    k = values.size
    i2 = max(0.0, (q - (k - 1)) / q) if q > 0 else 0.0
    return {
        "pooled": pooled,
        "se": se,
        "pooled_ci_low": pooled - 1.959963984540054 * se,
        "pooled_ci_high": pooled + 1.959963984540054 * se,
        "tau2": tau2,
        "i2": i2,
    }


def pool_literature(rows: pd.DataFrame) -> pd.DataFrame:
    """Pool the comparable literature effects of each measure and place this study.

    Comparable effects are the findings' standardized effects
    (``literature_std_effect`` with ``literature_std_se``) of the same kind as
    this study's effect size (``our_effect_size_kind``: d_z with d_z, Hedges'
    g with g, r as Fisher z with r). With one effect there is nothing to pool
    and the row gives it as it is; the 95% prediction interval of a new study
    (Higgins et al. 2009) needs three or more.

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
        k = values.size
        if k == 1:
            fit = {"pooled": values[0], "se": ses[0], "tau2": math.nan, "i2": math.nan}
            fit["pooled_ci_low"] = values[0] - 1.96 * ses[0]
            fit["pooled_ci_high"] = values[0] + 1.96 * ses[0]
        else:
            fit = _pool(values, ses)
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
                **{c: fit[c] for c in ("pooled", "pooled_ci_low", "pooled_ci_high", "tau2", "i2")},
                "pi_low": low,
                "pi_high": high,
                "ours": ours,
                "ours_in_pi": where,
                "method": _METHOD if k > 1 else "single study, not pooled",
            }
        )
    return pd.DataFrame(out, columns=list(POOL_COLUMNS))


def _scale(kind: str) -> str:
    """Return the literature's standardized kind matching this study's effect-size kind."""
    return {"d_z": "d_z", "hedges_g": "hedges_g", "g": "hedges_g", "pearson_r": "fisher_z"}.get(
        kind, kind
    )
