"""Group models from a tidy metrics table: design, contrast, exchangeability, test.

:class:`ModelSpec` names design columns; :func:`analyse` picks the analysis they
describe, builds the design matrix and the exchangeability structure, runs the
permutation test on every measure at once and returns the result table (with the
columns of :data:`RESULT_COLUMNS` and a few more), the design and a readable
summary of the model and the permutation scheme.

===========================================  ===========================================
Options                                      Analysis (permutation scheme)
===========================================  ===========================================
``within`` + ``contrast``                    paired: per-subject a - b, one-sample t
                                             (sign flips; subjects are the blocks)
``within`` (3+ levels), no contrast          repeated measures F over the levels
                                             (permutation within subject)
``within`` + ``trend``                       within-subject linear trend in ``trend``
                                             (permutation within subject)
``within`` + ``contrast`` + ``between``      group x within interaction: between-group
                                             difference of per-subject changes
                                             (subjects permuted)
``within`` + ``contrast`` + ``test_covariate``  brain-behaviour: change vs covariate
``between`` (+ ``between_contrast``)         groups: t (two levels) or F (more)
``test_covariate`` alone                     association with a subject covariate
===========================================  ===========================================

``covariates`` are subject-level nuisance regressors (numeric: centred; text:
dummy coded); ``block`` (e.g. site) adds block intercepts and restricts
permutations to within blocks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats as sps

from dmnpharm._utils import closest_match, get_logger
from dmnpharm.exceptions import InputError
from dmnpharm.stats._effects import bootstrap_ci, cohens_dz, hedges_g, pearson_r
from dmnpharm.stats._glm import Exchangeability, permutation_glm
from dmnpharm.stats._paired import RESULT_COLUMNS, sign_flip_test

__all__ = ["EXTRA_COLUMNS", "ModelSpec", "StatsResult", "analyse"]

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


@dataclass(frozen=True)
class ModelSpec:
    """Which design columns the group model uses (see the module table).

    Parameters
    ----------
    within : str, optional
        Within-subject factor column (e.g. ``condition``, ``session_id``).
    contrast : tuple of str, optional
        ``(a, b)`` levels of ``within``: the change ``a - b``.
    between : str, optional
        Between-subject factor column (e.g. ``group``, ``arm``, ``medication``).
    between_contrast : tuple of str, optional
        ``(a, b)`` levels of ``between`` compared (A minus B).
    covariates : tuple of str
        Subject-level nuisance covariates.
    test_covariate : str, optional
        A subject-level covariate whose association is tested.
    trend : str, optional
        Numeric run-level column (e.g. ``dose_mg``) whose within-subject
        linear trend is tested.
    block : str, optional
        Subject-level block column (e.g. ``site``).
    subject : str
        Subject column.
    incomplete : str
        ``refuse`` (default) or ``drop``: what to do with subjects lacking a
        level of ``within`` that the analysis needs. Dropped subjects are
        listed in the log and the result.
    """

    within: str | None = None
    contrast: tuple[str, str] | None = None
    between: str | None = None
    between_contrast: tuple[str, str] | None = None
    covariates: tuple[str, ...] = ()
    test_covariate: str | None = None
    trend: str | None = None
    block: str | None = None
    subject: str = "participant_id"
    incomplete: str = "refuse"


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
    """

    results: pd.DataFrame
    design: pd.DataFrame
    summary: str
    dropped: tuple[str, ...] = field(default=())


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


def _scheme(kind: str, count: int, seed: int) -> str:
    return f"{kind}; {count} random permutations, seed {seed}, p = (count + 1) / (B + 1)"


def analyse(
    table: pd.DataFrame,
    spec: ModelSpec,
    n_permutations: int = 10_000,
    seed: int = 0,
    n_bootstrap: int = 2000,
    confidence: float = 0.95,
) -> StatsResult:
    """Fit the group model ``spec`` to every measure of a tidy metrics table.

    Parameters
    ----------
    table : pandas.DataFrame
        Tidy metrics: ``participant_id`` (or ``spec.subject``), ``measure``,
        ``value`` and the design columns the spec names.
    spec : ModelSpec
        The model.
    n_permutations : int
        Permutations or sign flips.
    seed : int
        Seed of permutations and bootstrap.
    n_bootstrap : int
        Bootstrap resamples for effect-size intervals (0: none).
    confidence : float
        Level of the parametric interval of the estimate and of the bootstrap
        interval of the effect size.

    Returns
    -------
    StatsResult
        Results (FWER over all measures by the maximum statistic, BH FDR),
        the design and a summary.

    Raises
    ------
    InputError
        Missing columns or levels (the closest names are suggested), too few
        subjects, a rank-deficient design (the columns are named), subjects
        lacking a level (unless dropped by option) or non-finite values.
    """
    for column in (spec.subject, "measure", "value"):
        _need_column(table, column, "required")
    if spec.incomplete not in ("refuse", "drop"):
        raise InputError(f"incomplete must be 'refuse' or 'drop', got {spec.incomplete!r}")
    values = pd.to_numeric(table["value"], errors="coerce")
    if not np.isfinite(values).all():
        bad = table.index[~np.isfinite(values)][:5].tolist()
        raise InputError(f"the value column has missing or non-finite entries (rows {bad})")
    optional: tuple[tuple[str | None, str], ...] = (
        (spec.within, "within"),
        (spec.between, "between"),
        (spec.test_covariate, "test covariate"),
        (spec.trend, "trend"),
        (spec.block, "block"),
    )
    for name, role in optional:
        if name:
            _need_column(table, name, role)
    for cov in spec.covariates:
        _need_column(table, cov, "covariate")
    if spec.within and spec.contrast:
        for level in spec.contrast:
            _need_level(table, spec.within, level)
    if spec.between and spec.between_contrast:
        for level in spec.between_contrast:
            _need_level(table, spec.between, level)
    if spec.within and spec.contrast is not None:
        return _change_model(table, spec, n_permutations, seed, n_bootstrap, confidence)
    if spec.within:
        return _repeated_model(table, spec, n_permutations, seed, confidence)
    return _subject_model(table, spec, n_permutations, seed, n_bootstrap, confidence)


def _change_model(
    table: pd.DataFrame,
    spec: ModelSpec,
    n_permutations: int,
    seed: int,
    n_bootstrap: int,
    confidence: float,
) -> StatsResult:
    """Models on per-subject changes a - b: paired, interaction, brain-behaviour."""
    assert spec.within is not None
    assert spec.contrast is not None
    a, b = spec.contrast
    if a == b:
        raise InputError(f"the contrast compares '{a}' with itself")
    wide, dropped = _wide(table, spec, spec.within, [a, b])
    change = wide[a] - wide[b]
    subjects, measures = change.index, list(change.columns)
    n = len(subjects)
    if n < 2:
        raise InputError(f"the model needs at least 2 subjects; {n} remain")
    covs, cov_names = _covariate_matrix(table, spec, subjects)
    d = change.to_numpy()
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
        res = permutation_glm(
            d[keep], x, np.eye(x.shape[1])[1], blocks, n_permutations, seed, names
        )
        g = hedges_g(d[keep][in_a], d[keep][~in_a])
        low, high = _ci("g", d[keep], n_bootstrap, seed, groups=in_a, confidence=confidence)
        design = pd.DataFrame(x, columns=list(names)).assign(**{spec.subject: subjects[keep]})
        out = _row(
            measures,
            f"({label})[{levels[0]}] - ({label})[{levels[1]}]",
            res.estimate,
            res.se,
            res.statistic,
            res.df[1],
            _glm_p(res),
            int(keep.sum()),
            ("hedges_g", g, low, high),
            {"partial_eta2": res.partial_eta2, "model": "interaction"},
            confidence,
        )
        summary = (
            f"Group x {spec.within} interaction: per-subject change {label} compared "
            f"between {spec.between} = {levels[0]} and {levels[1]} (OLS: change ~ 1 + "
            f"{spec.between}{''.join(' + ' + c for c in cov_names)}), t test on the "
            f"group term. {_scheme(blocks.description, n_permutations, seed)}."
        )
    elif spec.test_covariate:
        cov = pd.to_numeric(
            _subject_column(table, spec, spec.test_covariate).loc[subjects], errors="coerce"
        )
        if cov.isna().any():
            raise InputError(f"'{spec.test_covariate}' must be numeric for every subject")
        xc = cov.to_numpy(dtype=float)
        x = np.column_stack([np.ones(n), xc - xc.mean(), covs])
        names = ("intercept", spec.test_covariate, *cov_names)
        blocks = _blocks(table, spec, subjects)
        res = permutation_glm(d, x, np.eye(x.shape[1])[1], blocks, n_permutations, seed, names)
        r = pearson_r(xc, d)
        low, high = _ci("r", d, n_bootstrap, seed, covariate=xc, confidence=confidence)
        design = pd.DataFrame(x, columns=list(names)).assign(**{spec.subject: subjects})
        out = _row(
            measures,
            f"slope of ({label}) on {spec.test_covariate}",
            res.estimate,
            res.se,
            res.statistic,
            res.df[1],
            _glm_p(res),
            n,
            ("pearson_r", r, low, high),
            {"partial_eta2": res.partial_eta2, "model": "brain-behaviour"},
            confidence,
        )
        summary = (
            f"Brain-behaviour: per-subject change {label} regressed on "
            f"{spec.test_covariate} (OLS{''.join(', + ' + c for c in cov_names)}), t test "
            f"on the slope; effect size Pearson r. "
            f"{_scheme(blocks.description, n_permutations, seed)}."
        )
    else:
        dz = cohens_dz(d)
        low, high = _ci("dz", d, n_bootstrap, seed, confidence=confidence)
        if covs.shape[1]:
            x = np.column_stack([np.ones(n), covs])
            names = ("intercept", *cov_names)
            flips = Exchangeability("sign-flip", None, "sign flips of per-subject changes")
            res = permutation_glm(d, x, np.eye(x.shape[1])[0], flips, n_permutations, seed, names)
            stat, est, se, df = res.statistic, res.estimate, res.se, res.df[1]
            p, eta2 = _glm_p(res), res.partial_eta2
            count, exact = n_permutations, False
        else:
            x = np.ones((n, 1))
            sf = sign_flip_test(d, n_permutations, seed, confidence)
            stat, est, df = sf["statistic"], sf["estimate"], float(n - 1)
            se = (sf["ci_high"] - sf["ci_low"]) / (2 * sps.t.ppf(0.5 + confidence / 2, df))
            p = {k: sf[k] for k in ("p_parametric", "p_uncorrected", "p_fwer")}
            eta2 = stat**2 / (stat**2 + df)
            count, exact = int(sf["n_permutations"][0]), bool(sf["exact"][0])
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
        summary = (
            f"Paired: per-subject change {label} of {spec.within}, one-sample t"
            f"{' with covariates ' + ', '.join(cov_names) if cov_names else ''}. Sign flips "
            f"of per-subject changes (each subject one block); {flips_text}."
        )
    out["test"] = summary.split(":")[0].lower()
    out["n_permutations"] = n_permutations
    out["exchangeability"] = summary.split(". ", 1)[-1]
    return StatsResult(out, design, summary, tuple(dropped))


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


def _repeated_model(
    table: pd.DataFrame, spec: ModelSpec, n_permutations: int, seed: int, confidence: float
) -> StatsResult:
    """Repeated measures: F over levels or a linear trend, permutation within subject."""
    assert spec.within is not None
    levels = sorted(set(table[spec.within].astype(str)))
    if len(levels) < 2:
        raise InputError(f"'{spec.within}' has one level ({levels[0]}); nothing to compare")
    wide, dropped = _wide(table, spec, spec.within, levels)
    measures = list(next(iter(wide.values())).columns)
    subjects = next(iter(wide.values())).index
    n = len(subjects)
    if n < 2:
        raise InputError(f"the model needs at least 2 subjects; {n} remain")
    y = np.vstack([wide[lv].to_numpy() for lv in levels])  # level-major rows
    subj = np.tile(np.arange(n), len(levels))
    subject_dummies = np.eye(n)[subj]
    if spec.trend:
        per_level = (
            table.assign(_lv=table[spec.within].astype(str))
            .groupby("_lv")[spec.trend]
            .agg(lambda s: float(np.mean(pd.to_numeric(s, errors="coerce"))))
        )
        if per_level.isna().any():
            raise InputError(f"'{spec.trend}' must be numeric at every level of {spec.within}")
        dose = np.repeat(per_level.loc[levels].to_numpy(dtype=float), n)
        x = np.column_stack([dose - dose.mean(), subject_dummies])
        contrast = np.eye(x.shape[1])[0]
        names = (spec.trend, *[f"subject[{s}]" for s in subjects])
        label = f"linear trend in {spec.trend}"
        model = "trend"
    else:
        level_cols = np.column_stack(
            [
                (np.repeat(np.arange(len(levels)), n) == k).astype(float)
                for k in range(1, len(levels))
            ]
        )
        x = np.column_stack([level_cols, subject_dummies])
        contrast = np.eye(x.shape[1])[: len(levels) - 1]
        names = (
            *[f"{spec.within}[{lv}]" for lv in levels[1:]],
            *[f"subject[{s}]" for s in subjects],
        )
        label = f"any difference among {', '.join(levels)}"
        model = "repeated F"
    exch = Exchangeability(
        "permute", subj, f"{spec.within} levels exchangeable only within subject"
    )
    res = permutation_glm(y, x, contrast, exch, n_permutations, seed, names)
    out = _row(
        measures,
        label,
        res.estimate,
        res.se,
        res.statistic,
        res.df[1],
        _glm_p(res),
        n,
        ("partial_eta2", res.partial_eta2, np.nan, np.nan),
        {"partial_eta2": res.partial_eta2, "model": model},
        confidence,
    )
    test = "t" if spec.trend else f"F({int(res.df[0])}, {int(res.df[1])})"
    summary = (
        f"Repeated measures: {label}, OLS with one intercept per subject, {test} test. "
        f"{_scheme(exch.description, n_permutations, seed)}."
    )
    out["test"] = f"repeated measures {test}"
    out["n_permutations"] = n_permutations
    out["exchangeability"] = summary.split(". ", 1)[-1]
    tested = contrast.shape[0] if contrast.ndim == 2 else 1
    design = pd.DataFrame(x[:, :tested], columns=list(names)[:tested])
    design.insert(0, spec.subject, np.asarray(subjects)[subj])
    design.insert(1, spec.within, np.repeat(levels, n))
    return StatsResult(out, design, summary, tuple(dropped))


def _subject_model(
    table: pd.DataFrame,
    spec: ModelSpec,
    n_permutations: int,
    seed: int,
    n_bootstrap: int,
    confidence: float,
) -> StatsResult:
    """Between-subject models on one value per subject (mean over runs)."""
    means = table.pivot_table(
        index=spec.subject, columns="measure", values="value", aggfunc="mean"
    )
    measures = list(dict.fromkeys(table["measure"]))
    means = means[measures]
    subjects = means.index
    y = means.to_numpy()
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
        res = permutation_glm(y[keep], x, contrast, exch, n_permutations, seed, names)
        if effect[0] == "partial_eta2":
            effect = ("partial_eta2", res.partial_eta2, np.nan, np.nan)
        n = int(keep.sum())
        used = subjects[keep]
        model = "groups"
    elif spec.test_covariate:
        cov = pd.to_numeric(
            _subject_column(table, spec, spec.test_covariate).loc[subjects], errors="coerce"
        )
        if cov.isna().any():
            raise InputError(f"'{spec.test_covariate}' must be numeric for every subject")
        xc = cov.to_numpy(dtype=float)
        x = np.column_stack([np.ones(len(subjects)), xc - xc.mean(), covs])
        names = ("intercept", spec.test_covariate, *cov_names)
        exch = blocks
        res = permutation_glm(y, x, np.eye(x.shape[1])[1], exch, n_permutations, seed, names)
        low, high = _ci("r", y, n_bootstrap, seed, covariate=xc, confidence=confidence)
        effect = ("pearson_r", pearson_r(xc, y), low, high)
        label = f"slope on {spec.test_covariate}"
        n, used, model = len(subjects), subjects, "covariate"
    else:
        raise InputError(
            "the model tests nothing: give within (+ contrast or trend), between, or a "
            "test covariate"
        )
    out = _row(
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
    test = "t" if res.df[0] == 1 else f"F({int(res.df[0])}, {int(res.df[1])})"
    summary = (
        f"Between subjects: {label}, OLS on one value per subject (mean over runs)"
        f"{''.join(' + ' + c for c in cov_names)}, {test} test. "
        f"{_scheme(exch.description, n_permutations, seed)}."
    )
    out["test"] = f"between subjects {test}"
    out["n_permutations"] = n_permutations
    out["exchangeability"] = summary.split(". ", 1)[-1]
    design = pd.DataFrame(x, columns=list(names)).assign(**{spec.subject: used})
    return StatsResult(out, design, summary, ())
