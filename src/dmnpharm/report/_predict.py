"""``dmnpharm predict`` outputs: tables, figures, the report section and the standalone report."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dmnpharm._utils import staged_output_dir, versions
from dmnpharm.predict import LOAD_NOTE, Prediction
from dmnpharm.report._html import _ENV, Section, section_items
from dmnpharm.report._predict_figures import (
    network_prediction_figure,
    receptor_null_figure,
    regional_map_figure,
)

__all__ = ["CORRELATION_COLUMNS", "PredictionOutputs", "prediction_section", "write_prediction"]

#: Columns of ``receptor_correlations.tsv``, in order.
CORRELATION_COLUMNS = (
    "target",
    "r_pearson",
    "r_spearman",
    "p_parametric",
    "p_spatial",
    "null_method",
    "n_null",
    "rank",
)

_TARGET_COLUMNS = ("target", "action", "occupancy", "occupancy_method", "sign", "weight", "map")


@dataclass(frozen=True)
class PredictionOutputs:
    """Where a prediction was written.

    Parameters
    ----------
    out : Path
        The output folder.
    files : tuple of Path
        Every file written, the report last.
    """

    out: Path
    files: tuple[Path, ...]

    @property
    def report(self) -> Path:
        """The HTML report.

        Returns
        -------
        Path
            ``<out>/report.html``.
        """
        return self.out / "report.html"


def _summary(prediction: Prediction) -> str:
    parts = []
    if prediction.drug is not None:
        pharm = prediction.drug.pharmacological
        used = pharm.targets[pharm.targets["used"]]
        if used.empty:
            parts.append(f"{pharm.drug}: no target could be mapped, so nothing is predicted.")
        else:
            within = prediction.drug.networks
            rows = within[within["measure"] == "dmn_within_fc"]
            said = "; ".join(f"{r.source}: within-DMN FC {r.direction}" for r in rows.itertuples())
            pairs = zip(used["target"], used["occupancy"], strict=True)
            targets = ", ".join(f"{t} ({o:.0%})" for t, o in pairs)
            parts.append(f"{pharm.drug} at {pharm.dose_mg:g} mg (occupancy {targets}): {said}.")
    if prediction.explanation is not None:
        top = prediction.explanation.correlations.iloc[0]
        parts.append(
            f"The observed map follows {top['target']} most closely (r = {top['r_pearson']:.2f}, "
            f"spatial p = {top['p_spatial']:.3g}; dominant in the regression: "
            f"{prediction.explanation.dominant})."
        )
    return " ".join(parts)


def _drug_figures(prediction: Prediction) -> list[tuple[str, str]]:
    drug, atlas = prediction.drug, prediction.atlas
    if drug is None or atlas is None or drug.pharmacological.empty:
        return []
    pert = drug.pharmacological.perturbation
    position = {x: i for i, x in enumerate(atlas.labels)}
    coords = [atlas.coords[position[r]] for r in pert.regions] if atlas.coords else []
    figures = []
    if coords:
        title = f"{drug.pharmacological.drug}: predicted regional perturbation"
        caption = (
            "Sum over targets of net sign x occupancy x z-scored receptor density: red, "
            "more excitable than the brain's average; blue, less."
        )
        figures.append((regional_map_figure(pert.values, coords, title), caption))
    table = prediction.network_table()
    if not table.empty:
        caption = (
            "Predicted and observed changes of the DMN measures, each source scaled by its "
            "largest |value| (bars: the model's band over couplings and seeds; the observed CI)."
        )
        figures.append((network_prediction_figure(table, "DMN measures"), caption))
    return figures


def prediction_section(prediction: Prediction) -> Section:
    """Build the report section of a prediction (for ``predict`` and ``run --drug``).

    Parameters
    ----------
    prediction : Prediction
        From :func:`~dmnpharm.pipeline.run_prediction`.

    Returns
    -------
    Section
        Tables (targets, network changes, receptor correlations, dominance)
        and figures (map, network changes, correlations over their nulls).
    """
    tables: list[tuple[str, pd.DataFrame]] = []
    figures = _drug_figures(prediction)
    if prediction.drug is not None:
        targets = prediction.drug.pharmacological.targets
        shown = targets[[*_TARGET_COLUMNS, "reason"]]
        tables.append(("Targets, occupancy and how each enters the map", shown))
        caption = f"Predicted network changes. Pharmacological rows: {LOAD_NOTE}"
        tables.append((caption, prediction.network_table()))
    explanation = prediction.explanation
    if explanation is not None:
        corr = explanation.correlations[list(CORRELATION_COLUMNS)]
        tables.append(("Observed map vs receptor maps", corr))
        if not explanation.also.empty:
            tables.append(("Observed map vs the predicted map", explanation.also))
        if explanation.dominance is not None:
            fit = explanation.dominance
            caption = (
                f"Dominance analysis of the regression on all {fit.n_predictors} maps: R2 = "
                f"{fit.r2:.3f}, adjusted R2 = {fit.r2_adjusted:.3f} (spatial p = "
                f"{explanation.p_r2_adjusted:.3g}), {fit.n_regions} regions"
            )
            shown = explanation.dominance_table()[
                ["target", "total_dominance", "relative_dominance"]
            ]
            tables.append((caption, shown))
        title = f"Receptor maps vs the observed map ({explanation.observed.measure})"
        caption = (
            "Each target's Pearson r with the observed map (dot; filled where the spatial-null "
            "p < 0.05) over the range (light grey) and central 95% (dark grey) of the r of "
            f"{explanation.details['n_null']} variogram-matched surrogate maps."
        )
        uri = receptor_null_figure(
            explanation.correlations, explanation.null_r, explanation.maps.targets, title
        )
        figures.append((uri, caption))
    note = _summary(prediction) + (
        " Predictions come from receptor maps and a model; they are hypotheses to test, "
        "not findings."
    )
    return Section("prediction", "Prediction from receptor targets", note, tables, figures)


def _json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return value


def _tables(prediction: Prediction) -> dict[str, pd.DataFrame]:
    out: dict[str, pd.DataFrame] = {}
    if prediction.drug is not None:
        pharm = prediction.drug.pharmacological
        out["drug_targets.tsv"] = pharm.targets
        regions = pd.DataFrame(
            {
                "region": pharm.perturbation.regions,
                "perturbation": np.asarray(pharm.perturbation.values),
                "unit_density_perturbation": np.asarray(pharm.density.values),
            }
        )
        if prediction.atlas is not None:
            networks = dict(zip(prediction.atlas.labels, prediction.atlas.networks, strict=True))
            regions.insert(1, "network", [networks.get(r, "") for r in regions["region"]])
        out["predicted_map.tsv"] = regions
    table = prediction.network_table()
    if not table.empty:
        out["network_changes.tsv"] = table
    agreement = prediction.agreement()
    if not agreement.empty:
        out["agreement.tsv"] = agreement
    explanation = prediction.explanation
    if explanation is not None:
        out["observed_map.tsv"] = explanation.observed.as_series().rename("value").reset_index()
        out["receptor_correlations.tsv"] = explanation.correlations[list(CORRELATION_COLUMNS)]
        out["receptor_dominance.tsv"] = explanation.dominance_table()
        if not explanation.also.empty:
            out["predicted_vs_observed.tsv"] = explanation.also
    return out


def _methods(prediction: Prediction) -> str:
    text = []
    if prediction.drug is not None:
        text.append(
            "Occupancy per target from PET occupancy studies (a single-site hyperbola through "
            "the measured doses) or, without them, the law of mass action on the plasma "
            "level and affinity (each value sourced in the bundled pharmacology table). The "
            "pharmacological map sums net sign x occupancy x z-scored PET density (Hansen et "
            "al. 2022). The whole-brain model is a network of Hopf oscillators (Deco et al. "
            "2017) on the connectome, its global coupling fitted to the reference FC; the "
            "drug moves each region's bifurcation parameter by its density-weighted "
            "perturbation (after Deco et al. 2018)."
        )
    if prediction.explanation is not None:
        text.append(
            "The observed map is correlated with each receptor map and regressed on all of "
            "them with dominance analysis (Budescu 1993; Hansen et al. 2022); p-values come "
            "from variogram-matched surrogate maps that keep its spatial autocorrelation "
            "(Burt et al. 2020)."
        )
    return " ".join(text)


def write_prediction(
    prediction: Prediction, out: str | Path, overwrite: bool = False
) -> PredictionOutputs:
    """Write a prediction atomically: tables, ``prediction.json`` and ``report.html``.

    Parameters
    ----------
    prediction : Prediction
        What to write.
    out : str or Path
        Output folder.
    overwrite : bool
        Replace an existing folder.

    Returns
    -------
    PredictionOutputs
        The folder and the files written.
    """
    final = Path(out)
    names: list[str] = []
    with staged_output_dir(final, overwrite=overwrite) as staging:
        for name, table in _tables(prediction).items():
            table.to_csv(staging / name, sep="\t", index=False, na_rep="n/a")
            names.append(name)
        record = _json_ready({**prediction.record, "versions": versions()})
        (staging / "prediction.json").write_text(
            json.dumps(record, indent=2, sort_keys=True), encoding="utf-8"
        )
        names.append("prediction.json")
        section = prediction_section(prediction)
        design = {k: str(v) for k, v in prediction.record.get("request", {}).items() if v}
        html = _ENV.get_template("prediction.html.j2").render(
            c={
                "title": "dmnpharm prediction",
                "summary": _summary(prediction),
                "design": design,
                "methods": _methods(prediction),
            },
            sections=section_items([section]),
            provenance_json=json.dumps(record, indent=2, sort_keys=True),
        )
        (staging / "report.html").write_text(html, encoding="utf-8")
        names.append("report.html")
    return PredictionOutputs(final, tuple(final / n for n in names))
