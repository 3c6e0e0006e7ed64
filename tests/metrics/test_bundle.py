"""The metrics bundle: independent recomputation and recovery of planted effects."""

from __future__ import annotations

from dataclasses import replace

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from nilearn.connectome import ConnectivityMeasure
from scipy import stats
from sklearn.covariance import EmpiricalCovariance

from dmnpharm.atlases import Atlas, load_atlas
from dmnpharm.exceptions import InputError
from dmnpharm.metrics import (
    BUNDLE_COLUMNS,
    BundleConfig,
    estimate_connectivity,
    proportional_threshold,
    region_amplitude,
    run_bundle,
)
from dmnpharm.simulate import Effect, SignalSpec, load_preset, simulate_study

TR = 2.0


@pytest.fixture(scope="module")
def seitzman() -> Atlas:
    """Return the embedded Seitzman-300 atlas."""
    return load_atlas("seitzman300")


@pytest.fixture(scope="module")
def run_data() -> np.ndarray:
    """Return one simulated run (300 regions, 200 volumes) with network structure."""
    base = load_preset("demo-crossover", seed=8)
    spec = replace(base, design=replace(base.design, n_subjects=2))
    return np.asarray(simulate_study(spec).runs[0].signals.data)


def _network(table: pd.DataFrame, measure: str) -> float:
    row = table[(table["level"] == "network") & (table["measure"] == measure)]
    assert len(row) == 1, measure
    return float(row["value"].iloc[0])


def test_connectivity_rows_match_nilearn(seitzman: Atlas, run_data: np.ndarray) -> None:
    """Within-DMN, DMN-salience and DMN edges equal nilearn's correlation, Fisher z."""
    table, record = run_bundle(run_data, seitzman, TR)
    measure = ConnectivityMeasure(kind="correlation", cov_estimator=EmpiricalCovariance())
    r = measure.fit_transform([run_data])[0]
    z = np.arctanh(np.clip(r, -1 + 1e-12, 1 - 1e-12))
    dmn = seitzman.network_indices("DMN")
    sn = seitzman.network_indices("SN")
    upper = np.triu_indices(dmn.size, k=1)
    assert _network(table, "dmn_within_fc") == pytest.approx(
        z[np.ix_(dmn, dmn)][upper].mean(), abs=1e-10
    )
    assert _network(table, "dmn_salience_fc") == pytest.approx(
        z[np.ix_(dmn, sn)].mean(), abs=1e-10
    )
    edges = table[table["measure"] == "edge_fc"]
    assert len(edges) == dmn.size * (dmn.size - 1) // 2
    first = edges.iloc[0]
    i, j = seitzman.labels.index(first["region_a"]), seitzman.labels.index(first["region_b"])
    assert first["value"] == pytest.approx(z[i, j], abs=1e-10)
    others = np.setdiff1d(np.arange(seitzman.n_regions), [3])
    gbc = table[(table["measure"] == "gbc") & (table["region_a"] == seitzman.labels[3])]
    assert float(gbc["value"].iloc[0]) == pytest.approx(z[3, others].mean(), abs=1e-10)
    assert list(table.columns) == list(BUNDLE_COLUMNS)
    assert record["estimator"] == "pearson"


def test_partial_estimator_matches_nilearn(seitzman: Atlas, run_data: np.ndarray) -> None:
    """The partial estimator equals nilearn's Ledoit-Wolf partial correlation."""
    ours = estimate_connectivity(run_data, "partial")
    reference = ConnectivityMeasure(kind="partial correlation").fit_transform([run_data])[0]
    off = ~np.eye(seitzman.n_regions, dtype=bool)
    np.testing.assert_allclose(np.tanh(ours[off]), reference[off], atol=1e-8)
    table, record = run_bundle(run_data, seitzman, TR, config=BundleConfig(estimator="partial"))
    dmn = seitzman.network_indices("DMN")
    upper = np.triu_indices(dmn.size, k=1)
    assert _network(table, "dmn_within_fc") == pytest.approx(
        ours[np.ix_(dmn, dmn)][upper].mean(), abs=1e-12
    )
    assert "Ledoit-Wolf" in record["estimator_description"]


def test_degree_rows_match_networkx(seitzman: Atlas, run_data: np.ndarray) -> None:
    """DMN node degree rows equal networkx degree on the same thresholded graph.

    Unassigned regions (network NONE) are left out of the graph before thresholding.
    """
    table, _ = run_bundle(run_data, seitzman, TR, config=BundleConfig(density=0.15))
    assigned = np.flatnonzero(np.asarray(seitzman.networks) != "NONE")
    z = estimate_connectivity(run_data, "pearson")[np.ix_(assigned, assigned)]
    graph = nx.from_numpy_array((proportional_threshold(z, 0.15) > 0).astype(int))
    position = {int(region): k for k, region in enumerate(assigned)}
    degree = table[table["measure"] == "degree"].set_index("region_a")["value"]
    assert len(degree) == seitzman.network_indices("DMN").size
    for label in degree.index:
        assert degree[label] == graph.degree[position[seitzman.labels.index(label)]]
    assert _network(table, "dmn_degree") == pytest.approx(degree.mean())


def test_amplitude_rows_use_the_unfiltered_signals(seitzman: Atlas, run_data: np.ndarray) -> None:
    """ALFF rows come from amplitude_data; without it they are absent and noted."""
    table, _ = run_bundle(run_data, seitzman, TR, amplitude_data=run_data)
    expected = region_amplitude(run_data, TR, seitzman.networks)
    assert _network(table, "dmn_alff") == pytest.approx(expected.networks["DMN"]["alff"])
    per_region = table[table["measure"] == "falff"]
    np.testing.assert_allclose(per_region["value"], expected.falff)
    bare, record = run_bundle(run_data, seitzman, TR)
    assert "dmn_alff" not in set(bare["measure"])
    assert any("amplitude" in note for note in record["notes"])


def test_dmn_only_atlas_skips_what_needs_other_networks() -> None:
    """Andrews-Hanna (DMN only): subsystem FC present; anticorrelation etc. noted, absent."""
    atlas = load_atlas("andrews_hanna")
    data = np.random.default_rng(1).standard_normal((150, atlas.n_regions))
    table, record = run_bundle(data, atlas, TR, amplitude_data=data)
    measures = set(table.loc[table["level"] == "network", "measure"])
    assert {"dmn_core_within_fc", "dmn_dmpfc_within_fc", "dmn_mtl_within_fc"} <= measures
    assert not {"dmn_anticorrelation", "dmn_segregation", "dmn_zalff"} & measures
    assert len(record["notes"]) == 2
    core = [atlas.labels.index(name) for name in ("aMPFC", "PCC")]
    z = estimate_connectivity(data, "pearson")
    assert _network(table, "dmn_core_within_fc") == pytest.approx(z[core[0], core[1]])


def test_short_run_has_no_sliding_window_and_says_so(seitzman: Atlas) -> None:
    """A run shorter than one window gives no sliding-window rows, with a note."""
    data = np.random.default_rng(2).standard_normal((25, seitzman.n_regions))
    table, record = run_bundle(data, seitzman, TR, config=BundleConfig(regions=False))
    assert "dmn_swfc_mean" not in set(table["measure"])
    assert any("sliding-window" in note for note in record["notes"])


def test_bad_inputs_are_refused(seitzman: Atlas, run_data: np.ndarray) -> None:
    """Wrong region count, matrix shape, estimator or density: clear errors."""
    with pytest.raises(InputError, match="regions of atlas"):
        run_bundle(run_data[:, :10], seitzman, TR)
    with pytest.raises(InputError, match="does not match"):
        run_bundle(run_data, seitzman, TR, matrix=np.eye(3))
    with pytest.raises(InputError, match="not known"):
        BundleConfig(estimator="spearman")
    with pytest.raises(InputError, match="density"):
        BundleConfig(density=1.5)
    with pytest.raises(InputError, match="group"):
        estimate_connectivity(run_data, "tangent")
    one_dmn = replace(
        seitzman,
        networks=(*("VIS" if n == "DMN" else n for n in seitzman.networks[:-1]), "DMN"),
    )
    with pytest.raises(InputError, match="1 DMN region"):
        run_bundle(run_data, one_dmn, TR)


def _paired_t(effect: Effect, measures: list[str]) -> dict[str, float]:
    """Paired t (drug - placebo) per measure over 16 simulated subjects."""
    base = load_preset("demo-crossover", seed=3)
    spec = replace(
        base,
        design=replace(base.design, n_subjects=16),
        # no session-to-session states: this module tests which measures move
        signal=SignalSpec(n_volumes=200, session_network_sd=0.0),
        effects=(effect,),
    )
    study = simulate_study(spec)
    config = BundleConfig(regions=False, edges=False)
    values: dict[tuple[str, str], dict[str, float]] = {}
    for run in study.runs:
        data = np.asarray(run.signals.data)
        table, _ = run_bundle(data, study.atlas, TR, config=config, amplitude_data=data)
        series = table.set_index("measure")["value"]
        values[(run.participant_id, run.condition)] = {m: float(series[m]) for m in measures}
    subjects = sorted({p for p, _ in values})
    return {
        m: float(
            stats.ttest_1samp(
                [values[(s, "drug")][m] - values[(s, "placebo")][m] for s in subjects], 0.0
            ).statistic
        )
        for m in measures
    }


def test_planted_within_fc_change_is_found_by_fc_not_by_amplitude() -> None:
    """A within-DMN FC drop: dmn_within_fc moves; between-network FC and ALFF do not."""
    measures = ["dmn_within_fc", "dmn_salience_fc", "dmn_fpn_fc", "dmn_alff", "dmn_zalff"]
    t = _paired_t(Effect("within_fc", -0.12, "DMN"), measures)
    assert t["dmn_within_fc"] < -5
    for unrelated in measures[1:]:
        assert abs(t[unrelated]) < 2.5, (unrelated, t)


def test_planted_amplitude_change_is_found_by_alff_not_by_between_fc() -> None:
    """A DMN amplitude rise: ALFF and zALFF move; between-network FC does not."""
    measures = ["dmn_alff", "dmn_zalff", "dmn_salience_fc", "dmn_fpn_fc", "dmn_dan_fc"]
    t = _paired_t(Effect("amplitude", 0.3, "DMN"), measures)
    assert t["dmn_alff"] > 5
    assert t["dmn_zalff"] > 5
    for unrelated in measures[2:]:
        assert abs(t[unrelated]) < 2.5, (unrelated, t)


def test_planted_between_fc_change_is_found_by_dmn_salience_only() -> None:
    """A DMN-salience FC drop: dmn_salience_fc moves; within-DMN, DMN-FPN and ALFF do not."""
    measures = ["dmn_salience_fc", "dmn_within_fc", "dmn_fpn_fc", "dmn_alff"]
    t = _paired_t(Effect("between_fc", -0.12, "DMN", "SN"), measures)
    assert t["dmn_salience_fc"] < -5
    for unrelated in measures[1:]:
        assert abs(t[unrelated]) < 2.5, (unrelated, t)
