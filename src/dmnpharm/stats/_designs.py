"""The group models behind :func:`dmnpharm.stats.analyse`: change, repeated, between."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from dmnpharm.exceptions import InputError
from dmnpharm.stats._defaults import EFFECT_CI
from dmnpharm.stats._dist import t_ppf
from dmnpharm.stats._effect_ci import dz_interval
from dmnpharm.stats._effects import bootstrap_ci, cohens_dz, hedges_g, pearson_r
from dmnpharm.stats._glm import Exchangeability, GlmResult, permutation_glm
from dmnpharm.stats._model_parts import (
    ModelSpec,
    StatsResult,
    _covariate_matrix,
    _flip_null,
    _glm_p,
    _named_null,
    _row,
    _run_covariates,
    _scheme,
    _subject_column,
    _subject_means,
    _wide_cube,
)
from dmnpharm.stats._paired import sign_flip_test
from dmnpharm.stats._welch import welch_glm

__all__: list[str] = []


def _two_groups(
    y: npt.NDArray[np.float64],
    x: npt.NDArray[np.float64],
    contrast: npt.NDArray[np.float64],
    in_a: npt.NDArray[np.bool_],
    exch: Exchangeability,
    spec: ModelSpec,
    n_permutations: int,
    seed: int,
    *,
    changes: bool,
) -> tuple[GlmResult, str, str]:
    """Compare two groups: G with variance groups when sizes differ (auto), else OLS t.

    ``changes``: the rows are per-subject changes (sign flips for G);
    otherwise between-subject values (permutations within ``exch``'s blocks).
    Returns the fit, the test's name and its exchangeability description.
    """
    unequal = int(in_a.sum()) != int((~in_a).sum())
    if spec.variance_groups == "on" or (spec.variance_groups == "auto" and unequal):
        name = "G (Aspin-Welch v: one error variance per group, Winkler et al. 2014)"
        if changes:
            res = welch_glm(y, x, contrast, in_a, n_permutations, seed)
            return (
                res,
                name,
                "sign flips of the full model's residuals (ter Braak 1992; independent "
                "symmetric errors; variance groups are the two groups compared)",
            )
        res = welch_glm(y, x, contrast, in_a, n_permutations, seed, exch)
        return (
            res,
            name,
            f"{exch.description}, of the Freedman-Lane residuals; each permutation's G "
            "converted to z through its own Welch-Satterthwaite degrees of freedom "
            "(variance groups are the two groups compared)",
        )
    res = permutation_glm(y, x, contrast, exch, n_permutations, seed)
    return res, "t", exch.description


def _used(res: GlmResult) -> int:
    """Permutations behind a GLM's p-values: every sign flip (identity too) when exact."""
    return res.n_permutations + 1 if res.exact else res.n_permutations


def _change_model(
    table: pd.DataFrame,
    spec: ModelSpec,
    n_permutations: int,
    seed: int,
    n_bootstrap: int,
    confidence: float,
    effect_ci: str = EFFECT_CI,
) -> StatsResult:
    """Models on per-subject changes a - b: paired, interaction, brain-behaviour."""
    assert spec.within is not None
    assert spec.contrast is not None
    a, b = spec.contrast
    if a == b:
        raise InputError(f"the contrast compares '{a}' with itself")
    cube, subjects, measure_index, dropped = _wide_cube(table, spec, spec.within, [a, b])
    measures = list(measure_index)
    n = len(subjects)
    if n < 2:
        raise InputError(f"the model needs at least 2 subjects; {n} remain")
    covs, cov_names = _covariate_matrix(table, spec, subjects)
    # Run covariates enter as their within-subject change, uncentred: the paired
    # estimate (intercept) is then the change at equal covariate.
    runs = _run_covariates(table, spec, subjects, [a, b])
    for cov, wide_cov in runs.items():
        covs = np.column_stack([covs, (wide_cov[a] - wide_cov[b]).to_numpy(dtype=float)])
        cov_names.append(f"{cov} ({a}-{b})")
    d = cube[:, 0, :] - cube[:, 1, :]
    label = f"{a}-{b}"
    design = pd.DataFrame({spec.subject: subjects, f"change_{label}": "per measure"})
    if spec.between:
        groups = _subject_column(table, spec, spec.between).loc[subjects].astype(str)
        levels = list(spec.between_contrast or sorted(groups.unique()))
        if len(levels) != 2:
            raise InputError(
                f"'{spec.between}' has levels {sorted(groups.unique())}; name two with "
                "between_contrast (--between-contrast A-B)"
            )
        keep = groups.isin(levels).to_numpy()
        in_a = (groups[keep] == levels[0]).to_numpy()
        x = np.column_stack([np.ones(keep.sum()), in_a - in_a.mean(), covs[keep]])
        names = ("intercept", f"{spec.between}[{levels[0]}]", *cov_names)
        blocks = _blocks(table, spec, subjects[keep])
        res, test_name, scheme = _two_groups(
            d[keep],
            x,
            np.eye(x.shape[1])[1],
            in_a,
            blocks,
            spec,
            n_permutations,
            seed,
            changes=True,
        )
        blocks = Exchangeability(blocks.kind, blocks.blocks, scheme)
        null, count = res.null, _used(res)
        g = hedges_g(d[keep][in_a], d[keep][~in_a])
        low, high = _ci("g", d[keep], n_bootstrap, seed, groups=in_a, confidence=confidence)
        design = pd.DataFrame(x, columns=list(names)).assign(**{spec.subject: subjects[keep]})
        out = _glm_row(
            measures,
            f"({label})[{levels[0]}] - ({label})[{levels[1]}]",
            res,
            int(keep.sum()),
            ("hedges_g", g, low, high),
            "interaction",
            confidence,
        )
        summary = (
            f"Group x {spec.within} interaction: per-subject change {label} compared "
            f"between {spec.between} = {levels[0]} and {levels[1]} (OLS: change ~ 1 + "
            f"{spec.between}{''.join(' + ' + c for c in cov_names)}), {test_name} test on "
            f"the group term. {_scheme(blocks.description, res.n_permutations, seed, res.exact)}."
        )
    elif spec.test_covariate:
        xc = _numeric_covariate(table, spec, spec.test_covariate, subjects)
        x = np.column_stack([np.ones(n), xc - xc.mean(), covs])
        names = ("intercept", spec.test_covariate, *cov_names)
        blocks = _blocks(table, spec, subjects)
        res = permutation_glm(d, x, np.eye(x.shape[1])[1], blocks, n_permutations, seed, names)
        null, count = res.null, _used(res)
        r = pearson_r(xc, d)
        low, high = _ci("r", d, n_bootstrap, seed, covariate=xc, confidence=confidence)
        design = pd.DataFrame(x, columns=list(names)).assign(**{spec.subject: subjects})
        out = _glm_row(
            measures,
            f"slope of ({label}) on {spec.test_covariate}",
            res,
            n,
            ("pearson_r", r, low, high),
            "brain-behaviour",
            confidence,
        )
        summary = (
            f"Brain-behaviour: per-subject change {label} regressed on "
            f"{spec.test_covariate} (OLS{''.join(', + ' + c for c in cov_names)}), t test "
            f"on the slope; effect size Pearson r. "
            f"{_scheme(blocks.description, res.n_permutations, seed, res.exact)}."
        )
    else:
        dz = cohens_dz(d)
        if effect_ci == "bootstrap":
            low, high = _ci("dz", d, n_bootstrap, seed, confidence=confidence)
            interval = f"percentile bootstrap over subjects ({n_bootstrap} resamples, seed {seed})"
        else:
            low, high = dz_interval(d, confidence)
            interval = "noncentral t (exact under normality; Steiger & Fouladi 1997)"
        if covs.shape[1]:
            x = np.column_stack([np.ones(n), covs])
            names = ("intercept", *cov_names)
            flips = Exchangeability("sign-flip", None, "sign flips of per-subject changes")
            res = permutation_glm(d, x, np.eye(x.shape[1])[0], flips, n_permutations, seed, names)
            stat, est, se, df = res.statistic, res.estimate, res.se, res.df[1]
            p, eta2 = _glm_p(res), res.partial_eta2
            count, exact = _used(res), res.exact
            null = res.null
        else:
            x = np.ones((n, 1))
            sf = sign_flip_test(d, n_permutations, seed, confidence)
            stat, est, df = sf["statistic"], sf["estimate"], float(n - 1)
            se = (sf["ci_high"] - sf["ci_low"]) / (2 * t_ppf(0.5 + confidence / 2, df))
            p = {k: sf[k] for k in ("p_parametric", "p_uncorrected", "p_fwer")}
            eta2 = stat**2 / (stat**2 + df)
            count, exact = int(sf["n_permutations"][0]), bool(sf["exact"][0])
            null = _flip_null(sf, measures)
        design = pd.DataFrame(x, columns=["intercept", *cov_names]).assign(
            **{spec.subject: subjects}
        )
        out = _row(
            measures,
            label,
            est,
            se,
            stat,
            df,
            p,
            n,
            ("d_z", dz, low, high),
            {"partial_eta2": eta2, "model": "paired"},
            confidence,
        )
        flips_text = (
            f"all {count} flips (exact)" if exact else f"{count} random flips, seed {seed}"
        )
        at_equal = (
            f" (the estimate is the change at equal {', '.join(spec.run_covariates)})"
            if spec.run_covariates
            else ""
        )
        summary = (
            f"Paired: per-subject change {label} of {spec.within}, one-sample t"
            f"{' with covariates ' + ', '.join(cov_names) if cov_names else ''}{at_equal}. "
            f"Sign flips of per-subject changes (each subject one block); {flips_text}."
        )
    out["test"] = summary.split(":")[0].lower()
    out["n_permutations"] = count
    out["exchangeability"] = summary.split(". ", 1)[-1]
    if not (spec.between or spec.test_covariate):
        summary += f" Effect size d_z, {confidence:.0%} interval: {interval}."
    return StatsResult(out, design, summary, tuple(dropped), _named_null(null, measures))


def _numeric_covariate(
    table: pd.DataFrame, spec: ModelSpec, column: str, subjects: pd.Index
) -> npt.NDArray[np.float64]:
    """Return one numeric value per subject of a subject-level column, or raise."""
    values = pd.to_numeric(_subject_column(table, spec, column).loc[subjects], errors="coerce")
    if values.isna().any():
        raise InputError(f"'{column}' must be numeric for every subject")
    return values.to_numpy(dtype=float)


def _glm_row(
    measures: list[str],
    label: str,
    res: GlmResult,
    n: int,
    effect: tuple[str, npt.ArrayLike, npt.ArrayLike, npt.ArrayLike],
    model: str,
    confidence: float,
) -> pd.DataFrame:
    """Build the result rows of a permutation GLM fit (see ``_row``)."""
    return _row(
        measures,
        label,
        res.estimate,
        res.se,
        res.statistic,
        res.df[1],
        _glm_p(res),
        n,
        effect,
        {"partial_eta2": res.partial_eta2, "model": model},
        confidence,
    )


def _blocks(table: pd.DataFrame, spec: ModelSpec, subjects: pd.Index) -> Exchangeability:
    if not spec.block:
        return Exchangeability("permute", None, "subjects freely exchangeable")
    labels = _subject_column(table, spec, spec.block).loc[subjects].astype(str).to_numpy()
    return Exchangeability(
        "permute", labels, f"subjects exchangeable only within the same {spec.block}"
    )


def _ci(
    kind: str,
    values: npt.NDArray[np.float64],
    n_bootstrap: int,
    seed: int,
    **kwargs: Any,
) -> tuple[npt.ArrayLike, npt.ArrayLike]:
    if n_bootstrap <= 0:
        nan = np.full(values.shape[1], np.nan)
        return nan, nan
    return bootstrap_ci(kind, values, n_bootstrap=n_bootstrap, seed=seed, **kwargs)


def _subject_model(
    table: pd.DataFrame,
    spec: ModelSpec,
    n_permutations: int,
    seed: int,
    n_bootstrap: int,
    confidence: float,
) -> StatsResult:
    """Between-subject models on one value per subject (mean over runs)."""
    y, subjects, measures = _subject_means(table, spec)
    covs, cov_names = _covariate_matrix(table, spec, subjects)
    blocks = _blocks(table, spec, subjects)
    if spec.between:
        groups = _subject_column(table, spec, spec.between).loc[subjects].astype(str)
        levels = list(spec.between_contrast or sorted(groups.unique()))
        keep = groups.isin(levels).to_numpy()
        if len(levels) < 2:
            raise InputError(f"'{spec.between}' has a single level; nothing to compare")
        g = groups[keep].to_numpy()
        dummies = np.column_stack([(g == lv).astype(float) for lv in levels[1:]])
        x = np.column_stack([np.ones(keep.sum()), dummies - dummies.mean(axis=0), covs[keep]])
        names = ("intercept", *[f"{spec.between}[{lv}]" for lv in levels[1:]], *cov_names)
        if len(levels) == 2:
            # estimate A - B: the coefficient of "is B" negated
            contrast = -np.eye(x.shape[1])[1]
            in_a = g == levels[0]
            size = hedges_g(y[keep][in_a], y[keep][~in_a])
            low, high = _ci("g", y[keep], n_bootstrap, seed, groups=in_a, confidence=confidence)
            effect = ("hedges_g", size, low, high)
            label = f"{spec.between}: {levels[0]} - {levels[1]}"
        else:
            contrast = np.eye(x.shape[1])[1 : len(levels)]
            nan = np.full(y.shape[1], np.nan)
            effect = ("partial_eta2", nan, nan, nan)
            label = f"{spec.between}: any difference among {', '.join(levels)}"
        exch = _blocks(table, spec, subjects[keep])
        if len(levels) == 2:
            res, test_name, scheme = _two_groups(
                y[keep],
                x,
                contrast,
                g == levels[0],
                exch,
                spec,
                n_permutations,
                seed,
                changes=False,
            )
            exch = Exchangeability(exch.kind, exch.blocks, scheme)
        else:
            res = permutation_glm(y[keep], x, contrast, exch, n_permutations, seed, names)
            test_name = ""
        if effect[0] == "partial_eta2":
            effect = ("partial_eta2", res.partial_eta2, np.nan, np.nan)
        n = int(keep.sum())
        used = subjects[keep]
        model = "groups"
    elif spec.test_covariate:
        xc = _numeric_covariate(table, spec, spec.test_covariate, subjects)
        x = np.column_stack([np.ones(len(subjects)), xc - xc.mean(), covs])
        names = ("intercept", spec.test_covariate, *cov_names)
        exch = blocks
        res = permutation_glm(y, x, np.eye(x.shape[1])[1], exch, n_permutations, seed, names)
        low, high = _ci("r", y, n_bootstrap, seed, covariate=xc, confidence=confidence)
        effect = ("pearson_r", pearson_r(xc, y), low, high)
        label = f"slope on {spec.test_covariate}"
        n, used, model = len(subjects), subjects, "covariate"
        test_name = ""
    else:
        raise InputError(
            "the model tests nothing: give within (+ contrast or trend), between, or a "
            "test covariate"
        )
    out = _glm_row(
        measures,
        label,
        res,
        n,
        effect,
        model,
        confidence,
    )
    test = "t" if res.df[0] == 1 else f"F({int(res.df[0])}, {int(res.df[1])})"
    if spec.between and test_name:
        test = test_name
    summary = (
        f"Between subjects: {label}, OLS on one value per subject (mean over runs)"
        f"{''.join(' + ' + c for c in cov_names)}, {test} test. "
        f"{_scheme(exch.description, res.n_permutations, seed, res.exact)}."
    )
    out["test"] = f"between subjects {test}"
    out["n_permutations"] = _used(res)
    out["exchangeability"] = summary.split(". ", 1)[-1]
    design = pd.DataFrame(x, columns=list(names)).assign(**{spec.subject: used})
    return StatsResult(out, design, summary, (), _named_null(res.null, measures))
