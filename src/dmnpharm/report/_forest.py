"""The forest plot of a comparison (our effect sizes beside the literature's), and its files."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from dmnpharm._utils import staged_output_dir
from dmnpharm.catalog import Comparison, records
from dmnpharm.io import write_tsv

__all__ = ["forest_figure", "write_comparison"]

_SIGNS = {"increase": 1.0, "decrease": -1.0}


def forest_figure(rows: pd.DataFrame, title: str) -> Figure:
    """Plot literature effect sizes beside ours, one group of rows per measure.

    Parameters
    ----------
    rows : pandas.DataFrame
        :attr:`dmnpharm.catalog.Comparison.rows`: every measure with our estimate gets our
        standardized effect with its CI (red squares), then each catalogued
        finding on it with a numeric effect size (blue dots, its metric in
        brackets). A magnitude reported against its direction's sign (e.g.
        ``d = 0.77`` for a decrease) is plotted with the direction's sign and
        marked with a dagger.
    title : str
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        The figure, with an Agg canvas (no pyplot, no global backend).
    """
    measures = list(dict.fromkeys(rows.loc[rows["our_estimate"].notna(), "measure"]))
    entries: list[tuple[str, str, float, float, float, bool]] = []
    for measure in measures:
        sub = rows[rows["measure"] == measure]
        ours = sub.iloc[0]
        label = f"this study ({ours['our_effect_size_kind'] or 'effect'})"
        entries.append(
            (
                measure,
                label,
                float(ours["our_effect_size"]),
                float(ours["our_effect_size_ci_low"]),
                float(ours["our_effect_size_ci_high"]),
                True,
            )
        )
        lit = sub[(sub["kind"] == "finding") & sub["literature_effect_size"].notna()]
        for _, r in lit.iterrows():
            metric = r["literature_effect_metric"] or "metric?"
            size = float(r["literature_effect_size"])
            # Some sources give a magnitude only (e.g. d = 0.77 for a decrease): plot
            # it with the sign of the reported direction, marked with a dagger.
            sign = _SIGNS.get(str(r["literature_direction"]), 0.0)
            flipped = sign * size < 0
            if flipped:
                size = -size
            text = f"{r['label']} [{metric}]" + (" †" if flipped else "")
            entries.append((measure, text, size, math.nan, math.nan, False))
    height = 1.2 + 0.32 * (len(entries) + len(measures))
    fig = Figure(figsize=(7.5, max(height, 2.5)), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    if not entries:
        ax.text(0.5, 0.5, "no measure of these results is in the catalog", ha="center")
        ax.set_axis_off()
        return fig
    y, ticks, labels, last = 0.0, [], [], None
    for measure, label, size, low, high, is_ours in entries:
        if measure != last:
            y -= 0.6 if last is not None else 0
            ticks.append(y)
            labels.append(measure)
            y -= 1
            last = measure
        if is_ours:
            err = None
            if math.isfinite(low) and math.isfinite(high):
                err = np.array([[size - low], [high - size]])
            ax.errorbar(
                size, y, xerr=err, fmt="s", color="C3", capsize=3, markersize=6, label="this study"
            )
        else:
            ax.plot(
                size,
                y,
                "o",
                color="C0",
                markersize=5,
                label="literature (reported point estimate)",
            )
        ticks.append(y)
        labels.append("    " + label)
        y -= 1
    ax.axvline(0, color="0.5", linewidth=0.8, linestyle="--")
    handles, names = ax.get_legend_handles_labels()
    unique = dict(zip(names, handles, strict=True))
    ax.legend(unique.values(), unique.keys(), loc="best", fontsize=8, frameon=False)
    ax.set_yticks(ticks, labels, fontsize=8)
    for tick, text in zip(ax.get_yticklabels(), labels, strict=True):
        if not text.startswith("    "):
            tick.set_fontweight("bold")
    ax.set_ylim(y + 0.5, 0.8)
    xlabel = "standardized effect (metric in brackets; ours with its 95% CI)"
    if any(label.endswith(" †") for _, label, *_ in entries):
        xlabel += "\n† reported as a magnitude; signed here by the reported direction"
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    return fig


def write_comparison(comparison: Comparison, out: str | Path, overwrite: bool = False) -> Path:
    """Write a comparison as ``compare.tsv``, ``compare.json`` and ``compare_forest.png``.

    Parameters
    ----------
    comparison : dmnpharm.catalog.Comparison
        As :func:`dmnpharm.catalog.compare` returns.
    out : str or Path
        Output folder, written atomically.
    overwrite : bool
        Replace a non-empty ``out``.

    Returns
    -------
    Path
        The output folder.

    Raises
    ------
    OutputExistsError
        If ``out`` is not empty and ``overwrite`` is False.
    """
    with staged_output_dir(Path(out), overwrite=overwrite) as staging:
        write_tsv(comparison.rows, staging / "compare.tsv")
        payload = {"summary": comparison.summary, "rows": records(comparison.rows)}
        (staging / "compare.json").write_text(
            json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        s = comparison.summary
        title = f"{s['agent'] or s['drug_class']} ({s['population']}): this study vs literature"
        forest_figure(comparison.rows, title).savefig(
            staging / "compare_forest.png", format="png", metadata={"Software": None}
        )
    return Path(out)
