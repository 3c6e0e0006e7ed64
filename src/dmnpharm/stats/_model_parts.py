"""Model specification, result container and table helpers shared by the group models."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from dmnpharm._utils import closest_match, get_logger
from dmnpharm.exceptions import InputError
from dmnpharm.stats._dist import fdr_bh, t_ppf
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


def _levels(table: pd.DataFrame, column: str) -> list[str]:
    """Return the sorted distinct values of a column as text (distinct values first: fast)."""
    return sorted({str(v) for v in table[column].drop_duplicates()})


def _need_level(table: pd.DataFrame, column: str, level: str) -> None:
    levels = _levels(table, column)
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


def _codes(values: pd.Series) -> tuple[npt.NDArray[np.signedinteger[Any]], pd.Index]:
    """Integer codes (-1: missing) and the labels they index, without Python objects."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        small: npt.NDArray[np.signedinteger[Any]] = np.asarray(values.cat.codes)
        return small, pd.Index(values.cat.categories)
    codes, labels = pd.factorize(values)
    return np.asarray(codes), pd.Index(labels)


def _renumber(
    codes: npt.NDArray[np.signedinteger[Any]], labels: pd.Index, order: str
) -> tuple[npt.NDArray[np.int32], pd.Index]:
    """Renumber the labels present in ``codes`` (all >= 0): ``sorted`` or ``first``-seen."""
    if order == "first":
        present = np.asarray(pd.unique(codes), dtype=np.intp)  # in order of appearance
    else:
        present = np.flatnonzero(np.bincount(codes, minlength=len(labels)))
        present = present[labels.take(present).argsort(kind="stable")]
    lookup = np.full(len(labels), -1, dtype=np.int32)
    lookup[present] = np.arange(present.size, dtype=np.int32)
    return lookup[codes], labels.take(present)


def _cube(
    table: pd.DataFrame, spec: ModelSpec, column: str | None, levels: list[str]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64], pd.Index, pd.Index]:
    """Mean value per subject x level x measure, and the number of rows behind each.

    Every column becomes small integer codes once (a categorical's own codes,
    else ``pandas.factorize``, which works on Arrow-backed text without making
    Python objects) and the means are weighted counts (``numpy.bincount``): no
    Python loop over rows, and about 40 bytes of temporaries per row. Subjects
    are sorted; measures keep their first-seen order among the rows used.
    Without a ``column`` every row belongs to the one level ``levels[0]``.
    """
    if column is None:
        row_level = np.zeros(len(table), dtype=np.int16)
    else:
        codes, uniques = _codes(table[column])
        position = {lv: i for i, lv in enumerate(levels)}
        level_of = np.array([position.get(str(u), -1) for u in uniques] + [-1], dtype=np.int16)
        row_level = level_of[codes]  # code -1 (missing) maps to the trailing -1
    subject, subject_labels = _codes(table[spec.subject])
    measure, measure_labels = _codes(table["measure"])
    values = pd.to_numeric(table["value"], errors="coerce").to_numpy(dtype=np.float64)
    used = (row_level >= 0) & (subject >= 0) & (measure >= 0)
    if not used.all():
        row_level, subject, measure, values = (
            row_level[used],
            subject[used],
            measure[used],
            values[used],
        )
    del used
    subject_new, subjects = _renumber(subject, subject_labels, "sorted")
    cell = subject_new.astype(np.int64)
    del subject, subject_new
    cell *= len(levels)
    cell += row_level
    del row_level
    measure_new, measures = _renumber(measure, measure_labels, "first")
    del measure
    cell *= len(measures)
    cell += measure_new
    del measure_new
    shape = (len(subjects), len(levels), len(measures))
    size = shape[0] * shape[1] * shape[2]
    counts = np.bincount(cell, minlength=size).reshape(shape)
    means = np.asarray(np.bincount(cell, weights=values, minlength=size), dtype=np.float64)
    means = means.reshape(shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        np.divide(means, counts, out=means)
    return means, counts, subjects.rename(spec.subject), measures.rename("measure")


def _wide_cube(
    table: pd.DataFrame, spec: ModelSpec, column: str, levels: list[str]
) -> tuple[npt.NDArray[np.float64], pd.Index, pd.Index, list[str]]:
    """Subjects x levels x measures means of the complete subjects, and who was left out.

    Subjects lacking a level are refused, or dropped and listed (by option); a
    complete subject lacking a measure at a level is refused.
    """
    means, counts, subjects, measures = _cube(table, spec, column, levels)
    has_level = counts.sum(axis=2) > 0  # subjects x levels
    lacking = ~has_level.all(axis=1)
    dropped = [
        f"{pid}: no {', '.join(sorted(lv for lv, ok in zip(levels, row, strict=True) if not ok))}"
        for pid, row, bad in zip(subjects, has_level, lacking, strict=True)
        if bad
    ]
    if dropped and spec.incomplete != "drop":
        raise InputError(
            f"subjects lacking a level of '{column}': {'; '.join(dropped)}. Add the "
            "missing sessions, or use incomplete='drop' (--drop-incomplete) to leave them out"
        )
    if dropped:
        _LOG.warning("left out %d subject(s): %s", len(dropped), "; ".join(dropped))
    keep = ~lacking
    means, counts, subjects = means[keep], counts[keep], subjects[keep]
    holes = np.argwhere(counts == 0)
    if holes.size:
        s, lv, m = holes[0]
        raise InputError(
            f"measure '{measures[m]}' has no value for {subjects[s]} at {column} "
            f"'{levels[lv]}' ({len(holes)} such gaps): every subject needs every measure at "
            "each level; remove the measure or the subject from the table"
        )
    return means, subjects, measures, dropped


def _wide(
    table: pd.DataFrame, spec: ModelSpec, column: str, levels: list[str]
) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """Per level, subjects x measures means; subjects lacking a level handled by option."""
    means, subjects, measures, dropped = _wide_cube(table, spec, column, levels)
    by_level = {
        lv: pd.DataFrame(means[:, i, :], index=subjects, columns=measures)
        for i, lv in enumerate(levels)
    }
    return by_level, dropped


def _subject_means(
    table: pd.DataFrame, spec: ModelSpec
) -> tuple[npt.NDArray[np.float64], pd.Index, list[str]]:
    """Subjects x measures means over each subject's runs (between-subject models)."""
    means, counts, subjects, measures = _cube(table, spec, None, ["all"])
    holes = np.argwhere(counts[:, 0, :] == 0)
    if holes.size:
        s, m = holes[0]
        raise InputError(
            f"measure '{measures[m]}' has no value for {subjects[s]} ({len(holes)} such "
            "gaps): every subject needs every measure; remove the measure or the subject"
        )
    return means[:, 0, :], subjects, [str(m) for m in measures]


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
    crit = t_ppf(0.5 + confidence / 2, df)
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
            "p_fdr": fdr_bh(p["p_uncorrected"]),
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
