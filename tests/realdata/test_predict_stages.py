"""Real data: the STAGES antipsychotic x time GBC map explained by the Hansen receptor maps.

The 3-month change in regional GBC (mean Fisher z of each of the 400 Schaefer
parcels with the 399 others) of the STAGES patients with both scans, compared
between arms by a regional Welch t (23 medication, 14 placebo), is explained
with ``explain_map`` by the 19 Hansen et al. (2022) maps at scale 400, against
1,000 variogram-matched surrogates. With 37 patients the result is
exploratory: only what holds whatever the map shows is asserted (its size,
the D2 row, p-value ranges, nulls no more liberal than the parametric test,
determinism). ``benchmarks/predict_stages_d2.py`` prints the full table with
10,000 nulls; ``docs/predict_validation.md`` reports it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from dmnpharm.atlases import Atlas, clear_atlas_cache, load_atlas
from dmnpharm.metrics import fisher_z_connectivity, global_brain_connectivity
from dmnpharm.predict import (
    MapExplanation,
    ReceptorMaps,
    RegionalMap,
    explain_map,
    load_receptors,
)

pytestmark = pytest.mark.realdata

N_NULL = 1000
N_CORTEX = 400
SERIES = "timeseries_419parc_AROMA_8Phys_4GMR_bpf"


def _folders(shared_data: Path) -> tuple[Path, Path, Path]:
    names = ("stages_antipsychotic_rct", "receptors_hansen2022", "atlases")
    root, hansen, atlases = (shared_data / name for name in names)
    for folder in (root, hansen, atlases):
        if not folder.is_dir():
            pytest.skip(f"{folder} is absent")
    return root, hansen, atlases


def _gbc(path: Path) -> np.ndarray:
    """Regional GBC of the 400 cortical rows of one scan (regions x volumes file)."""
    z = fisher_z_connectivity(np.loadtxt(path)[:N_CORTEX].T)
    return np.asarray(global_brain_connectivity(z), dtype=np.float64)


def _gbc_map(root: Path, atlas: Atlas) -> RegionalMap:
    """Welch t (medication - placebo) of the ses-2 - ses-1 change in regional GBC."""
    table = pd.read_csv(root / "clinical" / "_derived_arm_assignment.csv")
    arm = dict(
        zip(table["BIDS_ID"], table["arm_from_repo_file"].str.split("(").str[0], strict=True)
    )
    change: dict[str, list[np.ndarray]] = {"medication": [], "placebo": []}
    for subject, group in sorted(arm.items()):
        paths = [root / SERIES / s / f"ts_{subject}_{s}.txt.gz" for s in ("ses-1", "ses-2")]
        if all(p.is_file() for p in paths):
            change[group].append(_gbc(paths[1]) - _gbc(paths[0]))
    med, pla = np.array(change["medication"]), np.array(change["placebo"])
    t = sps.ttest_ind(med, pla, axis=0, equal_var=False).statistic
    return RegionalMap(
        atlas.labels[:N_CORTEX],
        np.asarray(t, dtype=np.float64),
        str(root),
        "Welch t, medication - placebo, of the 3-month change in regional GBC",
        "gbc",
        "t",
        len(med) + len(pla),
    )


@pytest.fixture(scope="module")
def inputs(shared_data: Path) -> tuple[RegionalMap, ReceptorMaps]:
    """Return the STAGES GBC effect map and the Hansen maps in the Schaefer-400 order."""
    root, hansen, atlases = _folders(shared_data)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DMNPHARM_ATLAS_DIR", str(atlases))
        clear_atlas_cache()
        atlas = load_atlas("schaefer400_7")
        maps = load_receptors(hansen, atlas)
    clear_atlas_cache()
    return _gbc_map(root, atlas), maps


@pytest.fixture(scope="module")
def explained(inputs: tuple[RegionalMap, ReceptorMaps]) -> MapExplanation:
    """Return the map explained with 1,000 surrogates, seed 0."""
    observed, maps = inputs
    return explain_map(observed, maps, n_null=N_NULL, seed=0)


def test_effect_map_is_finite_on_the_400_cortical_parcels(
    inputs: tuple[RegionalMap, ReceptorMaps], explained: MapExplanation
) -> None:
    """The map has 400 finite values from 37 patients, and every parcel has receptor maps."""
    observed, maps = inputs
    values = observed.as_series().to_numpy()
    assert values.shape == (N_CORTEX,)
    assert np.isfinite(values).all()
    assert observed.n == 37  # 23 medication + 14 placebo with both scans (SOURCE.txt)
    assert observed.regions == maps.regions
    assert explained.details["regions_used"] == N_CORTEX
    assert explained.details["regions_left_out"] == []
    assert "centroids" in explained.details["distance"]


def test_d2_row_and_spatial_nulls(explained: MapExplanation) -> None:
    """D2 has a row with valid p-values; spatial nulls are never more liberal here."""
    table = explained.correlations.set_index("target")
    assert len(table) == 19
    d2 = table.loc["D2"]
    assert -1.0 <= d2["r_pearson"] <= 1.0
    assert -1.0 <= d2["r_spearman"] <= 1.0
    assert 0.0 < d2["p_parametric"] <= 1.0
    assert 1.0 / (N_NULL + 1) <= d2["p_spatial"] <= 1.0
    assert 1 <= d2["rank"] <= 19
    # The GBC change map is spatially smooth: for every target (checked at seed 0,
    # and with 10,000 nulls) the surrogate p is at least the parametric one.
    assert (table["p_spatial"] >= table["p_parametric"]).all()
    assert explained.dominance is not None
    total = explained.dominance.table["total_dominance"].sum()
    assert total == pytest.approx(explained.dominance.r2, rel=1e-9)


def test_explanation_is_deterministic_for_a_seed(
    inputs: tuple[RegionalMap, ReceptorMaps], explained: MapExplanation
) -> None:
    """The same seed gives the same correlations, nulls and dominance."""
    observed, maps = inputs
    again = explain_map(observed, maps, n_null=N_NULL, seed=0)
    pd.testing.assert_frame_equal(again.correlations, explained.correlations)
    np.testing.assert_array_equal(again.null_r, explained.null_r)
    pd.testing.assert_frame_equal(again.dominance_table(), explained.dominance_table())
    assert again.p_r2_adjusted == explained.p_r2_adjusted
