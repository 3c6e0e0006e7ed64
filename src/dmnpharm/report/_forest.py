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


_SCALE = {"d_z": "d_z", "hedges_g": "hedges_g", "pearson_r": "fisher_z"}


def _fisher(r: float) -> float:
    return float(np.arctanh(np.clip(r, -0.999999, 0.999999)))


def _entries(
    rows: pd.DataFrame, pooled: pd.DataFrame
) -> list[tuple[str, str, float, float, float, str]]:
    """Rows to draw: per measure, ours, each comparable literature effect, then the pool."""
    measures = list(dict.fromkeys(rows.loc[rows["our_estimate"].notna(), "measure"]))
    pools = pooled.set_index("measure") if not pooled.empty else pooled
    entries = []
    for measure in measures:
        sub = rows[rows["measure"] == measure]
        ours = sub.iloc[0]
        kind = str(ours["our_effect_size_kind"])
        size = float(ours["our_effect_size"])
        low, high = float(ours["our_effect_size_ci_low"]), float(ours["our_effect_size_ci_high"])
        if kind == "pearson_r":
            size, low, high = (
                float(np.arctanh(np.clip(v, -0.999999, 0.999999))) for v in (size, low, high)
            )
        entries.append((measure, f"this study ({kind or 'effect'})", size, low, high, "ours"))
        scale = _SCALE.get(kind, kind)
        lit = sub[(sub["kind"] == "finding") & (sub["literature_std_kind"] == scale)]
        for _, r in lit.iterrows():
            value, se = float(r["literature_std_effect"]), float(r["literature_std_se"])
            half = 1.96 * se if math.isfinite(se) else math.nan
            imputed = r.get("literature_effect_confidence") == "imputed"
            label = str(r["label"]) + (" (imputed bound)" if imputed else "")
            what = "imp" if imputed else "lit"
            entries.append((measure, label, value, value - half, value + half, what))
        if not pooled.empty and measure in pools.index:
            p = pools.loc[measure]
            if int(p["k"]) > 1:
                k_imp = int(p.get("k_imputed", 0))
                text = f"pooled, k = {int(p['k'])}" + (
                    f", {k_imp} imputed (random effects)" if k_imp else " (random effects)"
                )
                entries.append(
                    (
                        measure,
                        text,
                        float(p["pooled"]),
                        float(p["pooled_ci_low"]),
                        float(p["pooled_ci_high"]),
                        "pool",
                    )
                )
                if math.isfinite(float(p["pi_low"])):
                    entries.append(
                        (
                            measure,
                            f"95% prediction interval (this study {p['ours_in_pi']})",
                            float(p["pooled"]),
                            float(p["pi_low"]),
                            float(p["pi_high"]),
                            "pi",
                        )
                    )
    return entries


_STYLE = {
    "ours": {"fmt": "s", "color": "C3", "label": "this study (95% CI)"},
    "lit": {"fmt": "o", "color": "C0", "label": "literature (95% CI)"},
    "imp": {
        "fmt": "o",
        "color": "C0",
        "mfc": "white",
        "label": "literature, imputed at its significance threshold (a lower bound)",
    },
    "pool": {"fmt": "D", "color": "k", "label": "pooled literature (95% CI)"},
    "pi": {"fmt": "none", "color": "0.5", "label": "prediction interval of a new study"},
}


def forest_figure(rows: pd.DataFrame, title: str, pooled: pd.DataFrame | None = None) -> Figure:
    """Plot this study's effect beside the comparable literature effects, per measure.

    Parameters
    ----------
    rows : pandas.DataFrame
        :attr:`dmnpharm.catalog.Comparison.rows`. For every measure with our
        estimate: our standardized effect with its 95% CI (red square), each
        catalogued finding whose standardized effect is on the same scale
        (``literature_std_kind``: d_z beside d_z, Hedges' g beside g, Fisher z
        beside r) with its 95% CI (blue), signed by its reported direction;
        an effect imputed at its significance threshold is an open circle.
    title : str
        Figure title.
    pooled : pandas.DataFrame or None
        :func:`dmnpharm.catalog.pool_literature` of the rows: the random-effects
        pooled estimate (black diamond) and the prediction interval (grey).

    Returns
    -------
    matplotlib.figure.Figure
        The figure, with an Agg canvas (no pyplot, no global backend).
    """
    entries = _entries(rows, pooled if pooled is not None else pd.DataFrame())
    measures = list(dict.fromkeys(e[0] for e in entries))
    height = 2.0 + 0.32 * (len(entries) + len(measures))
    fig = Figure(figsize=(7.5, max(height, 2.5)), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    if not entries:
        ax.text(0.5, 0.5, "no measure of these results is in the catalog", ha="center")
        ax.set_axis_off()
        return fig
    y, ticks, labels, last = 0.0, [], [], None
    for measure, label, size, low, high, what in entries:
        if measure != last:
            y -= 0.6 if last is not None else 0
            ticks.append(y)
            labels.append(measure)
            y -= 1
            last = measure
        err = None
        if math.isfinite(low) and math.isfinite(high):
            err = np.array([[size - low], [high - size]])
        style = _STYLE[what]
        ax.errorbar(
            size,
            y,
            xerr=err,
            fmt=style["fmt"],
            color=style["color"],
            markerfacecolor=style.get("mfc", style["color"]),
            capsize=3,
            markersize=6,
            label=style["label"],
            linewidth=1.2 if what != "pi" else 3,
        )
        ticks.append(y)
        labels.append("    " + label)
        y -= 1
    ax.axvline(0, color="0.5", linewidth=0.8, linestyle="--")
    if not any(what in ("lit", "imp") for *_, what in entries):
        ax.text(
            0.02,
            0.02,
            "no literature effect on this study's scale in the catalog",
            transform=ax.transAxes,
            fontsize=8,
            color="0.35",
        )
    handles, names = ax.get_legend_handles_labels()
    unique = dict(zip(names, handles, strict=True))
    fig.legend(
        unique.values(),
        unique.keys(),
        loc="outside lower center",
        ncols=2,
        fontsize=8,
        frameon=False,
    )
    ax.set_yticks(ticks, labels, fontsize=8)
    for tick, text in zip(ax.get_yticklabels(), labels, strict=True):
        if not text.startswith("    "):
            tick.set_fontweight("bold")
    ax.set_ylim(y + 0.5, 0.8)
    ax.set_xlabel("standardized effect (d_z, Hedges' g, or Fisher z for r), 95% CI")
    ax.set_title(title)
    return fig


def write_comparison(comparison: Comparison, out: str | Path, overwrite: bool = False) -> Path:
    """Write a comparison: tables (rows, pooled), ``compare.json`` and the forest plot.

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
        pooled = pd.DataFrame(s.get("pooled", []))
        write_tsv(pooled, staging / "compare_pooled.tsv")
        forest_figure(comparison.rows, title, pooled).savefig(
            staging / "compare_forest.png", format="png", metadata={"Software": None}
        )
    return Path(out)
