"""Real data: stimulant-medicated vs unmedicated autistic participants of ABIDE I (CC200).

The data (``../shared/data/abide_medication``, see its ``SOURCE.txt``) are the
Preprocessed Connectomes Project's CC200 region time series (AFNI 1D, columns
``#1..#200``, C-PAC preprocessing) of 364 ABIDE I participants over 14 sites,
with their phenotypes. They come without a BIDS layout, repetition times or
confounds, so the analysis goes through a run table (one row per participant,
paths into the data folder, built here in ``tmp_path``), a repetition-time table
by acquisition, a CC200 regions table whose networks come from the voxel
overlap of the CPAC200 image with Yeo 2011 7 networks, and ``--strategy none``
(the series are analysed as C-PAC left them).

Groups (autistic participants only, ``DX_GROUP`` 1): ``stimulant`` when
``MEDICATION_NAME`` (lower-cased) holds one of :data:`STIMULANT_NAMES`
(methylphenidate, dexmethylphenidate and their misspellings in the file,
amphetamine and dextroamphetamine, lisdexamfetamine, Dexedrine, Concerta,
Metadate), ``none`` for the unmedicated (``group`` ASD_unmedicated). Every other
selected participant is left out with the reason: controls, and medicated
participants without a stimulant (SSRIs, antipsychotics, atomoxetine,
guanfacine, ... or no name given). Participants off stimulants at the scan
(``OFF_STIMULANTS_AT_SCAN`` 1: a wash-out) stay in the stimulant group; the
column is kept as ``off_stimulants``.

The model: ``med_group`` stimulant minus none, covariates age and sex,
permutations within sites. This is an observational contrast: medicated and
unmedicated children differ in symptoms, comorbid ADHD, age and site, so a
difference is not an effect of the drug. Nothing here asserts one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest

from conftest import in_process_runs
from dmnpharm import AnalysisConfig, Inference, Results
from dmnpharm.atlases import YEO7_NETWORKS, Atlas, networks_by_overlap, regions_atlas
from dmnpharm.config import between_model
from dmnpharm.io import read_region_timeseries
from dmnpharm.metrics import BundleConfig
from dmnpharm.pipeline import Study
from dmnpharm.signal import DenoiseConfig

pytestmark = pytest.mark.realdata

#: Lower-case substrings of MEDICATION_NAME that make a participant stimulant-medicated.
STIMULANT_NAMES = (
    "methylphenid",  # methylphenidate (+ extended release, transdermal), dexmethylphenidate
    "merthylphenid",  # misspellings found in the file
    "methylphanid",
    "methylphenyd",
    "methlphenid",
    "amphetamine",  # amphetamine, dextroamphetamine (Adderall), "Dextramphetamine"
    "amfetamine",  # lisdexamfetamine
    "dexedrine",
    "concerta",
    "metadate",
)

#: ABIDE I repetition times (seconds) by acquisition: the FILE_ID prefix, which
#: splits a site's protocols (CMU_a, CMU_b; MaxMun_a, _c, _d). Values as tabulated
#: from the ABIDE I per-site scan-parameter sheets
#: (http://fcon_1000.projects.nitrc.org/indi/abide/abide_I.html, "Scan Parameters"),
#: which could not be opened from here: they were cross-checked against (1) the scan
#: length implied by each acquisition's volume count (C-PAC dropped 4 volumes:
#: 156 x 2.5 s, 250 x 1.656 s, 120 x 3 s, 180 x 2 s, 210 x 1.5 s, 200 x 1.5 s,
#: 300 x 2 s ...), (2) repetition times read from ABIDE NIfTI headers
#: (github.com/ramp-kits/autism, data/fmri_repetition_time.csv: 1.5, 1.65-1.67,
#: 2.0, 2.2, 2.5, 3.0 occur) and (3) several published analysis scripts.
#: Two values are less certain: SBL 2.2 s (most tables; some say 2.5 s) and CMU_b
#: 1.5 s (its 316 + 4 volumes at 1.5 s last the 480 s of CMU_a's 240 at 2 s, and a
#: table read from fMRIPrep sidecars gives 1.5 s; site-level tables give CMU 2.0 s).
ACQUISITION_REPETITION_TIMES = {
    "CMU_a": 2.0,
    "CMU_b": 1.5,
    "KKI": 2.5,
    "Leuven_1": 1.656,
    "MaxMun_a": 3.0,
    "MaxMun_c": 3.0,
    "MaxMun_d": 3.0,
    "NYU": 2.0,
    "Olin": 1.5,
    "Pitt": 1.5,
    "SBL": 2.2,
    "SDSU": 2.0,
    "Stanford": 2.0,
    "UCLA_1": 3.0,
    "UCLA_2": 3.0,
    "UM_1": 2.0,
    "UM_2": 2.0,
}

CPAC200 = "cc200_harvardoxford_neuroparc/CPAC200_space-MNI152NLin6_res-2x2x2.nii.gz"
#: The liberal Yeo-7 mask fills the cortical grey matter; the default one is a thin
#: ribbon that most CC200 parcels lie mostly outside (see dmnpharm.atlases._overlap).
YEO7_LIBERAL = "yeo2011_neuroparc/Yeo-7-liberal_space-MNI152NLin6_res-2x2x2.nii.gz"


def _abide(shared_data: Path) -> Path:
    root = shared_data / "abide_medication"
    if not (root / "_derived_selected_subjects.csv").is_file():
        pytest.skip(f"{root} is absent (the ABIDE CC200 medication subset)")
    if not (shared_data / "atlases" / CPAC200).is_file():
        pytest.skip(f"{shared_data / 'atlases' / CPAC200} is absent")
    return root


def select(subjects: pd.DataFrame, folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split the selected subjects into the run table's rows and those left out, with why."""
    names = subjects["MEDICATION_NAME"].fillna("").str.lower()
    stimulant = names.map(lambda text: any(s in text for s in STIMULANT_NAMES))
    group = subjects["group"]
    files = subjects["FILE_ID"].map(lambda f: folder / "rois_cc200" / f"{f}_rois_cc200.1D.gz")
    reason = pd.Series("", index=subjects.index)
    reason[group == "TD_control"] = "typically developing control: not in the ASD contrast"
    medicated = group == "ASD_medicated"
    reason[medicated & ~stimulant & (names == "")] = "medicated, medication not named"
    reason[medicated & ~stimulant & (names != "")] = "medicated without a stimulant"
    reason[(reason == "") & ~files.map(Path.is_file)] = "no CC200 time-series file"
    used = subjects[reason == ""]
    runs = pd.DataFrame(
        {
            "participant_id": used["SUB_ID"].astype(str),
            "path": files[reason == ""].astype(str),
            "site": used["SITE_ID"],
            "acquisition": used["FILE_ID"].str.rsplit("_", n=1).str[0],
            "med_group": np.where(stimulant[reason == ""], "stimulant", "none"),
            "age": used["AGE_AT_SCAN"],
            "sex": used["SEX"].map({1: "M", 2: "F"}),
            "off_stimulants": used["OFF_STIMULANTS_AT_SCAN"].map({1.0: "yes", 0.0: "no"}),
        }
    ).fillna({"off_stimulants": "n/a"})
    left_out = pd.DataFrame({"FILE_ID": subjects["FILE_ID"], "reason": reason})
    return runs, left_out[reason != ""]


@dataclass(frozen=True)
class Analysis:
    """The analysis of the stimulant contrast and what went into it."""

    subjects: pd.DataFrame
    runs: pd.DataFrame
    left_out: pd.DataFrame
    atlas: Atlas
    results: Results


@pytest.fixture(scope="module")
def analysis(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Analysis:
    """Build the tables in a temporary folder and analyse the contrast (about 25 s)."""
    folder = _abide(shared_data)
    base = tmp_path_factory.mktemp("abide")
    subjects = pd.read_csv(folder / "_derived_selected_subjects.csv")
    runs, left_out = select(subjects, folder)
    runs.to_csv(base / "runs.tsv", sep="\t", index=False)
    trs = pd.DataFrame(
        {
            "acquisition": list(ACQUISITION_REPETITION_TIMES),
            "repetition_time": list(ACQUISITION_REPETITION_TIMES.values()),
        }
    )
    trs.to_csv(base / "repetition_times.tsv", sep="\t", index=False)
    atlases = shared_data / "atlases"
    regions = networks_by_overlap(atlases / CPAC200, atlases / YEO7_LIBERAL, YEO7_NETWORKS)
    regions.to_csv(base / "atlas-cc200_regions.tsv", sep="\t", index=False)
    atlas = regions_atlas(base / "atlas-cc200_regions.tsv")
    config = AnalysisConfig(
        atlas=atlas,
        denoise=DenoiseConfig("none"),
        bundle=BundleConfig(regions=False, edges=False),  # network-level measures only
        model=between_model(
            "med_group", ("stimulant", "none"), covariates=("age", "sex"), block="site"
        ),
        inference=Inference(n_permutations=199, seed=0),
        gsr_sensitivity=False,  # the primary contrast only: half the per-run work
    )
    # Through the public entry point, as `dmnpharm run runs.tsv --atlas ...
    # --repetition-time-table ... --strategy none --between med_group ...` does.
    study = Study.from_folder(
        base / "runs.tsv", repetition_time_table=base / "repetition_times.tsv"
    )
    assert study.kind == "table"
    with in_process_runs(base / "cache"):
        results = study.analyse(config, base / "out")
    return Analysis(subjects, runs, left_out, atlas, results)


def test_stimulant_vs_unmedicated_asd(analysis: Analysis) -> None:
    """Every subject is used or left out with a reason; TRs recorded; p-values in [0, 1]."""
    subjects, runs, left_out = analysis.subjects, analysis.runs, analysis.left_out
    assert len(runs) + len(left_out) == len(subjects) == 364
    counts = pd.crosstab(runs["site"], runs["med_group"])
    print("\nparticipants by site and group:\n", counts.to_string())
    print("left out:\n", left_out["reason"].value_counts().to_string())
    assert set(runs["med_group"]) == {"stimulant", "none"}
    assert (runs["med_group"] == "none").sum() == (subjects["group"] == "ASD_unmedicated").sum()

    results = analysis.results
    provenance = results.provenance
    measured = set(results.metrics["participant_id"])
    named = " ".join([*results.failures, *provenance.get("exclusions", [])])
    for pid, path in zip("sub-" + runs["participant_id"], runs["path"], strict=True):
        listed = pid in named or path in named  # a run excluded is named by its file
        assert pid in measured or listed, f"{pid} is neither measured nor listed as excluded"

    recorded = {r["from"].rsplit(" ", 1)[1].rstrip(")"): r for r in provenance["repetition_times"]}
    for acquisition in runs["acquisition"].unique():
        assert (
            recorded[acquisition]["repetition_time"] == ACQUISITION_REPETITION_TIMES[acquisition]
        )
    design = results.metrics.drop_duplicates("participant_id").set_index("participant_id")
    assert set(design.index) == set("sub-" + runs["participant_id"])
    expected = runs.set_index("sub-" + runs["participant_id"])["acquisition"]
    np.testing.assert_array_equal(
        design.loc[expected.index, "repetition_time"].to_numpy(dtype=float),
        expected.map(ACQUISITION_REPETITION_TIMES).to_numpy(dtype=float),
    )

    table = results.results.set_index("measure")
    p_values = table[["p_uncorrected", "p_fwer", "p_fdr"]].to_numpy()
    assert ((p_values >= 0) & (p_values <= 1)).all()
    assert (table["n"] <= len(runs)).all()
    assert np.isfinite(table.loc["dmn_within_fc", "estimate"])
    columns = ["estimate", "ci_low", "ci_high", "statistic", "p_uncorrected", "p_fwer", "n"]
    with pd.option_context("display.width", 200, "display.max_columns", 10):
        print("stimulant minus none (age, sex; permutations within site):\n", table[columns])
    assert len(analysis.atlas.network_indices("DMN")) >= 30


def neighbour_contrast(
    z: npt.NDArray[np.float64], neighbours: npt.NDArray[np.bool_], order: npt.NDArray[np.int64]
) -> float:
    """Mean connectivity of spatial neighbours minus that of all pairs, columns read in ``order``.

    Parameters
    ----------
    z : numpy.ndarray
        Regions x regions mean Fisher z, columns as in the files.
    neighbours : numpy.ndarray
        Regions x regions: True for pairs of atlas regions that are spatial neighbours.
    order : numpy.ndarray
        Which file column is each atlas region (the identity: column k is region k).

    Returns
    -------
    float
        The contrast; large when the columns are the regions, near 0 for a random order.
    """
    m = z[np.ix_(order, order)]
    upper = np.triu(np.ones_like(neighbours), 1)
    return float(np.nanmean(m[neighbours & upper]) - np.nanmean(m[upper]))


def test_cc200_columns_follow_cpac200_label_order(
    shared_data: Path, rng: np.random.Generator
) -> None:
    """Column ``#k`` of the 1D files is CPAC200 label k: neighbours correlate, beyond chance.

    Under the true correspondence, regions whose centroids are near (each region's
    3 nearest) have markedly higher connectivity than the average pair; a
    permutation of the columns destroys that. 60 participants' mean Fisher z,
    2,000 random column orders.
    """
    folder = _abide(shared_data)
    labels = [str(k) for k in range(1, 201)]
    files = sorted((folder / "rois_cc200").glob("*_rois_cc200.1D.gz"))[::6][:60]
    z = np.zeros((200, 200))
    count = np.zeros((200, 200))
    for file in files:
        data = read_region_timeseries(file, labels)
        alive = data.std(axis=0) > 0
        r = np.corrcoef(data[:, alive].T)
        np.fill_diagonal(r, 0.0)
        z[np.ix_(alive, alive)] += np.arctanh(np.clip(r, -0.999999, 0.999999))
        count[np.ix_(alive, alive)] += 1
    z = np.where(count > 0, z / np.maximum(count, 1), np.nan)
    np.fill_diagonal(z, np.nan)
    atlases = shared_data / "atlases"
    centres = networks_by_overlap(atlases / CPAC200, atlases / YEO7_LIBERAL, YEO7_NETWORKS)
    xyz = centres[["x", "y", "z"]].to_numpy()
    distance = np.linalg.norm(xyz[:, None] - xyz[None], axis=2)
    np.fill_diagonal(distance, np.inf)
    nearest = np.argsort(distance, axis=1)[:, :3]
    neighbours = np.zeros((200, 200), dtype=bool)
    neighbours[np.repeat(np.arange(200), 3), nearest.ravel()] = True
    neighbours |= neighbours.T
    observed = neighbour_contrast(z, neighbours, np.arange(200))
    null = np.array([neighbour_contrast(z, neighbours, rng.permutation(200)) for _ in range(2000)])
    p = (1 + np.sum(null >= observed)) / (1 + null.size)
    print(
        f"\nneighbour contrast {observed:.3f} (null mean {null.mean():.4f}, sd {null.std():.4f}, "
        f"max {null.max():.4f}); permutation p = {p:.5f}"
    )
    assert p < 0.001
    assert observed > null.max()
