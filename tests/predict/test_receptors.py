"""Receptor maps: tables, the Hansen et al. (2022) layout, region alignment."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dmnpharm.exceptions import InputError
from dmnpharm.predict import (
    ReceptorMaps,
    align_regions,
    load_hansen2022,
    load_receptor_table,
)

HANSEN = "receptors_hansen2022"
LABELS = "atlases/schaefer2018_labels_derived/Schaefer2018_{n}Parcels_7Networks_order_labels.tsv"


def write_table(path: Path, rows: list[str], header: str = "region\tA\tB\tC") -> Path:
    """Write a header and rows as a tab-separated table."""
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def table(tmp_path: Path, rng: np.random.Generator) -> Path:
    """Seven regions x three targets with unequal scales."""
    values = rng.normal(size=(7, 3)) * [1.0, 10.0, 100.0] + [5.0, -3.0, 700.0]
    rows = [f"r{i}\t" + "\t".join(f"{v:.6f}" for v in row) for i, row in enumerate(values)]
    return write_table(tmp_path / "maps.tsv", rows)


def test_table_is_read_and_zscored(table: Path) -> None:
    """Rows and columns in file order; each target z-scored, the raw values kept."""
    maps = load_receptor_table(table)
    values = maps.values
    assert maps.regions == tuple(f"r{i}" for i in range(7))
    assert maps.targets == ("A", "B", "C")
    assert maps.zscored
    assert values.shape == (7, 3)
    np.testing.assert_allclose(values.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(values.std(axis=0), 1.0)
    raw = (maps.raw - maps.raw.mean(axis=0)) / maps.raw.std(axis=0)
    np.testing.assert_allclose(values, raw)
    assert maps.to_frame().loc["r3", "B"] == values[3, 1]


def test_table_without_zscore_keeps_values(table: Path) -> None:
    """zscore=False keeps the values as read."""
    maps = load_receptor_table(table, zscore=False)
    assert not maps.zscored
    np.testing.assert_array_equal(maps.values, maps.raw)


def test_csv_table(tmp_path: Path) -> None:
    """A .csv file is read comma-separated."""
    path = tmp_path / "maps.csv"
    path.write_text("region,A,B\nx,1,2\ny,3,5\nz,4,4\n", encoding="utf-8")
    assert load_receptor_table(path, zscore=False).raw.tolist() == [[1, 2], [3, 5], [4, 4]]


@pytest.mark.parametrize(
    ("rows", "header", "message"),
    [
        (["a\t1\t2\t3", "b\t1\tlots\t3"], "region\tA\tB\tC", "line 3, column 'B': 'lots' is not"),
        (["a\t1\t2\t3", "b\t1\t\t3"], "region\tA\tB\tC", "line 3, column 'B': the value is"),
        (["a\t1\t2\t3", "a\t2\t3\t1"], "region\tA\tB\tC", "region 'a' appears on lines 2, 3"),
        (["a\t1\t2\t3"], "name\tA\tB\tC", "first column must be 'region'"),
        (["a\t1\t2"], "region\tA\tA", "'A' appear twice"),
        (["a\t1\t2\t3", "b\t1\t2\t4"], "region\tA\tB\tC", "A, B are constant"),
    ],
)
def test_table_errors_name_the_line_and_column(
    tmp_path: Path, rows: list[str], header: str, message: str
) -> None:
    """Each bad table is refused with the file, line and column."""
    path = write_table(tmp_path / "bad.tsv", rows, header)
    with pytest.raises(InputError, match=message) as err:
        load_receptor_table(path)
    assert str(path) in str(err.value)


def test_align_regions_reorders_and_subsets(table: Path) -> None:
    """Rows follow the labels given; absent or repeated labels are named."""
    maps = load_receptor_table(table)
    aligned = align_regions(maps, ["r5", "r0", "r2"])
    assert aligned.regions == ("r5", "r0", "r2")
    np.testing.assert_array_equal(aligned.values, np.take(maps.values, [5, 0, 2], axis=0))
    np.testing.assert_array_equal(aligned.raw, maps.raw[[5, 0, 2]])
    with pytest.raises(InputError, match=r"2 of 3 labels .* 'q1', 'q2'"):
        align_regions(maps, ["r1", "q1", "q2"])
    with pytest.raises(InputError, match="repeat 'r1'"):
        align_regions(maps, ["r1", "r1"])


def test_maps_check_their_shapes() -> None:
    """ReceptorMaps refuses values that do not fit its regions and targets."""
    with pytest.raises(InputError, match=r"values has shape \(2, 2\), expected \(2, 1\)"):
        ReceptorMaps(("a", "b"), ("A",), np.zeros((2, 2)), np.zeros((2, 1)), False, "here")


def test_hansen_folder_of_another_layout_says_where_to_download(tmp_path: Path) -> None:
    """The maps are not bundled: the error says so and where to get them."""
    with pytest.raises(InputError, match=r"CC BY-NC-SA.*hansen_receptors.*neuromaps"):
        load_hansen2022(tmp_path, 100, labels=[f"p{i}" for i in range(100)])
    with pytest.raises(InputError, match="not one of 100, 200, 400"):
        load_hansen2022(tmp_path, 300)


@pytest.mark.realdata
@pytest.mark.parametrize("parcels", [100, 400])
def test_hansen2022_maps(shared_data: Path, parcels: int) -> None:
    """The 19 maps on Schaefer parcels: z-scored, labelled, with centroids."""
    folder = shared_data / HANSEN
    labels = shared_data / LABELS.format(n=parcels)
    if not folder.is_dir() or not labels.is_file():
        pytest.skip(f"{folder} or {labels} is absent")
    maps = load_hansen2022(folder, parcels, labels=labels)
    values = maps.values
    assert values.shape == (parcels, 19)
    assert maps.targets[:3] == ("5HT1a", "5HT1b", "5HT2a")
    assert maps.targets[-1] == "VAChT"
    assert maps.regions[0] == "7Networks_LH_Vis_1"
    assert maps.regions[-1].startswith("7Networks_RH")
    np.testing.assert_allclose(values.mean(axis=0), 0.0, atol=1e-10)
    np.testing.assert_allclose(values.std(axis=0), 1.0)
    assert maps.coords is not None
    assert maps.coords.shape == (parcels, 3)
    # Left-hemisphere parcels come first and have negative x.
    assert (maps.coords[: parcels // 2, 0] < 0).all()
    assert (maps.coords[parcels // 2 :, 0] > 0).all()
    assert "Nat Neurosci" in maps.reference
    a, b = maps.targets.index("5HT2a"), maps.targets.index("5HT1a")
    r = float(np.corrcoef(values[:, a], values[:, b])[0, 1])
    print(f"Schaefer-{parcels}: r(5HT2a, 5HT1a) = {r:.3f}")
    assert abs(r) < 0.99
    assert not np.allclose(values[:, a], values[:, b])
    # Same maps from the atlas folder's labels, by DMNPHARM_ATLAS_DIR.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DMNPHARM_ATLAS_DIR", str(shared_data / "atlases"))
        assert load_hansen2022(folder, parcels).regions == maps.regions
