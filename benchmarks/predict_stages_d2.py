"""STAGES antipsychotic x time regional effect, explained by the Hansen et al. 2022 maps.

Real resting-state fMRI of the STAGES triple-blind trial in first-episode
psychosis (antipsychotic vs placebo, each with psychosocial therapy;
Francey et al. 2020, Schizophr Bull Open; Pope et al. 2025, Biol Psychiatry
GOS, doi:10.1016/j.bpsgos.2025.100589), time series as staged in
``stages_antipsychotic_rct`` (419 rows: Schaefer-400 7Networks order, then 19
subcortical regions; ``ses-1`` baseline, ``ses-2`` three months).

For each subject with both sessions and an arm label, and each session:

- the Fisher z connectivity of the 400 cortical parcels;
- regional GBC: each parcel's mean Fisher z with the 399 other cortical parcels;
- regional DMN FC (secondary): each parcel's mean Fisher z with the 91 DMN
  parcels, itself left out.

The change ses-2 - ses-1 per subject, then the regional Welch t of that change
(medication - placebo), is the antipsychotic x time map. It is explained with
``dmnpharm.predict.explain_map`` by the 19 Hansen maps at scale 400
(variogram-matched surrogates on centroid Euclidean distances, Burt et al.
2020, and dominance analysis). The D2 row and the top targets are printed,
whatever they are. With 23 medication and 14 placebo patients the map is
noisy: read the result as exploratory.

Run from the repository root::

    PYTHONPATH=src python benchmarks/predict_stages_d2.py               # 10,000 nulls
    PYTHONPATH=src python benchmarks/predict_stages_d2.py --out /tmp/d2 # also TSV tables

``DMNPHARM_ATLAS_DIR`` defaults to ``<data>/atlases``.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from dmnpharm.atlases import Atlas, load_atlas
from dmnpharm.metrics import fisher_z_connectivity, global_brain_connectivity
from dmnpharm.predict import MapExplanation, RegionalMap, explain_map, load_receptors

STAGES = "stages_antipsychotic_rct"
SERIES = "timeseries_419parc_AROMA_8Phys_4GMR_bpf"
HANSEN = "receptors_hansen2022"
N_CORTEX = 400
SESSIONS = ("ses-1", "ses-2")
ARMS = ("medication", "placebo")
MEASURES = {
    "gbc": "regional GBC (mean Fisher z with the 399 other cortical parcels)",
    "dmn_fc": "regional DMN FC (mean Fisher z with the 91 DMN parcels, self left out)",
}


def arms(root: Path) -> dict[str, str]:
    """Return each subject's arm (``medication`` or ``placebo``) from the trial's lists.

    Parameters
    ----------
    root : Path
        The ``stages_antipsychotic_rct`` folder.

    Returns
    -------
    dict
        BIDS subject id to arm.
    """
    table = pd.read_csv(root / "clinical" / "_derived_arm_assignment.csv")
    labels = table["arm_from_repo_file"].str.split("(").str[0]
    return dict(zip(table["BIDS_ID"], labels, strict=True))


def regional_measures(series: np.ndarray, atlas: Atlas) -> dict[str, np.ndarray]:
    """Return regional GBC and DMN FC of one scan's cortical parcels.

    Parameters
    ----------
    series : numpy.ndarray
        Regions (419) x volumes, as stored.
    atlas : Atlas
        The Schaefer-400 7Networks atlas.

    Returns
    -------
    dict
        ``gbc`` and ``dmn_fc``, 400 values each (mean Fisher z).
    """
    z = fisher_z_connectivity(series[:N_CORTEX].T)
    dmn = atlas.network_indices("DMN")
    in_dmn = np.zeros(N_CORTEX)
    in_dmn[dmn] = 1.0
    return {
        "gbc": global_brain_connectivity(z),
        "dmn_fc": z[:, dmn].sum(axis=1) / (dmn.size - in_dmn),
    }


def changes(root: Path, atlas: Atlas) -> tuple[dict[str, pd.DataFrame], pd.Series]:
    """Return per-subject changes (ses-2 - ses-1) of each regional measure, and the arms.

    Parameters
    ----------
    root : Path
        The ``stages_antipsychotic_rct`` folder.
    atlas : Atlas
        The Schaefer-400 7Networks atlas.

    Returns
    -------
    tuple
        Measure to a subjects x regions table of changes, and each subject's arm.
    """
    arm = arms(root)
    folder = root / SERIES
    subjects = sorted(
        s
        for s in arm
        if all((folder / ses / f"ts_{s}_{ses}.txt.gz").is_file() for ses in SESSIONS)
    )
    out: dict[str, dict[str, np.ndarray]] = {m: {} for m in MEASURES}
    for subject in subjects:
        before, after = (
            regional_measures(np.loadtxt(folder / ses / f"ts_{subject}_{ses}.txt.gz"), atlas)
            for ses in SESSIONS
        )
        for measure in MEASURES:
            out[measure][subject] = after[measure] - before[measure]
    labels = list(atlas.labels[:N_CORTEX])
    tables = {m: pd.DataFrame.from_dict(v, orient="index", columns=labels) for m, v in out.items()}
    return tables, pd.Series({s: arm[s] for s in subjects}, name="arm")


def effect_map(change: pd.DataFrame, arm: pd.Series, measure: str, source: str) -> RegionalMap:
    """Return the regional Welch t of the change, medication - placebo.

    Parameters
    ----------
    change : pandas.DataFrame
        Subjects x regions changes.
    arm : pandas.Series
        Each subject's arm.
    measure : str
        A key of :data:`MEASURES`.
    source : str
        Where the data came from.

    Returns
    -------
    RegionalMap
        400 Welch t values.
    """
    med = change[arm.reindex(change.index) == ARMS[0]].to_numpy()
    pla = change[arm.reindex(change.index) == ARMS[1]].to_numpy()
    t = stats.ttest_ind(med, pla, axis=0, equal_var=False).statistic
    return RegionalMap(
        tuple(change.columns),
        np.asarray(t, dtype=np.float64),
        source,
        f"Welch t of the 3-month change in {MEASURES[measure]}, "
        f"medication (n={len(med)}) - placebo (n={len(pla)})",
        measure,
        "t",
        len(med) + len(pla),
    )


def dmn_within_check(change: pd.DataFrame, arm: pd.Series, atlas: Atlas) -> str:
    """Return a line on the within-DMN FC change, to compare with SOURCE.txt's quick check.

    Mean within-DMN FC equals the mean of regional DMN FC over the DMN
    parcels (each pair counted twice), so it follows from the ``dmn_fc`` change.

    Parameters
    ----------
    change : pandas.DataFrame
        Subjects x regions changes of ``dmn_fc``.
    arm : pandas.Series
        Each subject's arm.
    atlas : Atlas
        The Schaefer-400 atlas.

    Returns
    -------
    str
        Means, SDs and the Welch t by arm.
    """
    within = change.iloc[:, atlas.network_indices("DMN")].mean(axis=1)
    groups = [within[arm.reindex(within.index) == a] for a in ARMS]
    t = stats.ttest_ind(*groups, equal_var=False).statistic
    parts = [
        f"{a} {g.mean():+.3f} (sd {g.std(ddof=1):.3f}, n={g.size})"
        for a, g in zip(ARMS, groups, strict=True)
    ]
    return f"within-DMN FC change: {'; '.join(parts)}; Welch t = {t:.2f}"


def summary(explanation: MapExplanation, target: str = "D2") -> dict[str, float | int | str]:
    """Return one target's row, its dominance and the top three targets.

    Parameters
    ----------
    explanation : MapExplanation
        From :func:`explain_map`.
    target : str
        The target of interest.

    Returns
    -------
    dict
        The target's correlations, p-values, ranks and dominance, the model
        fit, and the top three targets by |r| and by dominance.
    """
    table = explanation.correlations.set_index("target")
    dominance = explanation.dominance_table().set_index("target")
    row = table.loc[target]
    top_r = ", ".join(f"{t} ({r:+.2f})" for t, r in table["r_pearson"].iloc[:3].items())
    top_d = ", ".join(f"{t} ({d:.3f})" for t, d in dominance["total_dominance"].iloc[:3].items())
    return {
        "target": target,
        "r_pearson": float(row["r_pearson"]),
        "r_spearman": float(row["r_spearman"]),
        "p_parametric": float(row["p_parametric"]),
        "p_spatial": float(row["p_spatial"]),
        "rank_abs_r": int(row["rank"]),
        "total_dominance": float(dominance.loc[target, "total_dominance"]),
        "relative_dominance": float(dominance.loc[target, "relative_dominance"]),
        "rank_dominance": int(list(dominance.index).index(target)) + 1,
        "dominant": explanation.dominant,
        "r2": float(dominance["r2"].iloc[0]),
        "r2_adjusted": float(dominance["r2_adjusted"].iloc[0]),
        "p_spatial_r2_adjusted": explanation.p_r2_adjusted,
        "top3_abs_r": top_r,
        "top3_dominance": top_d,
    }


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    default = Path(os.environ.get("DMNPHARM_DATA", "/work/shared/data"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=default, help="shared data folder")
    parser.add_argument("--n-null", type=int, default=10_000, help="surrogate maps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="folder for TSV tables")
    return parser.parse_args(argv)


def _show(title: str, frame: pd.DataFrame) -> None:
    print(f"\n## {title}\n")
    print(frame.to_string(index=False, float_format=lambda v: f"{v:.4g}"))


def main(argv: list[str] | None = None) -> int:
    """Build the maps, explain them, print the tables (and write them under ``--out``).

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
    atlas = load_atlas("schaefer400_7")
    maps = load_receptors(args.data / HANSEN, atlas)
    tables, arm = changes(args.data / STAGES, atlas)
    print(dmn_within_check(tables["dmn_fc"], arm, atlas))
    print(f"maps built in {time.perf_counter() - start:.1f} s")
    rows, outputs = [], {}
    for measure, change in tables.items():
        observed = effect_map(change, arm, measure, str(args.data / STAGES / SERIES))
        tic = time.perf_counter()
        explanation = explain_map(observed, maps, n_null=args.n_null, seed=args.seed)
        seconds = time.perf_counter() - tic
        rows.append({"measure": measure, **summary(explanation), "seconds": seconds})
        outputs[f"{measure}_correlations"] = explanation.correlations
        outputs[f"{measure}_dominance"] = explanation.dominance_table()
        outputs[f"{measure}_map"] = observed.as_series().reset_index()
        with pd.option_context("display.width", 200):
            _show(f"{measure}: {observed.description}", explanation.correlations)
            _show(f"{measure}: dominance", explanation.dominance_table())
    result = pd.DataFrame(rows)
    outputs["d2_summary"] = result
    with pd.option_context("display.width", 200, "display.max_colwidth", 80):
        _show("D2 summary", result.T.reset_index())
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        for name, frame in outputs.items():
            frame.to_csv(args.out / f"{name}.tsv", sep="\t", index=False)
    print(f"\n{args.n_null} nulls, seed {args.seed}; {time.perf_counter() - start:.1f} s in all")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
