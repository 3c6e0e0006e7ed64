"""The bundle's array-at-once computations against straightforward references.

The bundle table is built column by column from index layouts cached per
atlas; sample entropy visits all sample pairs at once; Lempel-Ziv phrases come
from bit sets; the proportional threshold partitions instead of sorting. Each
is checked here against the plain computation it replaced: a row-by-row table
from the public measure functions, a lag-by-lag pair count, the phrase-by-phrase
parsing and a stable sort.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from dmnpharm.atlases import Atlas, load_atlas
from dmnpharm.exceptions import InputError
from dmnpharm.metrics import (
    BUNDLE_COLUMNS,
    BundleConfig,
    _complexity,
    dmn_anticorrelation,
    estimate_connectivity,
    global_brain_connectivity,
    matrix_measures,
    network_node_measures,
    network_segregation,
    region_amplitude,
    regional_lempel_ziv,
    regional_sample_entropy,
    run_bundle,
    sliding_window_fc,
    system_segregation,
)
from dmnpharm.metrics._checks import _exactly_symmetric, as_matrix
from dmnpharm.metrics._graph import strongest_edges
from dmnpharm.metrics._layout import layout_measures, network_layout
from dmnpharm.metrics._table import RowBlocks

TR = 2.0
PARTNERS = (("SN", "dmn_salience_fc"), ("FPN", "dmn_fpn_fc"), ("DAN", "dmn_dan_fc"))


@pytest.fixture(scope="module")
def atlas() -> Atlas:
    """Seitzman-300 (it has unassigned regions) with DMN subsystems given in turn."""
    base = load_atlas("seitzman300")
    codes, k = [], 0
    for network in base.networks:
        codes.append(("core", "dmpfc", "mtl", "")[k % 4] if network == "DMN" else "")
        k += network == "DMN"
    return replace(base, subsystems=tuple(codes))


def _signals(rng: np.random.Generator, n: int, atlas: Atlas) -> np.ndarray:
    """Return a signal shared within each network plus region noise."""
    names = sorted(set(atlas.networks))
    shared = rng.standard_normal((n, len(names)))
    column = [names.index(net) for net in atlas.networks]
    return 0.7 * shared[:, column] + rng.standard_normal((n, atlas.n_regions))


def _row(
    measure: str,
    level: str,
    value: float,
    unit: str,
    a: str,
    b: str = "",
    ra: str = "",
    rb: str = "",
) -> dict[str, Any]:
    fields = (measure, level, a, b or a, ra, rb, float(value), unit)
    return dict(zip(BUNDLE_COLUMNS, fields, strict=True))


def _pair_mean(z: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    if np.array_equal(a, b):
        return float(z[np.ix_(a, a)][np.triu_indices(a.size, k=1)].mean())
    return float(z[np.ix_(a, b)].mean())


def _reference_connectivity(
    z: np.ndarray, atlas: Atlas, config: BundleConfig
) -> list[dict[str, Any]]:
    """Return the connectivity rows, one dict at a time, from the public functions."""
    nets, labels = atlas.networks, atlas.labels
    dmn = atlas.network_indices("DMN")
    rows = [_row("dmn_within_fc", "network", _pair_mean(z, dmn, dmn), "Fisher z", "DMN")]
    for code in dict.fromkeys(s for s in atlas.subsystems if s):
        members = atlas.subsystem_indices(code)
        if members.size >= 2:
            value = _pair_mean(z, members, members)
            rows.append(_row(f"dmn_{code}_within_fc", "network", value, "Fisher z", f"DMN:{code}"))
    for partner, name in PARTNERS:
        other = np.flatnonzero(np.asarray(nets) == partner)
        if other.size:
            rows.append(
                _row(name, "network", _pair_mean(z, dmn, other), "Fisher z", "DMN", partner)
            )
    others = set(nets) - {"DMN", "NONE"}
    anti = dmn_anticorrelation(z, nets).value
    rows.append(_row("dmn_anticorrelation", "network", anti, "Fisher z", "DMN", "task-positive"))
    rows.append(_row("dmn_segregation", "network", network_segregation(z, nets), "ratio", "DMN"))
    rows.append(_row("system_segregation", "network", system_segregation(z, nets), "ratio", "all"))
    gbc = global_brain_connectivity(z)
    rows.append(_row("dmn_gbc", "network", gbc[dmn].mean(), "Fisher z", "DMN", "all"))
    nodes = network_node_measures(z, nets, "DMN", config.density)
    rows.append(_row("dmn_degree", "network", nodes.mean_degree, "edges", "DMN"))
    assert others
    rows.append(_row("dmn_participation", "network", nodes.mean_participation, "0-1", "DMN"))
    for i in range(atlas.n_regions):
        seed = np.mean([z[i, j] for j in dmn if j != i])
        rows.append(_row("gbc", "region", gbc[i], "Fisher z", nets[i], "all", labels[i]))
        rows.append(_row("dmn_fc", "region", seed, "Fisher z", nets[i], "DMN", labels[i]))
    for node, degree, part in zip(nodes.nodes, nodes.degree, nodes.participation, strict=True):
        rows.append(_row("degree", "region", degree, "edges", "DMN", "", labels[node]))
        rows.append(_row("participation", "region", part, "0-1", "DMN", "", labels[node]))
    for i in range(dmn.size):
        for j in range(i + 1, dmn.size):
            a, b = labels[dmn[i]], labels[dmn[j]]
            rows.append(_row("edge_fc", "edge", z[dmn[i], dmn[j]], "Fisher z", "DMN", "DMN", a, b))
    return rows


def _reference_table(
    data: np.ndarray, amplitude: np.ndarray, kept: np.ndarray | None, atlas: Atlas
) -> pd.DataFrame:
    """Return the whole default bundle, row by row."""
    config = BundleConfig()
    rows = _reference_connectivity(estimate_connectivity(data, "pearson"), atlas, config)
    dmn = atlas.network_indices("DMN")
    swfc = sliding_window_fc(data, atlas.networks, repetition_time=TR)
    rows.append(_row("dmn_swfc_mean", "network", swfc.mean, "Fisher z", "DMN"))
    rows.append(_row("dmn_swfc_sd", "network", swfc.std, "Fisher z", "DMN"))
    entropy = regional_sample_entropy(data[:, dmn])
    lz = regional_lempel_ziv(data[:, dmn])
    rows.append(_row("dmn_sample_entropy", "network", entropy.mean(), "nats", "DMN"))
    rows.append(_row("dmn_lz_complexity", "network", lz.mean(), "normalised", "DMN"))
    for k, index in enumerate(dmn):
        label = atlas.labels[index]
        rows.append(_row("sample_entropy", "region", entropy[k], "nats", "DMN", "", label))
        rows.append(_row("lz_complexity", "region", lz[k], "normalised", "DMN", "", label))
    amp = region_amplitude(amplitude, TR, atlas.networks, kept=kept)
    units = {"alff": "signal units", "falff": "ratio", "zalff": "z", "zfalff": "z"}
    for key, unit in units.items():
        rows.append(_row(f"dmn_{key}", "network", amp.networks["DMN"][key], unit, "DMN"))
    for key, unit in units.items():
        for i, value in enumerate(getattr(amp, key)):
            rows.append(_row(key, "region", value, unit, atlas.networks[i], "", atlas.labels[i]))
    return pd.DataFrame(rows, columns=list(BUNDLE_COLUMNS))


@pytest.mark.parametrize("censored", [False, True])
def test_bundle_table_equals_a_row_by_row_table(
    rng: np.random.Generator, atlas: Atlas, censored: bool
) -> None:
    """Same rows, order, text, dtypes; values to 1e-12; with and without censoring."""
    kept = np.ones(160, dtype=bool)
    if censored:
        kept[rng.choice(160, 16, replace=False)] = False
    data = _signals(rng, 160, atlas)[kept]
    amplitude = _signals(rng, 160, atlas)[kept]
    table, _ = run_bundle(
        data, atlas, TR, amplitude_data=amplitude, kept=kept if censored else None
    )
    expected = _reference_table(data, amplitude, kept if censored else None, atlas)
    pd.testing.assert_frame_equal(table, expected, check_exact=False, rtol=0, atol=1e-12)
    network = expected[expected["level"] == "network"].iloc[:13]  # the connectivity rows
    values = matrix_measures(estimate_connectivity(data, "pearson"), atlas)
    assert values == pytest.approx(
        dict(zip(network["measure"], network["value"], strict=True)), abs=1e-12
    )


def test_layout_measures_equal_the_public_functions(rng: np.random.Generator) -> None:
    """Each gathered measure equals its definition, on a small atlas with unassigned regions."""
    nets = ("DMN", "NONE", "SN", "DMN", "FPN", "DMN", "VIS", "SN", "NONE", "DMN", "FPN", "DMN")
    subs = ("core", "", "", "core", "", "mtl", "", "", "", "mtl", "", "")
    z = np.arctanh(np.corrcoef(rng.standard_normal((40, len(nets))).T) * 0.99)
    np.fill_diagonal(z, 0.0)
    layout = network_layout(nets, subs)
    got = layout_measures(z, layout, 0.3)
    dmn = np.flatnonzero(np.asarray(nets) == "DMN")
    assert got.within == pytest.approx(_pair_mean(z, dmn, dmn), abs=1e-12)
    assert got.subsystems == pytest.approx({"core": z[0, 3], "mtl": z[5, 9]}, abs=1e-12)
    assert got.partners == pytest.approx(
        {
            "dmn_salience_fc": z[np.ix_(dmn, [2, 7])].mean(),
            "dmn_fpn_fc": z[np.ix_(dmn, [4, 10])].mean(),
        }
    )
    assert got.anticorrelation == pytest.approx(dmn_anticorrelation(z, nets).value, abs=1e-12)
    assert got.dmn_segregation == pytest.approx(network_segregation(z, nets), abs=1e-12)
    assert got.system_segregation == pytest.approx(system_segregation(z, nets), abs=1e-12)
    np.testing.assert_allclose(got.gbc, global_brain_connectivity(z), rtol=0, atol=1e-12)
    nodes = network_node_measures(z, nets, "DMN", 0.3)
    np.testing.assert_array_equal(got.nodes, nodes.nodes)
    np.testing.assert_array_equal(got.degree, nodes.degree)
    np.testing.assert_allclose(got.participation, nodes.participation, rtol=0, atol=1e-12)
    with pytest.raises(InputError, match="segregation is undefined"):
        layout_measures(-np.abs(z), layout, 0.3)
    alone = layout_measures(z[np.ix_(dmn, dmn)], network_layout(("DMN",) * 5, ()), 0.3)
    assert alone.dmn_segregation is None
    assert alone.anticorrelation is None


def test_strongest_edges_equal_a_stable_sort(rng: np.random.Generator) -> None:
    """The kept edges are the first k of a stable descending sort, positive ones only."""
    for trial in range(60):
        weights = np.round(rng.standard_normal(int(rng.integers(1, 400))), trial % 3)
        for density in (1e-3, 0.1, 0.37, 1.0):
            k = int(np.floor(density * weights.size + 0.5))
            order = np.argsort(-weights, kind="stable")[:k]
            expected = np.sort(order[weights[order] > 0])
            np.testing.assert_array_equal(strongest_edges(weights, density), expected)


def _lag_loop_counts(x: np.ndarray, m: int, r: float) -> np.ndarray:
    """Sample entropy by the earlier lag-by-lag count of template pairs."""
    n = x.shape[0]
    tol = r * x.std(axis=0, ddof=1)
    starts = n - m
    b = np.zeros(x.shape[1], dtype=np.int64)
    a = np.zeros(x.shape[1], dtype=np.int64)
    for lag in range(1, starts):
        close = np.abs(x[lag:] - x[:-lag]) <= tol
        count = starts - lag
        run = close[:count].copy()
        for j in range(1, m):
            run &= close[j : j + count]
        b += np.count_nonzero(run, axis=0)
        run &= close[m : m + count]
        a += np.count_nonzero(run, axis=0)
    with np.errstate(divide="ignore"):
        return np.where(a > 0, -np.log(a / np.maximum(b, 1)), np.inf)


def test_sample_entropy_pairs_equal_the_lag_loop(rng: np.random.Generator) -> None:
    """Odd and even lengths, ties, constant and periodic columns, several chunks."""
    for n in (5, 6, 7, 8, 31, 64, 151):
        data = np.round(np.cumsum(rng.standard_normal((n, 40)), axis=0), 1)
        data[:, 0] = 1.0
        data[:, 1] = np.tile([0.0, 0.0, 1.0], n)[:n]
        for m in (1, 2, 3):
            if n >= m + 3:
                expected = _lag_loop_counts(data, m, 0.25)
                np.testing.assert_array_equal(regional_sample_entropy(data, m, 0.25), expected)


def test_lempel_ziv_bitsets_equal_the_phrase_loop(
    rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Phrase counts from bit sets equal the phrase-by-phrase parsing, over several chunks."""
    for n in (2, 3, 16, 97, 300):
        data = np.column_stack(
            [
                rng.standard_normal((n, 30)),
                np.cumsum(rng.standard_normal((n, 20)), axis=0),
                np.tile([0.0, 1.0, 1.0, 0.0, 1.0], n)[:n],
                np.ones(n),
            ]
        )
        bits = data > np.median(data, axis=0)
        expected = [
            _complexity._lz76_phrases(bits[:, j].astype(np.uint8).tobytes()) * (np.log2(n) / n)
            for j in range(data.shape[1])
        ]
        np.testing.assert_array_equal(regional_lempel_ziv(data), expected)
    monkeypatch.setattr(_complexity, "_LZ_BITSET_MAX", 10)  # the long-series path agrees too
    np.testing.assert_array_equal(regional_lempel_ziv(data), expected)


def test_sliding_windows_over_several_batches_match_loop(rng: np.random.Generator) -> None:
    """More windows than a batch: each equals the mean Fisher z of np.corrcoef on its slice."""
    nets = ["DMN", "SN", "DMN", "DMN", "FPN", "DMN"]
    dmn = [0, 2, 3, 5]
    x = rng.standard_normal((140, 6)) + rng.standard_normal((140, 1))
    res = sliding_window_fc(x, nets, repetition_time=2.0, window_s=40.0, step=1)
    expected = []
    for start in range(140 - 20 + 1):
        r = np.corrcoef(x[start : start + 20, dmn].T)
        expected.append(np.mean(np.arctanh(r[np.triu_indices(4, k=1)])))
    np.testing.assert_allclose(res.values, expected, rtol=0, atol=1e-12)


def test_constant_window_named_as_a_loop_finds_it(rng: np.random.Generator) -> None:
    """The first window (then the first region) in which a signal is flat is named."""
    nets = ["DMN", "SN", "DMN", "DMN"]
    x = rng.standard_normal((90, 4))
    x[50:75, 3] = 2.0
    x[44:70, 2] = -1.0
    for step in (1, 4):
        flat = [
            (start, region)
            for start in range(0, 90 - 20 + 1, step)
            for region in (0, 2, 3)
            if np.ptp(x[start : start + 20, region]) == 0
        ]
        start, region = flat[0]
        message = f"region column {region} is constant in the window starting at volume {start};"
        with pytest.raises(InputError, match=message):
            sliding_window_fc(x, nets, repetition_time=2.0, window_s=40.0, step=step)


def test_matrix_checks_keep_their_tolerances() -> None:
    """Symmetry to rtol 1e-7; non-finite values allowed on the diagonal only."""
    m = np.array([[0.0, 0.5], [0.5 + 1e-12, np.nan]])
    assert as_matrix(m) is not None
    with pytest.raises(InputError, match="not symmetric"):
        as_matrix(np.array([[0.0, 0.5], [0.6, 0.0]]))
    with pytest.raises(InputError, match="off the diagonal"):
        as_matrix(np.array([[0.0, np.inf], [np.inf, 0.0]]))
    # Exactly symmetric, NaN on the diagonal: passes the exact test (NaN matching NaN).
    exact = np.array([[np.nan, 0.25, -0.5], [0.25, np.nan, 0.125], [-0.5, 0.125, 1.0]])
    assert np.array_equal(as_matrix(exact), exact, equal_nan=True)
    assert _exactly_symmetric(exact)
    assert not _exactly_symmetric(np.array([[0.0, 0.5], [0.5 + 1e-12, 0.0]]))


def test_row_blocks_check_their_lengths() -> None:
    """A per-row field of the wrong length is refused; scalars fill the block."""
    rows = RowBlocks()
    rows.add(["a", "b"], "region", [1.0, 2.0], "z", "DMN")
    with pytest.raises(ValueError, match="2 entries for 3 rows"):
        rows.add(["a", "b"], "region", [1.0, 2.0, 3.0], "z", "DMN")
    table = rows.frame()
    assert table["network_b"].tolist() == ["DMN", "DMN"]
    assert rows.values() == {"a": 1.0, "b": 2.0}


def test_row_blocks_reuse_a_column_only_when_its_texts_are_equal() -> None:
    """Equal blocks give equal tables; a changed label, size or later block shows up."""

    def table(labels: list[str], extra: bool = False) -> pd.DataFrame:
        rows = RowBlocks()
        rows.add("m", "network", 1.0, "z", "DMN")
        rows.add("r", "region", np.arange(len(labels)), "z", "DMN", "", np.array(labels, object))
        if extra:
            rows.add("m2", "network", 2.0, "z", "SN")
        return rows.frame()

    first = table(["a", "b", "c"])
    assert first["region_a"].tolist() == ["", "a", "b", "c"]
    pd.testing.assert_frame_equal(table(["a", "b", "c"]), first)
    assert table(["a", "b", "x"])["region_a"].tolist() == ["", "a", "b", "x"]
    assert table(["a", "b"])["region_a"].tolist() == ["", "a", "b"]
    assert table(["a", "b", "c"], extra=True)["network_a"].tolist()[-1] == "SN"
    rows = RowBlocks()
    rows.add(["p", "q"], "region", [1.0, 2.0], "z", "DMN")
    before = rows.frame()
    rows.add("s", "network", 3.0, "z", "DMN")
    assert before["measure"].tolist() == ["p", "q"]
    assert rows.frame()["measure"].tolist() == ["p", "q", "s"]
    expected_dtype = pd.Series(["text"]).dtype
    for empty in (RowBlocks().frame(), first):
        assert list(empty.columns) == list(BUNDLE_COLUMNS)
        assert all(empty[c].dtype == expected_dtype for c in BUNDLE_COLUMNS if c != "value")
        assert empty["value"].dtype == np.float64
