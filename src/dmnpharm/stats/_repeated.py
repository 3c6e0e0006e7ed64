"""Repeated measures behind :func:`dmnpharm.stats.analyse`: F over levels, or a dose trend.

Without run covariates the model (one intercept per subject, plus level means
or a linear trend) is tested by :func:`~dmnpharm.stats.within_subject_test`,
which computes batches of within-subject permutations as matrix products.
With run covariates (nuisance regressors that change with the run) the
Freedman-Lane engine :func:`~dmnpharm.stats.permutation_glm` is used. Both
draw the same permutations for the same seed, and give the same p-values on
the same model.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from dmnpharm.exceptions import InputError
from dmnpharm.stats._designs import _glm_row, _used
from dmnpharm.stats._glm import Exchangeability, GlmResult, permutation_glm
from dmnpharm.stats._model_parts import (
    ModelSpec,
    StatsResult,
    _levels,
    _named_null,
    _run_covariates,
    _scheme,
    _wide_cube,
)
from dmnpharm.stats._within import within_subject_test

__all__: list[str] = []


def _level_doses(
    table: pd.DataFrame, spec: ModelSpec, levels: list[str]
) -> npt.NDArray[np.float64]:
    """Return the mean of the trend column at each level (numeric at every level, or raise)."""
    assert spec.within is not None
    assert spec.trend is not None
    codes, uniques = pd.factorize(table[spec.within])
    names = [str(u) for u in uniques]
    dose = pd.to_numeric(table[spec.trend], errors="coerce").to_numpy(dtype=np.float64)
    keep = codes >= 0
    sums = np.bincount(codes[keep], weights=dose[keep], minlength=len(names))
    counts = np.bincount(codes[keep], minlength=len(names))
    per_name: dict[str, list[float]] = {}
    for name, total, count in zip(names, sums, counts, strict=True):
        per_name.setdefault(name, [0.0, 0.0])
        per_name[name][0] += float(total)
        per_name[name][1] += float(count)
    out = np.array([per_name[lv][0] / per_name[lv][1] for lv in levels])
    if not np.isfinite(out).all():
        raise InputError(f"'{spec.trend}' must be numeric at every level of {spec.within}")
    return out


def _glm_fit(
    cube: npt.NDArray[np.float64],
    runs: dict[str, pd.DataFrame],
    levels: list[str],
    dose: npt.NDArray[np.float64] | None,
    exch: Exchangeability,
    n_permutations: int,
    seed: int,
    names: tuple[str, ...],
) -> tuple[GlmResult, npt.NDArray[np.float64], int]:
    """Freedman-Lane fit with run covariates beside the subject intercepts."""
    n, k, m = cube.shape
    y = cube.transpose(1, 0, 2).reshape(k * n, m)  # level-major rows
    subj = np.tile(np.arange(n), k)
    run_cols = np.column_stack(
        [np.concatenate([w[lv].to_numpy(dtype=float) for lv in levels]) for w in runs.values()]
    )
    nuisance = np.column_stack([run_cols, np.eye(n)[subj]])
    if dose is not None:
        per_row = np.repeat(dose, n)
        x = np.column_stack([per_row - per_row.mean(), nuisance])
        contrast = np.eye(x.shape[1])[0]
    else:
        level_cols = [(np.repeat(np.arange(k), n) == j).astype(float) for j in range(1, k)]
        x = np.column_stack([*level_cols, nuisance])
        contrast = np.eye(x.shape[1])[: k - 1]
    res = permutation_glm(y, x, contrast, exch, n_permutations, seed, names)
    return res, x, contrast.shape[0] if contrast.ndim == 2 else 1


def _repeated_model(
    table: pd.DataFrame, spec: ModelSpec, n_permutations: int, seed: int, confidence: float
) -> StatsResult:
    """Repeated measures: F over levels or a linear trend, permutation within subject."""
    assert spec.within is not None
    levels = _levels(table, spec.within)
    if len(levels) < 2:
        raise InputError(f"'{spec.within}' has one level ({levels[0]}); nothing to compare")
    cube, subjects, measure_index, dropped = _wide_cube(table, spec, spec.within, levels)
    measures = list(measure_index)
    n, k = cube.shape[0], len(levels)
    if n < 2:
        raise InputError(f"the model needs at least 2 subjects; {n} remain")
    runs = _run_covariates(table, spec, subjects, levels)
    dose = _level_doses(table, spec, levels) if spec.trend else None
    subject_names = [f"subject[{s}]" for s in subjects]
    if dose is not None:
        names = (str(spec.trend), *runs, *subject_names)
        label, model = f"linear trend in {spec.trend}", "trend"
    else:
        names = (*[f"{spec.within}[{lv}]" for lv in levels[1:]], *runs, *subject_names)
        label, model = f"any difference among {', '.join(levels)}", "repeated F"
    subj = np.tile(np.arange(n), k)
    exch = Exchangeability(
        "permute", subj, f"{spec.within} levels exchangeable only within subject"
    )
    if runs:
        res, x, tested = _glm_fit(cube, runs, levels, dose, exch, n_permutations, seed, names)
        design_values = x[:, :tested]
    else:
        res = within_subject_test(cube, dose, n_permutations, seed)
        tested = 1 if dose is not None else k - 1
        if dose is not None:
            per_row = np.repeat(dose, n)
            design_values = (per_row - per_row.mean())[:, None]
        else:
            design_values = np.column_stack(
                [(np.repeat(np.arange(k), n) == j).astype(float) for j in range(1, k)]
            )
    out = _glm_row(
        measures,
        label,
        res,
        n,
        ("partial_eta2", res.partial_eta2, np.nan, np.nan),
        model,
        confidence,
    )
    test = "t" if spec.trend else f"F({int(res.df[0])}, {int(res.df[1])})"
    summary = (
        f"Repeated measures: {label}, OLS with one intercept per subject"
        f"{''.join(', + ' + c for c in runs)}, {test} test. "
        f"{_scheme(exch.description, res.n_permutations, seed, res.exact)}."
    )
    out["test"] = f"repeated measures {test}"
    out["n_permutations"] = _used(res)
    out["exchangeability"] = summary.split(". ", 1)[-1]
    design = pd.DataFrame(design_values, columns=list(names)[:tested])
    design.insert(0, spec.subject, np.asarray(subjects)[subj])
    design.insert(1, spec.within, np.repeat(levels, n))
    return StatsResult(out, design, summary, tuple(dropped), _named_null(res.null, measures))
