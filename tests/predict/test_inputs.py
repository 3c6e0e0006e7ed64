"""Inputs of predict: regional maps, analysis folders, distance matrices, receptor files."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from nibabel.cifti2.cifti2_axes import ParcelsAxis, ScalarAxis
from scipy import stats

from dmnpharm.atlases import labels_atlas, load_atlas
from dmnpharm.exceptions import InputError
from dmnpharm.extract import parcellate_image
from dmnpharm.metrics import matrix_measures, run_bundle
from dmnpharm.predict import (
    load_observed,
    load_receptor_pscalar,
    load_receptors,
    read_distance,
    read_regional_map,
    regional_effect_map,
)


def test_regional_map_from_a_table_with_aliases(tmp_path: Path) -> None:
    """A TSV with 'label' and 't' columns reads as a map; a bad number names its line."""
    path = tmp_path / "effect.tsv"
    path.write_text("label\tt\nA\t1.5\nB\t-0.25\n", encoding="utf-8")
    found = read_regional_map(path)
    assert found.regions == ("A", "B")
    np.testing.assert_allclose(found.values, [1.5, -0.25])
    path.write_text("region\tvalue\nA\t1.5\nB\tn/a\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"line 3.*'n/a'.*region 'B'"):
        read_regional_map(path)
    path.write_text("region\tvalue\nA\t1\nA\t2\n", encoding="utf-8")
    with pytest.raises(InputError, match="repeat"):
        read_regional_map(path)


def _parcels(labels: list[str]) -> ParcelsAxis:
    """Return a ParcelsAxis of single-voxel parcels, enough for a pscalar."""
    affine = np.eye(4)
    voxels = [np.array([[i, 0, 0]]) for i in range(len(labels))]
    vertices: list[dict[str, np.ndarray]] = [{} for _ in labels]
    return ParcelsAxis(labels, voxels, vertices, affine, (len(labels), 1, 1), {})


def write_pscalar(path: Path, labels: list[str], names: list[str], data: np.ndarray) -> Path:
    """Write a maps x parcels pscalar with nibabel."""
    header = nib.cifti2.Cifti2Header.from_axes((ScalarAxis(names), _parcels(labels)))
    nib.save(nib.cifti2.Cifti2Image(data.astype(np.float32), header), path)
    return path


def test_pscalar_maps_and_receptors(tmp_path: Path, rng: np.random.Generator) -> None:
    """A pscalar reads as an observed map (one named map) and as receptor maps."""
    labels = [f"p{i}" for i in range(30)]
    data = rng.normal(size=(3, 30))
    path = write_pscalar(tmp_path / "maps.pscalar.nii", labels, ["D2", "5HT2a", "GABAa"], data)
    one = read_regional_map(path, map_name="5HT2a")
    assert one.regions == tuple(labels)
    np.testing.assert_allclose(one.values, data[1], rtol=1e-6)
    with pytest.raises(InputError, match="holds 3 maps"):
        read_regional_map(path)
    maps = load_receptor_pscalar(path)
    assert maps.targets == ("D2", "5HT2a", "GABAa")
    np.testing.assert_allclose(maps.raw, data.T, rtol=1e-6)
    np.testing.assert_allclose(np.mean(maps.values, axis=0), 0.0, atol=1e-9)
    assert load_receptors(path).targets == maps.targets


def test_distance_matrix_forms(tmp_path: Path, rng: np.random.Generator) -> None:
    """A .npy, a plain TSV and a labelled TSV (reordered to the regions) all read."""
    coords = rng.normal(size=(5, 3)) * 20
    dist = np.linalg.norm(coords[:, None] - coords[None], axis=-1)
    np.save(tmp_path / "d.npy", dist)
    np.testing.assert_allclose(read_distance(tmp_path / "d.npy", ["a"] * 5), dist)
    pd.DataFrame(dist).to_csv(tmp_path / "plain.tsv", sep="\t", header=False, index=False)
    np.testing.assert_allclose(read_distance(tmp_path / "plain.tsv"), dist)
    names = ["a", "b", "c", "d", "e"]
    pd.DataFrame(dist, index=names, columns=names).to_csv(tmp_path / "named.tsv", sep="\t")
    order = ["c", "a", "e", "b", "d"]
    idx = [names.index(x) for x in order]
    np.testing.assert_allclose(
        read_distance(tmp_path / "named.tsv", order), dist[np.ix_(idx, idx)]
    )
    pd.DataFrame(dist, columns=names).to_csv(tmp_path / "header.tsv", sep="\t", index=False)
    np.testing.assert_allclose(read_distance(tmp_path / "header.tsv", names), dist)
    with pytest.raises(InputError, match="no row for 1 region"):
        read_distance(tmp_path / "named.tsv", [*names[:4], "z"])
    with pytest.raises(InputError, match="6 regions"):
        read_distance(tmp_path / "d.npy", ["x"] * 6)
    bad = dist.copy()
    bad[0, 1] += 5
    np.save(tmp_path / "bad.npy", bad)
    with pytest.raises(InputError, match="not symmetric"):
        read_distance(tmp_path / "bad.npy")


def _analysis_folder(
    tmp_path: Path, rng: np.random.Generator, between: bool
) -> tuple[Path, pd.DataFrame]:
    regions = [f"r{i}" for i in range(6)]
    rows = []
    for s in range(12):
        group = "patient" if s % 2 else "control"
        for cond in ("drug", "placebo"):
            for run in ("1", "2"):
                shift = 0.3 * np.arange(6) if cond == "drug" else 0.0
                for r, value in zip(regions, rng.normal(size=6) + shift, strict=True):
                    rows.append(
                        {
                            "participant_id": f"sub-{s:02d}",
                            "group": group,
                            "condition": cond,
                            "run": run,
                            "analysis": "primary",
                            "measure": "gbc",
                            "region_a": r,
                            "value": value,
                        }
                    )
    table = pd.DataFrame(rows)
    table.to_parquet(tmp_path / "metrics_regions.parquet")
    config = {"contrast": ["drug", "placebo"], "between": None}
    if between:
        config = {"between": "group", "between_contrast": ["patient", "control"]}
    (tmp_path / "provenance.json").write_text(json.dumps({"config": config}), encoding="utf-8")
    return tmp_path, table


def test_effect_map_of_a_paired_analysis_is_scipy_ttest_rel(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    """Runs averaged within subject and condition, then scipy's paired t per region."""
    folder, table = _analysis_folder(tmp_path, rng, between=False)
    found = regional_effect_map(folder, "gbc", "t")
    means = table.pivot_table(
        index=["participant_id", "condition"], columns="region_a", values="value", aggfunc="mean"
    )
    drug, placebo = means.xs("drug", level=1), means.xs("placebo", level=1)
    expected = stats.ttest_rel(drug, placebo).statistic
    np.testing.assert_allclose(found.values, expected, rtol=1e-10)
    assert found.n == 12
    assert "paired t" in found.description
    effect = np.asarray(regional_effect_map(folder, "gbc", "effect").values)
    diff = (drug - placebo).to_numpy()
    np.testing.assert_allclose(effect, diff.mean(0) / diff.std(0, ddof=1), rtol=1e-10)
    assert load_observed(folder).regions == found.regions
    with pytest.raises(InputError, match="no region-level 'alff' rows"):
        regional_effect_map(folder, "alff")


def test_effect_map_of_a_between_analysis_is_welch(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    """A between-subject analysis gives Welch's t of subject means, group A minus B."""
    folder, table = _analysis_folder(tmp_path, rng, between=True)
    found = regional_effect_map(folder, "gbc", "t")
    means = table.pivot_table(
        index=["participant_id", "group"], columns="region_a", values="value", aggfunc="mean"
    )
    a, b = means.xs("patient", level=1), means.xs("control", level=1)
    expected = stats.ttest_ind(a, b, equal_var=False).statistic
    np.testing.assert_allclose(found.values, expected, rtol=1e-10)
    with pytest.raises(InputError, match="not a dmnpharm analysis folder"):
        regional_effect_map(tmp_path / "nowhere")


def test_matrix_measures_equal_the_bundle(rng: np.random.Generator) -> None:
    """The measures of a matrix are the bundle's rows for the same matrix."""
    atlas = load_atlas("seitzman300")
    data = rng.normal(size=(150, atlas.n_regions))
    matrix = np.arctanh(np.clip(np.corrcoef(data.T), -0.99, 0.99))
    np.fill_diagonal(matrix, 0.0)
    table, _ = run_bundle(data, atlas, 2.0, matrix=matrix)
    found = matrix_measures(matrix, atlas)
    for measure, value in found.items():
        row = table[(table["measure"] == measure) & (table["level"] == "network")]
        assert float(row["value"].iloc[0]) == pytest.approx(value)
    assert {"dmn_within_fc", "dmn_salience_fc", "dmn_gbc"} <= set(found)
    with pytest.raises(InputError, match="does not have the"):
        matrix_measures(matrix[:5, :5], atlas)


def test_parcellate_image_with_labels_and_spheres(tmp_path: Path) -> None:
    """Region means of a volume: labels atlas exactly; zeros are outside the map."""
    labels = np.zeros((6, 6, 6), dtype=np.int16)
    labels[:3] = 1
    labels[3:] = 2
    nib.save(nib.Nifti1Image(labels, np.eye(4)), tmp_path / "atlas.nii.gz")
    table = pd.DataFrame({"index": [1, 2], "name": ["a", "b"], "network": ["DMN", "DMN"]})
    atlas = labels_atlas("toy", tmp_path / "atlas.nii.gz", table)
    values = np.arange(216, dtype=np.float64).reshape(6, 6, 6) + 1.0
    values[0, 0, 0] = 0.0  # outside the map, left out
    nib.save(nib.Nifti1Image(values, np.eye(4)), tmp_path / "map.nii.gz")
    found = parcellate_image(tmp_path / "map.nii.gz", atlas)
    first = values[:3][values[:3] != 0].mean()
    np.testing.assert_allclose(found, [first, values[3:].mean()])


def test_receptor_volumes_folder(tmp_path: Path) -> None:
    """A folder of volumes named target-<name> parcellates to one column per target."""
    labels = np.zeros((6, 6, 6), dtype=np.int16)
    labels[:3], labels[3:] = 1, 2
    nib.save(nib.Nifti1Image(labels, np.eye(4)), tmp_path / "atlas.nii.gz")
    table = pd.DataFrame({"index": [1, 2], "name": ["a", "b"], "network": ["DMN", "DMN"]})
    atlas = labels_atlas("toy", tmp_path / "atlas.nii.gz", table)
    maps_dir = tmp_path / "pet"
    maps_dir.mkdir()
    for k, name in enumerate(("D2", "5HT2a")):
        data = np.ones((6, 6, 6)) * (k + 1)
        data[3:] *= 3.0
        nib.save(nib.Nifti1Image(data, np.eye(4)), maps_dir / f"target-{name}_pet.nii.gz")
    maps = load_receptors(maps_dir, atlas=atlas)
    assert set(maps.targets) == {"D2", "5HT2a"}
    np.testing.assert_allclose(maps.raw[:, list(maps.targets).index("5HT2a")], [2.0, 6.0])
    with pytest.raises(InputError, match="need the study's atlas"):
        load_receptors(maps_dir)
