"""Quality control for the report: motion by condition, censoring, coverage, QC-FC, warnings.

Everything comes from objects in memory (the QC table, the per-run cleaning records of
provenance, optional per-volume and per-region series); nothing is read from files.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from dmnpharm.atlases import Atlas
from dmnpharm.report._html import Section
from dmnpharm.report._matrices import network_blocks
from dmnpharm.report._qc_svg import censoring_figure, fd_traces_figure
from dmnpharm.report._summary import _num, _p

__all__ = ["RunQC", "qc_section", "qc_warnings"]

#: Runs drawn in the censoring figure at most (the most censored), and FD traces drawn.
RUNS_DRAWN = 100
TRACES_DRAWN = 8
#: Coverage below which a region is flagged: XCP-D's default --min-coverage (0.5), under
#: which XCP-D sets the parcel to n/a.
COVERAGE_WARNING = 0.5
#: A run losing more than this share of its volumes to censoring is flagged in the summary.
HEAVY_CENSORING = 20.0

_KEYS = ("participant_id", "session_id", "run", "task", "acquisition")


@dataclass(frozen=True, eq=False)
class RunQC:
    """Per-run quality data the report can show.

    Parameters
    ----------
    qc : pandas.DataFrame or None
        One QC row per run (``mean_fd``, ``max_fd``, ``percent_censored``,
        ``dof_lost`` and the design columns).
    imbalance : pandas.DataFrame or None
        The test of motion and censoring between conditions.
    qc_fc : dict or None
        QC-FC summary (``n_subjects``, ``n_edges``, ``median_abs_r``,
        ``percent_significant``, ``percent_significant_fdr``).
    design : pandas.DataFrame or None
        One row per run with its ``path`` (the key of ``records``).
    records : mapping or None
        Per run (by path) its cleaning record: ``n_volumes``,
        ``censored_volumes``, ``excluded``, ``reason``, ``coverage``.
    atlas : Atlas or None
        The study's atlas (region networks for coverage and tSNR).
    fd_series : pandas.DataFrame or None
        Per run and volume: ``path``, ``volume``, ``framewise_displacement``
        and optionally ``censored``; FD traces are drawn when given.
    tsnr : pandas.DataFrame or None
        Per run and region: ``path``, ``region``, ``tsnr``.
    carpet : tuple or None
        ``(path, voxels x volumes array)`` of one run, for a carpet plot, or
        ``(path, array, networks)`` with each row's network.
    edges : bool
        Whether the measures are edges (QC-FC's wording).
    by : str
        The design column runs are compared by: ``condition`` (paired
        designs) or the between-subject factor.
    coverage : pandas.DataFrame or None
        Per run and region: ``path``, ``region``, ``coverage`` (the share of
        the region's voxels inside the run's brain mask).
    """

    qc: pd.DataFrame | None = None
    imbalance: pd.DataFrame | None = None
    qc_fc: Mapping[str, Any] | None = None
    design: pd.DataFrame | None = None
    records: Mapping[str, Mapping[str, Any]] | None = None
    atlas: Atlas | None = None
    fd_series: pd.DataFrame | None = None
    tsnr: pd.DataFrame | None = None
    carpet: tuple[Any, ...] | None = None
    edges: bool = False
    by: str = "condition"
    coverage: pd.DataFrame | None = None


def _runs(data: RunQC) -> pd.DataFrame:
    """One row per run: label, condition, volumes, censored volumes, mean FD, coverage."""
    design, records = data.design, data.records or {}
    if design is None or "path" not in design or not records:
        return pd.DataFrame()
    runs = design.reset_index(drop=True).copy()
    runs["path"] = runs["path"].astype(str)
    found = [records.get(p, {}) for p in runs["path"]]
    runs["n_volumes"] = [r.get("n_volumes", np.nan) for r in found]
    runs["censored"] = [list(r.get("censored_volumes") or []) for r in found]
    runs["excluded"] = [bool(r.get("excluded")) for r in found]
    runs["reason"] = [r.get("reason") or "" for r in found]
    coverage = [r.get("coverage") or {} for r in found]
    runs["missing"] = [list(c.get("regions_without_signal", [])) for c in coverage]
    runs["dmn_measured"] = [str(c.get("dmn_regions_measured", "")) for c in coverage]
    labels = runs["participant_id"].astype(str)
    if "session_id" in runs:
        labels = labels + " " + runs["session_id"].fillna("").astype(str)
    runs["label"] = labels.str.strip()
    runs["group"] = runs[data.by].astype(str) if data.by in runs else "runs"
    qc = data.qc
    keys = [k for k in _KEYS if qc is not None and k in qc and k in runs]
    if qc is not None and "mean_fd" in qc and keys:
        left = runs[keys].astype(str)
        right = qc[keys].astype(str).assign(mean_fd=qc["mean_fd"].to_numpy())
        right = right.drop_duplicates(keys)
        runs["mean_fd"] = left.merge(right, on=keys, how="left")["mean_fd"].to_numpy()
    volumes = pd.to_numeric(runs["n_volumes"], errors="coerce")
    runs["percent_censored"] = 100 * runs["censored"].map(len) / volumes.where(volumes > 0)
    return runs


def _by_condition(qc: pd.DataFrame, by: str) -> pd.DataFrame:
    """Count runs and give mean ± SD of each motion and censoring column, per condition."""
    columns = {
        "mean_fd": "mean FD (mm)",
        "max_fd": "max FD (mm)",
        "percent_censored": "% censored",
        "dof_lost": "DOF lost",
    }
    present = [c for c in columns if c in qc]
    grouped = qc.groupby(by)
    table = pd.DataFrame({"runs": grouped.size()})
    for column in present:
        mean, sd = grouped[column].mean(), grouped[column].std()
        table[columns[column]] = [
            f"{_num(float(m))} \u00b1 {_num(float(s), 2)}" for m, s in zip(mean, sd, strict=True)
        ]
    return table.reset_index()


def _imbalance_key(imbalance: pd.DataFrame) -> pd.DataFrame:
    """Cut the imbalance test to a few columns: quantity, difference, CI, p, imbalanced."""
    table = pd.DataFrame(
        {
            "quantity": imbalance["measure"],
            "contrast": imbalance.get("contrast", ""),
            "difference": imbalance["estimate"],
            "95% CI": [
                f"[{_num(float(a))}, {_num(float(b))}]"
                for a, b in zip(imbalance["ci_low"], imbalance["ci_high"], strict=True)
            ],
            "p (permutation)": imbalance["p_uncorrected"],
        }
    )
    if "imbalanced" in imbalance:
        table["imbalanced"] = ["yes" if bool(v) else "no" for v in imbalance["imbalanced"]]
    return table


def qc_fc_sentence(summary: Mapping[str, Any], edges: bool = False) -> str:
    """Say what QC-FC found, naming measures as measures (or edges as edges).

    Parameters
    ----------
    summary : mapping
        ``n_subjects``, ``n_edges`` (the number of values correlated),
        ``median_abs_r``, ``percent_significant``, ``percent_significant_fdr``.
    edges : bool
        Whether the values correlated are edges.

    Returns
    -------
    str
        One sentence, or "" when the summary has none of these numbers.
    """
    numbers = {k: float(v) for k, v in summary.items() if isinstance(v, int | float)}
    if "median_abs_r" not in numbers:
        reason = summary.get("not computed")
        return f"QC-FC was not computed: {reason}." if reason else ""
    count = int(numbers.get("n_edges", 0))
    noun = ("edge" if edges else "measure") + ("" if count == 1 else "s")
    text = (
        f"QC-FC (Power et al. 2012; Ciric et al. 2017): across "
        f"{int(numbers.get('n_subjects', 0))} subjects, each of the {count} {noun} was "
        f"correlated with mean FD: median |r| = {_num(numbers['median_abs_r'], 2)}"
    )
    if "percent_significant" in numbers:
        text += (
            f"; {_num(numbers['percent_significant'], 2)}% at p < 0.05 uncorrected "
            f"({_num(numbers.get('percent_significant_fdr', math.nan), 2)}% after FDR), "
            "against 5% expected by chance"
        )
    return text + "."


def _coverage(runs: pd.DataFrame, atlas: Atlas | None) -> pd.DataFrame:
    """Regions without a signal in some runs: how many runs had it, worst first."""
    counts: dict[str, int] = {}
    for missing in runs["missing"]:
        for region in missing:
            counts[region] = counts.get(region, 0) + 1
    if not counts:
        return pd.DataFrame()
    networks = dict(zip(atlas.labels, atlas.networks, strict=True)) if atlas else {}
    total = len(runs)
    table = pd.DataFrame(
        {
            "region": list(counts),
            "network": [networks.get(r, "") for r in counts],
            "runs with a signal": [f"{total - n} of {total}" for n in counts.values()],
            "_n": list(counts.values()),
        }
    )
    return table.sort_values("_n", ascending=False, kind="stable").drop(columns="_n")


def _censoring_figures(runs: pd.DataFrame) -> list[tuple[str, str]]:
    """Draw the censoring raster of every run (or the most censored), with its caption."""
    # Runs whose record lacks the volume count (inputs denoised elsewhere) are not drawn.
    runs = runs[pd.to_numeric(runs["n_volumes"], errors="coerce") > 0]
    if runs.empty:
        return []
    shown = runs
    note = f"all {len(runs)} runs"
    if len(runs) > RUNS_DRAWN:
        shown = runs.sort_values("percent_censored", ascending=False).head(RUNS_DRAWN)
        note = f"the {RUNS_DRAWN} most censored of {len(runs)} runs"
    shown = shown.sort_values(["group", "participant_id"], kind="stable")
    fd = shown["mean_fd"].to_numpy() if "mean_fd" in shown else None
    uri = censoring_figure(shown, list(shown["censored"]), fd)
    caption = (
        f"Each row is a run ({note}, grouped by condition): its censored volumes in red "
        "(framewise displacement or standardised DVARS over threshold, short kept stretches, "
        "non-steady-state volumes), its mean FD on the right."
    )
    return [(uri, caption)]


def _mask(volumes: Any, size: int) -> npt.NDArray[np.bool_]:
    """Return a boolean mask of ``size`` volumes with the listed volumes set."""
    mask = np.zeros(size, dtype=bool)
    picked = [int(v) for v in list(volumes) if 0 <= int(v) < size]
    mask[picked] = True
    return mask


def _trace_figures(data: RunQC, runs: pd.DataFrame) -> list[tuple[str, str]]:
    """Draw FD traces of the runs with the highest mean FD, when per-volume FD was given."""
    series = data.fd_series
    if series is None or series.empty or runs.empty:
        return []
    by_path = {str(k): v for k, v in series.groupby("path")}
    fd_column = runs["mean_fd"] if "mean_fd" in runs else pd.Series(np.nan, index=runs.index)
    ranked = runs.assign(_fd=pd.to_numeric(fd_column, errors="coerce"))
    ranked = ranked.sort_values("_fd", ascending=False, na_position="last")
    traces = []
    for row in ranked.to_dict("records"):
        frame = by_path.get(str(row["path"]))
        if frame is None:
            continue
        frame = frame.sort_values("volume")
        fd = frame["framewise_displacement"].to_numpy(dtype=np.float64)
        mask = _mask(row["censored"], fd.size)
        if "censored" in frame:
            mask |= frame["censored"].to_numpy(dtype=bool)
        traces.append((f"{row['label']} {row['group']}", fd, mask))
        if len(traces) == TRACES_DRAWN:
            break
    if not traces:
        return []
    record = next(iter((data.records or {}).values()), {})
    threshold = (record.get("config") or {}).get("fd_threshold")
    caption = (
        f"Framewise displacement over time of the {len(traces)} runs with the highest mean FD "
        f"(of {len(runs)}); red ticks: censored volumes; dashed: the FD threshold."
    )
    return [(fd_traces_figure(traces, threshold), caption)]


def _signal_figures(data: RunQC, runs: pd.DataFrame) -> list[tuple[str, str]]:
    """Draw a carpet plot of one run and the tSNR per region, when the pipeline gave them."""
    figures = []
    if data.carpet is not None:
        # Drawn with matplotlib, imported here: ROI-level runs have neither figure.
        from dmnpharm.report._qc_figures import carpet_figure

        path, carpet = data.carpet[0], data.carpet[1]
        networks = tuple(data.carpet[2]) if len(data.carpet) > 2 else ()
        row = runs[runs["path"] == path] if not runs.empty else runs
        label = str(row["label"].iloc[0]) if len(row) else str(path)
        fd = censored = None
        if data.fd_series is not None and not data.fd_series.empty:
            frame = data.fd_series[data.fd_series["path"] == path].sort_values("volume")
            fd = frame["framewise_displacement"].to_numpy(dtype=np.float64)
            censored = _mask(row["censored"].iloc[0] if len(row) else [], fd.size)
        caption = (
            f"Carpet plot of {label}, the image run with the highest mean FD: each row a voxel's "
            "uncleaned signal (detrended, z-scored) over the run's volumes, grouped by network, "
            "under its FD trace with the censored volumes shaded (Power 2017). Bands across many "
            "rows at once are global signal changes, often motion."
        )
        figures.append((carpet_figure(label, carpet, fd, censored, networks), caption))
    tsnr, atlas = data.tsnr, data.atlas
    if tsnr is not None and not tsnr.empty and atlas is not None:
        from dmnpharm.report._qc_figures import tsnr_figure

        median = tsnr.groupby("region")["tsnr"].median().reindex(list(atlas.labels))
        blocks = network_blocks(atlas.networks, atlas.subsystems, split_dmn=False)
        uri = tsnr_figure(median.to_numpy(dtype=np.float64), blocks, "tSNR per region")
        caption = (
            f"Median temporal SNR (mean over standard deviation of the uncleaned signal) of each "
            f"region over {tsnr['path'].nunique()} runs, regions grouped by network."
        )
        figures.append((uri, caption))
    figures += _coverage_figures(data)
    return figures


def _coverage_figures(data: RunQC) -> list[tuple[str, str]]:
    """Draw each region's lowest coverage over runs, when the extraction measured it."""
    coverage, atlas = data.coverage, data.atlas
    if coverage is None or coverage.empty or atlas is None:
        return []
    from dmnpharm.report._qc_figures import tsnr_figure

    worst = coverage.groupby("region", observed=True)["coverage"].min()
    worst = worst.reindex(list(atlas.labels))
    blocks = network_blocks(atlas.networks, atlas.subsystems, split_dmn=False)
    values = worst.to_numpy(dtype=np.float64)
    title = "Atlas coverage per region (lowest over runs)"
    uri = tsnr_figure(values, blocks, title, ylabel="share of voxels")
    low = int(np.sum(values < COVERAGE_WARNING))
    caption = (
        f"The share of each region's voxels inside the brain mask, its lowest over "
        f"{coverage['path'].nunique()} runs (1 = the whole region has data); {low} regions fall "
        f"below {COVERAGE_WARNING:.0%} in some run. A poorly covered region's signal comes "
        "from fewer voxels, often at the edge of the brain."
    )
    return [(uri, caption)]


def qc_section(data: RunQC, adjusted: pd.DataFrame | None = None) -> Section | None:
    """Build the quality-control section: tables that fit the page, figures, QC-FC.

    Parameters
    ----------
    data : RunQC
        What the pipeline measured per run.
    adjusted : pandas.DataFrame or None
        Estimates as tested beside those at equal mean FD (one row per
        measure), when motion differed and the test was refitted.

    Returns
    -------
    Section or None
        None without a QC table.
    """
    qc = data.qc
    by = data.by
    if qc is None or qc.empty or by not in qc:
        return None
    tables = [(f"Motion and censoring by {by} (mean \u00b1 SD over runs)", _by_condition(qc, by))]
    details: list[tuple[str, pd.DataFrame]] = []
    imbalance = data.imbalance
    if imbalance is not None and not imbalance.empty:
        caption = f"Does motion or censoring differ by {by}?"
        tables.append((caption, _imbalance_key(imbalance)))
        details.append((f"The full test of motion and censoring by {by}", imbalance))
    note = (
        "Head motion (framewise displacement, FD, mm) and censoring per run. A difference "
        f"by {by} can masquerade as a drug effect on connectivity; it is tested with the same "
        "permutation test as the measures. "
    ) + qc_fc_sentence(data.qc_fc or {}, data.edges)
    if adjusted is not None and not adjusted.empty:
        tables.append(("Estimates as tested and at equal mean FD", adjusted))
        note += (
            " Because motion differed, the test was refitted with each run's mean FD as a "
            "covariate (the change at equal motion): an effect that shrinks there may be partly "
            "motion. The adjustment assumes a linear motion effect and is a check, not the "
            "primary test; when the drug changed every subject's motion alike, 'equal motion' "
            "is an extrapolation and its intervals widen."
        )
    runs = _runs(data)
    figures: list[tuple[str, str]] = []
    if not runs.empty:
        figures += _censoring_figures(runs)
        figures += _trace_figures(data, runs)
        coverage = _coverage(runs, data.atlas)
        if coverage.empty:
            note += " Every region carried a signal in every run."
        else:
            caption = "Regions without a signal in some runs (worst first)"
            tables.append((caption, coverage.head(15)))
            if len(coverage) > 15:
                details.append(("Every region without a signal in some run", coverage))
    figures += _signal_figures(data, runs)
    return Section("qc", "Quality control", note, tables, figures, details)


def _count(count: int) -> str:
    """Return ``1 run`` or ``3 runs``."""
    return f"{count} run" if count == 1 else f"{count} runs"


def qc_warnings(data: RunQC) -> tuple[list[str], str]:
    """List the QC findings a reader must see first, or say what was checked.

    Parameters
    ----------
    data : RunQC
        What the pipeline measured per run.

    Returns
    -------
    tuple
        The warnings (motion imbalance, excluded runs, heavy censoring,
        regions without signal), and, for when there are none, one sentence
        saying what was checked.
    """
    warnings: list[str] = []
    checked: list[str] = []
    imbalance = data.imbalance
    if imbalance is not None and not imbalance.empty:
        flags = imbalance.get("imbalanced", imbalance["p_uncorrected"] < 0.05)
        for row, flagged in zip(imbalance.to_dict("records"), flags, strict=True):
            text = (
                f"{row['measure']} {row.get('contrast', '')} = {_num(float(row['estimate']))} "
                f"(p = {_p(float(row['p_uncorrected']))})"
            )
            if bool(flagged):
                warnings.append(f"Motion differed by {data.by}: {text} (Quality control).")
        ps = ", ".join(_p(float(p)) for p in imbalance["p_uncorrected"])
        checked.append(f"motion and censoring did not differ by {data.by} (p = {ps})")
    runs = _runs(data)
    if not runs.empty:
        excluded = runs[runs["excluded"]]
        if len(excluded):
            reasons = "; ".join(f"{r.label}: {r.reason}" for r in excluded.head(3).itertuples())
            more = f" and {len(excluded) - 3} more" if len(excluded) > 3 else ""
            warnings.append(f"{len(excluded)} of {len(runs)} runs excluded ({reasons}{more}).")
        else:
            checked.append("no run was excluded")
        heavy = runs[runs["percent_censored"] > HEAVY_CENSORING]
        if len(heavy):
            worst = heavy.sort_values("percent_censored").iloc[-1]
            warnings.append(
                f"{_count(len(heavy))} lost more than {HEAVY_CENSORING:g}% of their volumes to "
                f"censoring (most: {worst['label']}, {worst['percent_censored']:.0f}%)."
            )
        else:
            checked.append(f"no run lost more than {HEAVY_CENSORING:g}% of its volumes")
        partial = runs[runs["missing"].map(len) > 0]
        if len(partial):
            measured = [str(v) for v in partial["dmn_measured"] if str(v)[:1].isdigit()]
            fewest = min(measured, key=lambda v: int(v.split()[0]), default="")
            detail = f"; fewest DMN regions measured: {fewest}" if fewest else ""
            warnings.append(
                f"{_count(len(partial))} lacked a signal in some regions (left out of those runs' "
                f"measures{detail}); see Quality control."
            )
        else:
            checked.append("every region had a signal in every run")
    _coverage_warning(data, warnings, checked)
    clear = f"No QC warning: {'; '.join(checked)}." if checked else ""
    return warnings, clear


def _coverage_warning(data: RunQC, warnings: list[str], checked: list[str]) -> None:
    """Flag regions with less than half their voxels inside some run's brain mask."""
    coverage = data.coverage
    if coverage is None or coverage.empty:
        return
    low = coverage[coverage["coverage"] < COVERAGE_WARNING]
    if low.empty:
        checked.append(
            f"every region had at least {COVERAGE_WARNING:.0%} of its voxels in the brain mask"
        )
        return
    regions = low.groupby("region", observed=True)["coverage"].min().sort_values()
    named = ", ".join(f"{r} ({v:.0%})" for r, v in regions.head(5).items())
    more = f" and {len(regions) - 5} more" if len(regions) > 5 else ""
    warnings.append(
        f"{len(regions)} regions had less than {COVERAGE_WARNING:.0%} of their voxels inside the "
        f"brain mask in {_count(int(low['path'].nunique()))} (lowest: {named}{more}); XCP-D would "
        "set them to n/a. See Quality control."
    )
