"""Real data: the STAGES antipsychotic vs placebo trial (first-episode psychosis).

Region time series (Schaefer-400 7-network order + 19 subcortical rows, ICA-AROMA,
physiological and global regressors, band-pass) at baseline and 3 months; arm labels
from the trial's lists. See ``../shared/data/stages_antipsychotic_rct/SOURCE.txt``.
The arm x time interaction on within-DMN and DMN-salience FC and the link between
DMN change and symptom (BPRS) change are fitted with ``dmnpharm.stats.analyse`` and
checked against an independent computation (numpy correlations, scipy tests).
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from dmnpharm.atlases import load_atlas
from dmnpharm.metrics import fisher_z_connectivity, network_mean_fc
from dmnpharm.stats import ModelSpec, analyse

pytestmark = [pytest.mark.realdata, pytest.mark.usefixtures("atlas_folder")]


def _stages(shared_data: Path) -> Path:
    root = shared_data / "stages_antipsychotic_rct"
    if not root.is_dir():
        pytest.skip(f"{root} is absent")
    return root


def _metrics(root: Path) -> pd.DataFrame:
    """Tidy table: within-DMN and DMN-SN FC per subject and session, with arm."""
    atlas = load_atlas("schaefer400_7")
    dmn, sn = atlas.network_indices("DMN"), atlas.network_indices("SN")
    arms = pd.read_csv(root / "clinical" / "_derived_arm_assignment.csv")
    arm = dict(zip(arms["BIDS_ID"], arms["arm_from_repo_file"].str.split("(").str[0], strict=True))
    rows = []
    folder = root / "timeseries_419parc_AROMA_8Phys_4GMR_bpf"
    for session, label in (("ses-1", "baseline"), ("ses-2", "month3")):
        for path in sorted((folder / session).glob("ts_sub-*_*.txt.gz")):
            pid = path.name.split("_")[1]
            if pid not in arm:
                continue
            data = np.loadtxt(path).T[:, :400]  # volumes x cortical parcels
            z = fisher_z_connectivity(data)
            for measure, value in (
                ("dmn_within_fc", network_mean_fc(z, dmn, dmn)),
                ("dmn_salience_fc", network_mean_fc(z, dmn, sn)),
            ):
                rows.append(
                    {
                        "participant_id": pid,
                        "session_id": session,
                        "condition": label,
                        "arm": arm[pid],
                        "measure": measure,
                        "value": value,
                    }
                )
    return pd.DataFrame(rows)


def test_arm_by_time_interaction_and_symptom_link(shared_data: Path) -> None:
    """Interaction and brain-symptom link on real trial data, equal to scipy on the changes."""
    root = _stages(shared_data)
    table = _metrics(root)
    spec = ModelSpec(
        within="condition",
        contrast=("month3", "baseline"),
        between="arm",
        between_contrast=("medication", "placebo"),
        incomplete="drop",
    )
    result = analyse(table, spec, n_permutations=5000, seed=0)
    res = result.results.set_index("measure")
    # 37 patients have both scans: 23 medication, 14 placebo (SOURCE.txt)
    assert res["n"].eq(37).all()
    assert len(result.dropped) == table["participant_id"].nunique() - 37
    wide = table.pivot_table(
        index=["participant_id", "arm"], columns=["measure", "condition"], values="value"
    ).dropna()
    for measure in ("dmn_within_fc", "dmn_salience_fc"):
        change = (wide[(measure, "month3")] - wide[(measure, "baseline")]).reset_index("arm")
        med = change[0][change["arm"] == "medication"]
        pla = change[0][change["arm"] == "placebo"]
        # arms of 23 and 14: the default variance groups give the Welch statistic
        ref = sps.ttest_ind(med, pla, equal_var=False)
        assert res.loc[measure, "estimate"] == pytest.approx(med.mean() - pla.mean(), rel=1e-10)
        assert res.loc[measure, "statistic"] == pytest.approx(ref.statistic, rel=1e-8)
        assert res.loc[measure, "p_parametric"] == pytest.approx(ref.pvalue, rel=1e-8)
        # permutation and parametric p agree roughly for these near-normal changes
        assert abs(res.loc[measure, "p_uncorrected"] - ref.pvalue) < 0.03
    # SOURCE.txt's own quick check: medication +0.013, placebo -0.045 within-DMN
    assert res.loc["dmn_within_fc", "estimate"] == pytest.approx(0.058, abs=0.005)

    bprs = pd.read_csv(root / "clinical" / "bprs_change_scores.txt", sep="\t")
    first = bprs[bprs["timepoint"] == bprs["timepoint"].min()].set_index("BIDS_ID")["outcome"]
    with_rating = table.assign(bprs_change=table["participant_id"].map(first)).dropna()
    link = analyse(
        with_rating,
        ModelSpec(
            within="condition",
            contrast=("month3", "baseline"),
            test_covariate="bprs_change",
            incomplete="drop",
        ),
        n_permutations=5000,
    ).results.set_index("measure")
    dmn = (
        with_rating[with_rating["measure"] == "dmn_within_fc"]
        .pivot_table(index="participant_id", columns="condition", values="value")
        .dropna()
    )
    ref = sps.pearsonr(dmn["month3"] - dmn["baseline"], first.loc[dmn.index])
    assert link.loc["dmn_within_fc", "effect_size"] == pytest.approx(ref.statistic, rel=1e-8)
    assert link.loc["dmn_within_fc", "p_parametric"] == pytest.approx(ref.pvalue, rel=1e-8)
