"""Catalog-wide agreement of predicted DMN directions with the literature's.

For every agent of the evidence catalog with targets and at least one
resting-state finding with a clear direction on a DMN measure that the
predictors produce, the predicted direction (``dmnpharm.predict.predict_drug``
on the Hansen et al. 2022 receptor maps, Schaefer-100) is set beside the
published one, separately for

- the pharmacological predictor (its ``direction`` column: the FC direction
  under its stated desynchronisation hypothesis), and
- the whole-brain (Hopf) model, whose only fitted parameter, the global
  coupling G, is fitted to the Hansen consensus FC (not to the catalog).

Nothing is fitted or tuned to the catalog, so a leave-one-drug-out scheme
would give the same predictions: it is satisfied trivially.

One comparison is one (publication, agent, measure) finding. Rules, fixed
before any prediction was looked at:

1. resting-state publications only (modality ``rest`` or ``rest+task``);
2. directions ``increase`` or ``decrease`` only (``no change``,
   ``normalization`` and ``mixed`` are left out and counted);
3. measures the predictors produce: :data:`MEASURES`. The subsystem
   measures (``dmn_core_within_fc``, ``dmn_dmpfc_within_fc``,
   ``dmn_mtl_within_fc``) are left out, not mapped onto ``dmn_within_fc``;
4. a finding of a publication with several agents goes to the agent its
   effect text names (``"ketamine: d = 0.63"``), else to the one agent of the
   publication's drug class (the others being comparators), else it is left
   out as not attributable (pooled analyses);
5. two clear findings of one publication, agent and measure that disagree
   are left out as conflicting; agreeing ones count once;
6. publications whose catalog note says the result is not a drug effect
   (:data:`NOT_A_DRUG_EFFECT`) are left out.

The primary set is the controlled designs (crossover, parallel,
placebo-controlled) in any population plus open single-session designs in
healthy volunteers; the secondary set is every design. Agents whose
pharmacological map is empty (no target with an occupancy, a sign and a
density map, e.g. lithium) count as "no prediction", never as disagreement.

Run from the repository root::

    PYTHONPATH=src python benchmarks/predict_catalog_agreement.py --out /tmp/agreement

``DMNPHARM_ATLAS_DIR`` defaults to ``<data>/atlases``.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from dmnpharm.atlases import Atlas, load_atlas
from dmnpharm.catalog import Agent, Catalog, Finding, Publication, load_catalog
from dmnpharm.predict import (
    Connectome,
    DrugPrediction,
    ReceptorMaps,
    align_regions,
    load_receptors,
    pharmacological_map,
    predict_drug,
)

#: Measures both the catalog and at least one predictor have.
MEASURES = (
    "dmn_within_fc",
    "dmn_salience_fc",
    "dmn_fpn_fc",
    "dmn_dan_fc",
    "dmn_anticorrelation",
    "dmn_gbc",
)
#: Directions that can agree or disagree with a predicted sign.
CLEAR = ("increase", "decrease")
#: Designs of the primary set in any population.
CONTROLLED = ("crossover", "parallel", "placebo-controlled")
#: Publications left out because the catalog says they report no drug effect.
NOT_A_DRUG_EFFECT = {
    "ye2022": "baseline predictor of remission (remitters vs non-remitters before treatment)",
}
PREDICTORS = ("pharmacological", "whole-brain model")
HANSEN = "receptors_hansen2022"
SCHAEFER = "receptors_hansen2022/data/schaefer"


def attribute(study: Publication, finding: Finding, agents: dict[str, Agent]) -> list[str]:
    """Return the agent(s) a finding is about (rule 4); empty when not attributable.

    Parameters
    ----------
    study : Publication
        The publication.
    finding : Finding
        One of its findings.
    agents : dict
        Catalog agents by id.

    Returns
    -------
    list of str
        One agent id, or none.
    """
    known = [a for a in study.agents if a in agents]
    if ":" in finding.effect:
        named = finding.effect.split(":", 1)[0].strip().lower()
        hits = [a for a in known if named in (a, agents[a].name.lower())]
        if hits:
            return hits[:1]
    if len(known) == 1:
        return known
    same = [a for a in known if agents[a].drug_class == study.drug_class]
    return same if len(same) == 1 else []


def primary(study: Publication) -> bool:
    """Return whether a publication belongs to the primary set.

    Parameters
    ----------
    study : Publication
        The publication.

    Returns
    -------
    bool
        Controlled design, or an open design in healthy volunteers.
    """
    return study.design in CONTROLLED or (study.design == "open" and study.population == "healthy")


def _exclusion(study: Publication, finding: Finding) -> str:
    if not study.agents:
        return "no agent: disease-vs-control baseline or class-level publication"
    if study.id in NOT_A_DRUG_EFFECT:
        return "not a drug effect: " + NOT_A_DRUG_EFFECT[study.id]
    if not study.is_resting_state:
        return f"modality {study.modality}"
    if finding.measure not in MEASURES:
        return f"measure {finding.measure} not produced by the predictors"
    if finding.direction not in CLEAR:
        return f"direction {finding.direction}"
    return ""


def literature(catalog: Catalog) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return the comparisons (rules 1-6) and the DMN findings left out, with why.

    Parameters
    ----------
    catalog : Catalog
        The evidence catalog.

    Returns
    -------
    tuple of pandas.DataFrame
        Comparisons: ``study``, ``agent``, ``drug_class``, ``measure``,
        ``literature``, ``design``, ``population``, ``primary``; and the
        excluded findings: ``study``, ``agents``, ``measure``, ``direction``,
        ``reason``.
    """
    agents = {a.id: a for a in catalog.agents if a.targets}
    kept, left = [], []
    for study in catalog.studies:
        for finding in study.findings:
            if not finding.measure.startswith("dmn_"):
                continue
            reason = _exclusion(study, finding)
            chosen = attribute(study, finding, agents) if not reason else []
            if not reason and not chosen:
                reason = "not attributable to one agent (pooled or several agents)"
            base = {"study": study.id, "measure": finding.measure}
            if reason:
                left.append(
                    {**base, "agents": ",".join(study.agents), "direction": finding.direction}
                    | {"reason": reason}
                )
                continue
            kept.append(
                {**base, "agent": chosen[0], "drug_class": agents[chosen[0]].drug_class}
                | {"literature": finding.direction, "design": study.design}
                | {"population": study.population, "primary": primary(study)}
            )
    return _collapse(pd.DataFrame(kept), left)


def _collapse(kept: pd.DataFrame, left: list[dict[str, str]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per (study, agent, measure); conflicting clear directions are left out."""
    keys = ["study", "agent", "measure"]
    spread = kept.groupby(keys)["literature"].transform("nunique")
    for row in kept[spread > 1].drop_duplicates(keys).itertuples():
        left.append(
            {"study": str(row.study), "measure": str(row.measure), "agents": str(row.agent)}
            | {"direction": "increase+decrease", "reason": "conflicting findings in one study"}
        )
    comparisons = kept[spread == 1].drop_duplicates(keys).reset_index(drop=True)
    return comparisons, pd.DataFrame(left)


def load_inputs(data: Path) -> tuple[Atlas, ReceptorMaps, Connectome, np.ndarray]:
    """Return the Schaefer-100 atlas, aligned Hansen maps, connectome and FC.

    Parameters
    ----------
    data : Path
        The shared data folder (``receptors_hansen2022`` inside).

    Returns
    -------
    tuple
        Atlas, receptor maps, structural connectome, consensus FC (r).
    """
    atlas = load_atlas("schaefer100_7")
    maps = align_regions(load_receptors(data / HANSEN, atlas), atlas.labels)
    sc = np.load(data / SCHAEFER / "sc_weighted.npy")
    fc = np.load(data / SCHAEFER / "fc_weighted.npy")
    return atlas, maps, Connectome(sc), fc


def predict_all(
    agent_ids: Iterable[str],
    inputs: tuple[Atlas, ReceptorMaps, Connectome, np.ndarray],
    n_seeds: int,
    seed: int,
) -> dict[str, DrugPrediction]:
    """Predict every agent at its usual dose.

    Parameters
    ----------
    agent_ids : iterable of str
        Agents to predict.
    inputs : tuple
        From :func:`load_inputs`.
    n_seeds : int
        Simulated runs per condition and coupling for the model's band.
    seed : int
        Seed of the fit's bootstrap and the simulations.

    Returns
    -------
    dict
        Agent id to its prediction.
    """
    atlas, maps, connectome, fc = inputs
    note = "Hansen et al. 2022 consensus FC (Schaefer-100)"
    return {
        a: predict_drug(
            a,
            maps,
            atlas,
            connectome=connectome,
            reference_fc=fc,
            reference_note=note,
            n_seeds=n_seeds,
            seed=seed,
        )
        for a in sorted(set(agent_ids))
    }


def _predicted(prediction: DrugPrediction, source: str, measure: str) -> tuple[str, float, bool]:
    """Return (direction or why none, estimate, band excludes 0) for one predictor."""
    if prediction.pharmacological.empty:
        return "no prediction: empty pharmacological map", np.nan, False
    table = prediction.networks
    row = table[(table["source"] == source) & (table["measure"] == measure)]
    if row.empty:
        return f"no prediction: {source} gives no {measure}", np.nan, False
    first = row.iloc[0]
    low, high = float(first["low"]), float(first["high"])
    banded = bool(np.isfinite(low) and np.isfinite(high) and (low > 0 or high < 0))
    return str(first["direction"]), float(first["estimate"]), banded


def outcome(literature_direction: str, predicted: str) -> str:
    """Return ``agree``, ``disagree``, ``predicted no change`` or why there is no prediction.

    Parameters
    ----------
    literature_direction : str
        ``increase`` or ``decrease``.
    predicted : str
        The predictor's direction, or a ``no prediction: ...`` reason.

    Returns
    -------
    str
        The outcome of the comparison: ``no prediction (empty map)`` or
        ``no prediction (measure)`` when there is none.
    """
    if predicted.startswith("no prediction: empty"):
        return "no prediction (empty map)"
    if predicted.startswith("no prediction"):
        return "no prediction (measure)"
    if predicted == "no change":
        return "predicted no change"
    return "agree" if predicted == literature_direction else "disagree"


def compare(comparisons: pd.DataFrame, predictions: dict[str, DrugPrediction]) -> pd.DataFrame:
    """Add each predictor's direction and the outcome: one row per comparison and predictor.

    Parameters
    ----------
    comparisons : pandas.DataFrame
        From :func:`literature`.
    predictions : dict
        From :func:`predict_all`.

    Returns
    -------
    pandas.DataFrame
        The comparisons with ``predictor``, ``predicted``, ``estimate``,
        ``band_excludes_0`` and ``outcome``.
    """
    rows = []
    for row in comparisons.to_dict("records"):
        for source in PREDICTORS:
            predicted, estimate, banded = _predicted(
                predictions[row["agent"]], source, row["measure"]
            )
            rows.append(
                {**row, "predictor": source, "predicted": predicted, "estimate": estimate}
                | {"band_excludes_0": banded, "outcome": outcome(row["literature"], predicted)}
            )
    return pd.DataFrame(rows)


def rate(agree: int, n: int) -> dict[str, float | int]:
    """Return the agreement rate, its exact 95% CI and the two-sided binomial p vs 0.5.

    Parameters
    ----------
    agree : int
        Comparisons that agree.
    n : int
        Comparisons with a directional prediction.

    Returns
    -------
    dict
        ``n``, ``agree``, ``rate``, ``ci_low``, ``ci_high`` (Clopper-Pearson)
        and ``p_binomial``; NaN when ``n`` is 0.
    """
    if n == 0:
        return {"n": 0, "agree": 0, "rate": np.nan, "ci_low": np.nan, "ci_high": np.nan}
    test = stats.binomtest(agree, n, 0.5, alternative="two-sided")
    ci = test.proportion_ci(confidence_level=0.95, method="exact")
    return {
        "n": n,
        "agree": agree,
        "rate": agree / n,
        "ci_low": ci.low,
        "ci_high": ci.high,
        "p_binomial": test.pvalue,
    }


def _decided(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["outcome"].isin(("agree", "disagree"))]


def agreement(table: pd.DataFrame, set_name: str) -> pd.DataFrame:
    """Agreement per predictor, overall and by drug class, per finding and per drug.

    Per drug, an agent agrees when most of its decided comparisons agree;
    ties are left out (and counted in ``ties``).

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`compare`, restricted to one set.
    set_name : str
        ``primary`` or ``all designs``.

    Returns
    -------
    pandas.DataFrame
        One row per set, predictor, unit (``finding``/``drug majority``) and group.
    """
    rows = []
    for predictor, part in table.groupby("predictor", sort=False):
        groups = [("all", part)] + [(str(k), g) for k, g in part.groupby("drug_class")]
        for group, sub in groups:
            decided = _decided(sub)
            base = {"set": set_name, "predictor": predictor, "group": group}
            counts = {
                "no_prediction_empty_map": _count(sub, "no prediction (empty map)"),
                "no_prediction_measure": _count(sub, "no prediction (measure)"),
                "predicted_no_change": _count(sub, "predicted no change"),
            }
            agree = int((decided["outcome"] == "agree").sum())
            rows.append({**base, "unit": "finding", **rate(agree, len(decided)), **counts})
            share = (decided["outcome"] == "agree").groupby(decided["agent"]).mean()
            ties = int((share == 0.5).sum())
            votes = share[share != 0.5]
            rows.append(
                {**base, "unit": "drug majority", **rate(int((votes > 0.5).sum()), len(votes))}
                | {"ties": ties}
            )
    return pd.DataFrame(rows)


def per_drug(table: pd.DataFrame) -> pd.DataFrame:
    """Comparisons per agent and predictor: how many, how many agree, by set.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`compare` (all designs).

    Returns
    -------
    pandas.DataFrame
        ``agent``, ``drug_class``, ``predictor``, ``n_primary``,
        ``agree_primary``, ``n_all``, ``agree_all``, ``outcomes``.
    """
    rows = []
    for (agent, cls, predictor), part in table.groupby(["agent", "drug_class", "predictor"]):
        prim = part[part["primary"]]
        rows.append(
            {"agent": agent, "drug_class": cls, "predictor": predictor}
            | {"n_primary": len(_decided(prim)), "agree_primary": _agrees(prim)}
            | {"n_all": len(_decided(part)), "agree_all": _agrees(part)}
            | {"outcomes": ", ".join(sorted(set(part["outcome"])))}
        )
    return pd.DataFrame(rows)


def _agrees(part: pd.DataFrame) -> int:
    return _count(part, "agree")


def _count(part: pd.DataFrame, outcome: str) -> int:
    return int((part["outcome"] == outcome).sum())


def concordance(table: pd.DataFrame) -> pd.DataFrame:
    """How often the two predictors predict the same direction for the same finding.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`compare`.

    Returns
    -------
    pandas.DataFrame
        Per set: comparisons where both predictors give a direction, how many
        give the same one, and how many model bands exclude 0.
    """
    keys = ["study", "agent", "measure"]
    wide = table.pivot_table(index=keys, columns="predictor", values="predicted", aggfunc="first")
    first = table.drop_duplicates(keys).set_index(keys)["primary"]
    model = table[table["predictor"] == "whole-brain model"].set_index(keys)
    rows = []
    for name, mask in (("primary", first), ("all designs", first | True)):
        both = wide[mask.reindex(wide.index)].dropna()
        both = both[both.isin(CLEAR).all(axis=1)]
        same = int((both[PREDICTORS[0]] == both[PREDICTORS[1]]).sum())
        decided = model[mask.reindex(model.index) & model["outcome"].isin(("agree", "disagree"))]
        rows.append(
            {"set": name, "both_directional": len(both), "same_direction": same}
            | {"model_directional": len(decided)}
            | {"model_band_excludes_0": int(decided["band_excludes_0"].sum())}
        )
    return pd.DataFrame(rows)


def no_prediction(
    catalog: Catalog, maps: ReceptorMaps, atlas: Atlas, compared: set[str]
) -> pd.DataFrame:
    """List every catalog agent whose pharmacological map is empty, and why.

    Parameters
    ----------
    catalog : Catalog
        The evidence catalog (agents with targets are checked).
    maps : ReceptorMaps
        Receptor maps aligned to ``atlas``.
    atlas : Atlas
        Regions and networks.
    compared : set of str
        Agents that have comparisons.

    Returns
    -------
    pandas.DataFrame
        ``agent``, ``drug_class``, ``in_comparisons``, ``targets``, ``reasons``.
    """
    rows = []
    for agent in catalog.agents:
        if not agent.targets:
            continue
        pharm = pharmacological_map(agent.id, maps, atlas)
        if not pharm.empty:
            continue
        targets = pharm.targets
        pairs = zip(targets["target"], targets["reason"], strict=True)
        rows.append(
            {"agent": agent.id, "drug_class": agent.drug_class}
            | {"in_comparisons": agent.id in compared}
            | {"targets": ", ".join(map(str, targets["target"]))}
            | {"reasons": "; ".join(f"{t}: {r}" for t, r in pairs)}
        )
    return pd.DataFrame(rows)


def targets_used(predictions: dict[str, DrugPrediction]) -> pd.DataFrame:
    """Which targets entered each agent's map, with weights.

    Parameters
    ----------
    predictions : dict
        From :func:`predict_all`.

    Returns
    -------
    pandas.DataFrame
        ``agent``, ``used`` (target x weight), ``dropped``.
    """
    rows = []
    for agent, prediction in predictions.items():
        t = prediction.pharmacological.targets
        used = t[t["used"]]
        weights = used["weight"] if "weight" in used else pd.Series(dtype=float)
        rows.append(
            {
                "agent": agent,
                "used": ", ".join(
                    f"{n} {w:+.2f}" for n, w in zip(used["target"], weights, strict=True)
                ),
                "dropped": ", ".join(map(str, t.loc[~t["used"], "target"])),
            }
        )
    return pd.DataFrame(rows)


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    default = Path(os.environ.get("DMNPHARM_DATA", "/work/shared/data"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=default, help="shared data folder")
    parser.add_argument("--out", type=Path, required=True, help="folder for the TSV tables")
    parser.add_argument("--n-seeds", type=int, default=5, help="model runs per coupling")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def _show(title: str, frame: pd.DataFrame) -> None:
    print(f"\n## {title}\n")
    print(frame.to_string(index=False, float_format=lambda v: f"{v:.3g}"))


def main(argv: list[str] | None = None) -> int:
    """Run the comparison, print the tables and write them as TSV under ``--out``.

    Parameters
    ----------
    argv : list of str or None
        Command-line arguments (None: ``sys.argv``).

    Returns
    -------
    int
        Exit status.
    """
    args = _arguments(argv)
    os.environ.setdefault("DMNPHARM_ATLAS_DIR", str(args.data / "atlases"))
    start = time.perf_counter()
    catalog = load_catalog()
    comparisons, excluded = literature(catalog)
    inputs = load_inputs(args.data)
    predictions = predict_all(comparisons["agent"], inputs, args.n_seeds, args.seed)
    table = compare(comparisons, predictions)
    summary = pd.concat(
        [agreement(table[table["primary"]], "primary"), agreement(table, "all designs")],
        ignore_index=True,
    )
    tables = {
        "comparisons": table,
        "agreement": summary,
        "per_drug": per_drug(table),
        "concordance": concordance(table),
        "no_prediction": no_prediction(catalog, inputs[1], inputs[0], set(predictions)),
        "targets_used": targets_used(predictions),
        "excluded_findings": excluded,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        frame.to_csv(args.out / f"{name}.tsv", sep="\t", index=False)
    with pd.option_context("display.width", 200, "display.max_colwidth", 70):
        for name in ("agreement", "concordance", "per_drug", "no_prediction", "targets_used"):
            _show(name, tables[name])
        cols = ["study", "agent", "measure", "literature", "primary", "predictor", "predicted"]
        _show("comparisons", table[[*cols, "estimate", "band_excludes_0", "outcome"]])
        _show("excluded_findings", excluded)
    print(f"\ncatalog {catalog.version}; {len(predictions)} agents predicted; ", end="")
    print(f"{time.perf_counter() - start:.1f} s; tables in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
