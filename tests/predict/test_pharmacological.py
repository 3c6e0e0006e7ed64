"""The pharmacological predictor against a hand computation, and the model's network table."""

from __future__ import annotations

import numpy as np
import pytest

from dmnpharm.atlases import Atlas, load_atlas
from dmnpharm.catalog import load_pharmacology
from dmnpharm.exceptions import InputError
from dmnpharm.predict import (
    ReceptorMaps,
    distance_connectome,
    linear_noise_fc,
    network_loads,
    pharmacological_map,
    predict_drug,
    target_occupancy,
)

TARGETS = ("5HT1a", "5HT1b", "5HT2a", "5HT4", "5HT6", "D1", "D2", "GABAa", "NMDA")


Small = tuple[Atlas, ReceptorMaps]


@pytest.fixture(scope="module")
def small() -> Small:
    """Forty regions of the Seitzman atlas (DMN, SN, FPN, DAN) and random positive maps."""
    atlas = load_atlas("seitzman300")
    keep = [i for i, n in enumerate(atlas.networks) if n in ("DMN", "SN", "FPN", "DAN")][::3]
    sub = atlas.subset(keep)
    raw = np.random.default_rng(0).gamma(4.0, size=(sub.n_regions, len(TARGETS)))
    z = (raw - raw.mean(0)) / raw.std(0)
    coords = np.asarray(sub.coords, dtype=np.float64)
    return sub, ReceptorMaps(sub.labels, TARGETS, z, raw, True, "synthetic", coords)


def test_psilocybin_map_is_the_weighted_sum_of_its_targets(small: Small) -> None:
    """Map = sum of sign x occupancy x z-density over 5-HT2A (agonist +) and 5-HT1A (agonist -)."""
    atlas, maps = small
    found = pharmacological_map("psilocybin", maps, atlas)
    profile = load_pharmacology().profile("psilocybin")
    occupancy = {e.target: e.occupancy or 0.0 for e in target_occupancy(profile)}
    values = np.asarray(maps.values)
    col = {t: values[:, i] for i, t in enumerate(TARGETS)}
    expected = occupancy["5HT2a"] * col["5HT2a"] - occupancy["5HT1a"] * col["5HT1a"]
    np.testing.assert_allclose(found.perturbation.values, expected)
    assert found.targets["used"].all()
    loads = network_loads(found.perturbation.values, atlas)
    dmn = np.asarray(atlas.networks) == "DMN"
    within = loads.set_index("measure").loc["dmn_within_fc", "load"]
    assert within == pytest.approx(expected[dmn].mean())


def test_a_transporter_acts_through_its_transmitters_receptors(small: Small) -> None:
    """Escitalopram: SERT occupancy x mean of excitability x density over the 5-HT maps."""
    atlas, maps = small
    book = load_pharmacology()
    found = pharmacological_map("escitalopram", maps, atlas)
    (estimate,) = target_occupancy(book.profile("escitalopram"))
    serotonin = [
        (i, book.receptor(t).excitability)
        for i, t in enumerate(TARGETS)
        if t.startswith("5HT") and book.receptor(t).excitability != 0
    ]
    values = np.asarray(maps.values)
    mean = np.mean([sign * values[:, i] for i, sign in serotonin], axis=0)
    assert estimate.occupancy is not None
    np.testing.assert_allclose(found.perturbation.values, estimate.occupancy * mean)
    row = found.targets.iloc[0]
    assert row["map"].startswith("5HT1a (-1)")


def test_a_drug_without_mapped_targets_predicts_nothing_and_says_why(small: Small) -> None:
    """Lithium's targets have no density map: an empty prediction, each target with a reason."""
    atlas, maps = small
    found = pharmacological_map("lithium", maps, atlas)
    assert found.empty
    assert (found.perturbation.values == 0).all()
    assert all(found.targets["reason"].str.contains("no density map"))
    prediction = predict_drug("lithium", maps, atlas)
    assert prediction.model is None
    assert "no target" in prediction.model_note
    with pytest.raises(InputError, match="not aligned"):
        pharmacological_map("lithium", maps, load_atlas("seitzman300"))


def test_model_changes_are_measures_of_the_model_fc(small: Small) -> None:
    """The model rows: analytic change of each measure, with a band around it for means."""
    atlas, maps = small
    connectome = distance_connectome(np.asarray(atlas.coords))
    reference = linear_noise_fc(connectome, 0.05)
    found = predict_drug(
        "psilocybin",
        maps,
        atlas,
        connectome=connectome,
        reference_fc=reference,
        n_volumes=150,
        n_seeds=2,
    )
    assert found.model is not None
    model = found.networks[found.networks["source"] == "whole-brain model"].set_index("measure")
    z = np.arctanh(np.clip(found.model.drug_fc, -0.999999, 0.999999))
    z0 = np.arctanh(np.clip(found.model.placebo_fc, -0.999999, 0.999999))
    np.fill_diagonal(z, 0.0)
    np.fill_diagonal(z0, 0.0)
    dmn = np.flatnonzero(np.asarray(atlas.networks) == "DMN")
    block = (z - z0)[np.ix_(dmn, dmn)][np.triu_indices(dmn.size, k=1)]
    assert model.loc["dmn_within_fc", "estimate"] == pytest.approx(block.mean())
    assert model.loc["dmn_within_fc", "low"] <= model.loc["dmn_within_fc", "high"]
    assert np.isnan(model.loc["dmn_segregation", "low"])
