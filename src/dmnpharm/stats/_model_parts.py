"""Model specification, result container and table helpers shared by the group models."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats as sps

from dmnpharm._utils import closest_match, get_logger
from dmnpharm.exceptions import InputError
from dmnpharm.stats._null import PermutationNull
from dmnpharm.stats._paired import RESULT_COLUMNS
from dmnpharm.stats._spec import ModelSpec

__all__ = ["EXTRA_COLUMNS", "ModelSpec", "StatsResult"]

_LOG = get_logger("stats")

#: Columns written after :data:`RESULT_COLUMNS`.
EXTRA_COLUMNS: tuple[str, ...] = (
    "effect_size",
    "effect_size_kind",
    "effect_size_ci_low",
    "effect_size_ci_high",
    "partial_eta2",
    "model",
)


@dataclass(frozen=True, eq=False)
class StatsResult:
    """A fitted group model.

    Parameters
    ----------
    results : pandas.DataFrame
        One row per measure: :data:`RESULT_COLUMNS` then :data:`EXTRA_COLUMNS`.
    design : pandas.DataFrame
        The rows entering the model with their regressors.
    summary : str
        Readable description of the model and the permutation scheme.
    dropped : tuple of str
        Subjects left out, each with its reason.
    null : PermutationNull or None
        The permutation null behind ``p_uncorrected`` and ``p_fwer``: each
        measure's permuted statistic (columns named by measure, in the order
        of ``results``) and the maximum statistic over measures per
        permutation. With more than :data:`~dmnpharm.stats.NULL_MEASURE_LIMIT`
        measures only the maximum is kept. None for models without
        permutations (the mixed model).
    """

    results: pd.DataFrame
    design: pd.DataFrame
    summary: str
    dropped: tuple[str, ...] = field(default=())
    null: PermutationNull | None = None


def _need_column(table: pd.DataFrame, column: str, role: str) -> None:
    if column not in table.columns:
        hint = closest_match(column, [str(c) for c in table.columns])
        fix = f"; did you mean '{hint}'?" if hint else ""
        raise InputError(f"the {role} column '{column}' is not in the table{fix}")


def _need_level(table: pd.DataFrame, column: str, level: str) -> None:
    levels = sorted(set(table[column].astype(str)))
    if level not in levels:
        hint = closest_match(level, levels)
        fix = f"; did you mean '{hint}'?" if hint else ""
        raise InputError(
            f"'{level}' is not a level of '{column}' (levels: {', '.join(levels)}){fix}"
        )


def _subject_column(table: pd.DataFrame, spec: ModelSpec, column: str) -> pd.Series:
    """One value per subject of a subject-level column; refuse if it varies."""
    per = table.groupby(spec.subject)[column].nunique(dropna=False)
    varying = per[per > 1]
    if len(varying):
        raise InputError(
            f"'{column}' must be constant within subject; it varies for "
            f"{', '.join(map(str, varying.index[:5]))}"
        )
    return table.groupby(spec.subject, sort=True)[column].first()


def _covariate_matrix(
    table: pd.DataFrame, spec: ModelSpec, subjects: pd.Index
) -> tuple[npt.NDArray[np.float64], list[str]]:
    columns, names = [], []
    for cov in spec.covariates:
        values = _subject_column(table, spec, cov).loc[subjects]
        numeric = pd.to_numeric(values, errors="coerce")
        if numeric.notna().all():
            columns.append((numeric - numeric.mean()).to_numpy(dtype=float)[:, None])
            names.append(cov)
        else:
            dummies = pd.get_dummies(values.astype(str), drop_first=True, dtype=float)
            columns.append(dummies.to_numpy() - dummies.to_numpy().mean(axis=0))
            names += [f"{cov}[{level}]" for level in dummies.columns]
    if spec.block:
        blocks = _subject_column(table, spec, spec.block).loc[subjects].astype(str)
        dummies = pd.get_dummies(blocks, drop_first=True, dtype=float)
        columns.append(dummies.to_numpy() - dummies.to_numpy().mean(axis=0))
        names += [f"{spec.block}[{level}]" for level in dummies.columns]
    if not columns:
        return np.zeros((len(subjects), 0)), []
    return np.hstack(columns), names


def _run_covariates(
    table: pd.DataFrame, spec: ModelSpec, subjects: pd.Index, levels: list[str]
) -> dict[str, pd.DataFrame]:
    """Per run covariate, its subjects x levels means (numeric, every run)."""
    out = {}
    assert spec.within is not None
    for cov in spec.run_covariates:
        values = pd.to_numeric(table[cov], errors="coerce")
        if values.isna().any():
            rows = table.index[values.isna()][:5].tolist()
            raise InputError(
                f"the run covariate '{cov}' must be a number for every run; it is missing or "
                f"not numeric in rows {rows}"
            )
        wide = table.assign(_v=values, _lv=table[spec.within].astype(str)).pivot_table(
            index=spec.subject, columns="_lv", values="_v", aggfunc="mean"
        )
        out[cov] = wide.loc[subjects, levels]
    return out


def _wide(
    table: pd.DataFrame, spec: ModelSpec, column: str, levels: list[str]
) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """Per level, subjects x measures means; subjects lacking a level handled by option."""
    subset = table[table[column].astype(str).isin(levels)]
    means = subset.pivot_table(
        index=spec.subject, columns=[column, "measure"], values="value", aggfunc="mean"
    )
    measures = list(dict.fromkeys(subset["measure"]))
    have = subset.groupby(spec.subject)[column].apply(lambda s: set(s.astype(str)))
    lacking = {pid: sorted(set(levels) - got) for pid, got in have.items() if set(levels) - got}
    dropped = [f"{pid}: no {', '.join(missing)}" for pid, missing in lacking.items()]
    if dropped and spec.incomplete != "drop":
        raise InputError(
            f"subjects lacking a level of '{column}': {'; '.join(dropped)}. Add the "
            "missing sessions, or use incomplete='drop' (--drop-incomplete) to leave them out"
        )
    if dropped:
        _LOG.warning("left out %d subject(s): %s", len(dropped), "; ".join(dropped))
    keep = [pid for pid in means.index if pid not in lacking]
    by_level = {lv: means.loc[keep, lv][measures] for lv in levels}
    return by_level, dropped


def _row(
    measures: list[str],
    label: str,
    estimate: npt.ArrayLike,
    se: npt.ArrayLike,
    stat: npt.ArrayLike,
    df: float,
    p: dict[str, npt.NDArray[np.float64]],
    n: int,
    effect: tuple[str, npt.ArrayLike, npt.ArrayLike, npt.ArrayLike],
    extra: dict[str, Any],
    confidence: float,
) -> pd.DataFrame:
    kind, size, low, high = effect
    crit = sps.t.ppf(0.5 + confidence / 2, df)
    est, err = np.asarray(estimate, dtype=float), np.asarray(se, dtype=float)
    out = pd.DataFrame(
        {
            "measure": measures,
            "contrast": label,
            "estimate": est,
            "ci_low": est - crit * err,
            "ci_high": est + crit * err,
            "statistic": stat,
            "df": df,
            "p_parametric": p["p_parametric"],
            "p_uncorrected": p["p_uncorrected"],
            "p_fwer": p["p_fwer"],
            "p_fdr": sps.false_discovery_control(p["p_uncorrected"], method="bh"),
            "n": n,
            "effect_size_dz": size if kind == "d_z" else np.nan,
            "effect_size": size,
            "effect_size_kind": kind,
            "effect_size_ci_low": low,
            "effect_size_ci_high": high,
            "test": "",
            "n_permutations": 0,
            "exchangeability": "",
            **extra,
        }
    )
    return out[list(RESULT_COLUMNS + EXTRA_COLUMNS)]


def _glm_p(res: Any) -> dict[str, npt.NDArray[np.float64]]:
    return {
        "p_parametric": res.p_parametric,
        "p_uncorrected": res.p_uncorrected,
        "p_fwer": res.p_fwer,
    }


def _named_null(null: PermutationNull | None, measures: list[str]) -> PermutationNull | None:
    """Name the columns of a null by measure (None stays None)."""
    if null is None:
        return None
    return replace(null, measures=tuple(str(m) for m in measures))


def _flip_null(
    flipped: dict[str, npt.NDArray[np.float64]], measures: list[str]
) -> PermutationNull:
    """Return the null of a :func:`~dmnpharm.stats.sign_flip_test` result, named by measure."""
    values = flipped["null_statistic"]
    return PermutationNull(
        "t",
        flipped["null_maximum"],
        values if values.shape[1] else None,
        tuple(str(m) for m in measures),
        exact=bool(flipped["exact"][0]),
    )


def _scheme(kind: str, count: int, seed: int, exact: bool = False) -> str:
    if exact:
        return (
            f"{kind}; all {count + 1} sign flips enumerated (exact), p = (count + 1) / "
            f"{count + 1}, the smallest attainable {1 / (count + 1):.2g}"
        )
    return f"{kind}; {count} random permutations, seed {seed}, p = (count + 1) / (B + 1)"
