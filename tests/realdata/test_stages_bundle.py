"""Real data: the DMN metrics bundle on every STAGES scan, recomputed independently.

Rows 1-400 of each STAGES time-series file are the Schaefer-400 parcels in the
7-network order, then 19 FreeSurfer subcortical ROIs (SOURCE.txt). The repetition
time is not given with the data, so only measures that do not depend on it are
checked (connectivity, graph, complexity); the sliding windows are set in volumes
(30) through an assumed TR, and amplitude is not computed (the series are already
band-passed to 0.008-0.08 Hz, which leaves fALFF nothing to compare with).
"""

from dataclasses import replace
from pathlib import Path

import bct
import numpy as np
import pandas as pd
import pytest
from nilearn.connectome import ConnectivityMeasure
from scipy import stats as sps
from sklearn.covariance import EmpiricalCovariance

from dmnpharm.atlases import Atlas, load_atlas
from dmnpharm.metrics import BundleConfig, proportional_threshold, run_bundle
from dmnpharm.stats import ModelSpec, analyse

pytestmark = [pytest.mark.realdata, pytest.mark.usefixtures("atlas_folder")]

#: Not stated with the data; sets the 30-volume sliding window only (see module notes).
TR_ASSUMED = 2.0
SUBCORTICAL = (
    "L-Cerebellum", "L-Thalamus", "L-Caudate", "L-Putamen", "L-Pallidum", "Brain-Stem",
    "L-Hippocampus", "L-Amygdala", "L-Accumbens", "L-VentralDC", "R-Cerebellum",
    "R-Thalamus", "R-Caudate", "R-Putamen", "R-Pallidum", "R-Hippocampus", "R-Amygdala",
    "R-Accumbens", "R-VentralDC",
)  # fmt: skip


def _atlas() -> Atlas:
    """Schaefer-400 (7 networks) plus the 19 aseg ROIs (network SUB; no coordinates)."""
    cortex = load_atlas("schaefer400_7")
    n = len(SUBCORTICAL)
    return replace(
        cortex,
        name="stages419",
        labels=cortex.labels + SUBCORTICAL,
        networks=cortex.networks + ("SUB",) * n,
        source_networks=cortex.source_networks + ("aseg",) * n,
        coords=cortex.coords + ((float("nan"),) * 3,) * n,
        image="",
        label_values=(),
        subsystems=(),
    )


@pytest.fixture(scope="module")
def bundle(shared_data: Path) -> tuple[pd.DataFrame, dict[str, np.ndarray], Atlas]:
    """Return the bundle of every scan, the time series of a few, and the atlas."""
    root = shared_data / "stages_antipsychotic_rct"
    if not root.is_dir():
        pytest.skip(f"{root} is absent")
    atlas_dir = shared_data / "atlases"
    if not atlas_dir.is_dir():
        pytest.skip(f"{atlas_dir} is absent")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DMNPHARM_ATLAS_DIR", str(atlas_dir))
        atlas = _atlas()
    arms = pd.read_csv(root / "clinical" / "_derived_arm_assignment.csv")
    arm = dict(zip(arms["BIDS_ID"], arms["arm_from_repo_file"].str.split("(").str[0], strict=True))
    config = BundleConfig(window_s=30 * TR_ASSUMED, edges=False)
    tables, kept = [], {}
    folder = root / "timeseries_419parc_AROMA_8Phys_4GMR_bpf"
    for session in ("ses-1", "ses-2"):
        for path in sorted((folder / session).glob("ts_sub-*_*.txt.gz")):
            pid = path.name.split("_")[1]
            data = np.loadtxt(path).T
            table, _ = run_bundle(data, atlas, TR_ASSUMED, config=config)
            table["participant_id"] = pid
            table["session_id"] = session
            table["arm"] = arm.get(pid, "unknown")
            tables.append(table)
            if len(kept) < 3:
                kept[f"{pid}_{session}"] = data
    return pd.concat(tables, ignore_index=True), kept, atlas


def test_every_scan_has_the_whole_bundle(
    bundle: tuple[pd.DataFrame, dict[str, np.ndarray], Atlas],
) -> None:
    """55 baseline and 37 follow-up scans, each with every network measure, all finite."""
    table, _, _ = bundle
    network = table[table["level"] == "network"]
    scans = network.groupby("session_id")["participant_id"].nunique()
    assert scans.to_dict() == {"ses-1": 55, "ses-2": 37}
    per_scan = network.groupby(["participant_id", "session_id"])["measure"].nunique()
    assert per_scan.eq(per_scan.iloc[0]).all()
    assert per_scan.iloc[0] == 14  # 18 minus the 4 amplitude measures
    assert np.isfinite(network["value"]).all()
    means = network.groupby("measure")["value"].mean()
    # Plain facts of resting-state data: DMN is more coupled within than with
    # task-positive networks, and networks are segregated.
    assert means["dmn_within_fc"] > means["dmn_anticorrelation"] + 0.1
    assert means["dmn_segregation"] > 0
    assert means["system_segregation"] > 0


def test_sample_recomputed_independently(
    bundle: tuple[pd.DataFrame, dict[str, np.ndarray], Atlas],
) -> None:
    """Within-DMN FC (nilearn), GBC (numpy) and participation (bctpy) for 3 scans."""
    table, kept, atlas = bundle
    dmn = atlas.network_indices("DMN")
    assigned = np.flatnonzero(np.asarray(atlas.networks) != "NONE")
    for scan, data in kept.items():
        pid, session = scan.split("_")
        rows = table[(table["participant_id"] == pid) & (table["session_id"] == session)]
        value = rows.set_index(["measure", "region_a"])["value"]
        r = ConnectivityMeasure(
            kind="correlation", cov_estimator=EmpiricalCovariance()
        ).fit_transform([data])[0]
        z = np.arctanh(np.clip(r, -1 + 1e-12, 1 - 1e-12))
        np.fill_diagonal(z, 0)
        within = z[np.ix_(dmn, dmn)][np.triu_indices(dmn.size, k=1)].mean()
        assert value[("dmn_within_fc", "")] == pytest.approx(within, abs=1e-10)
        region = atlas.labels[dmn[0]]
        assert value[("gbc", region)] == pytest.approx(z[dmn[0]].sum() / (z.shape[0] - 1))
        graph = proportional_threshold(z[np.ix_(assigned, assigned)], 0.1)
        modules = pd.factorize(np.asarray(atlas.networks)[assigned])[0] + 1
        with np.errstate(divide="ignore", invalid="ignore"):  # bct: 0/0 for isolated nodes
            reference = bct.participation_coef((graph > 0).astype(float), modules)
        position = {int(k): i for i, k in enumerate(assigned)}
        assert value[("participation", region)] == pytest.approx(
            reference[position[int(dmn[0])]], abs=1e-12
        )


def test_arm_by_time_interaction_matches_welch_on_changes(
    bundle: tuple[pd.DataFrame, dict[str, np.ndarray], Atlas],
) -> None:
    """The arm x time test of each network measure equals scipy on the change scores."""
    table, _, _ = bundle
    network = table[(table["level"] == "network") & (table["arm"] != "unknown")].copy()
    network["condition"] = network["session_id"].map({"ses-1": "baseline", "ses-2": "month3"})
    spec = ModelSpec(
        within="condition",
        contrast=("month3", "baseline"),
        between="arm",
        between_contrast=("medication", "placebo"),
        incomplete="drop",
    )
    result = analyse(network, spec, n_permutations=2000, seed=0).results.set_index("measure")
    pooled_spec = replace(spec, variance_groups="off")
    pooled_result = analyse(network, pooled_spec, n_permutations=200, seed=0).results
    pooled_result = pooled_result.set_index("measure")
    assert result["n"].eq(37).all()
    wide = network.pivot_table(
        index=["participant_id", "arm"], columns=["measure", "condition"], values="value"
    ).dropna()
    for measure in ("dmn_within_fc", "dmn_participation", "dmn_lz_complexity"):
        change = wide[(measure, "month3")] - wide[(measure, "baseline")]
        med = change.xs("medication", level="arm")
        pla = change.xs("placebo", level="arm")
        assert result.loc[measure, "estimate"] == pytest.approx(med.mean() - pla.mean())
        # arms of 23 and 14: the default variance groups give the Welch statistic
        welch = sps.ttest_ind(med, pla, equal_var=False)
        assert result.loc[measure, "statistic"] == pytest.approx(welch.statistic, rel=1e-6)
        assert result.loc[measure, "p_parametric"] == pytest.approx(welch.pvalue, rel=1e-6)
        pooled = sps.ttest_ind(med, pla, equal_var=True)
        assert pooled_result.loc[measure, "statistic"] == pytest.approx(pooled.statistic, rel=1e-6)
