"""A user's own coordinate atlas, read from a TSV of region centres."""

from pathlib import Path

import numpy as np
import pytest

from dmnpharm.atlases import YEO7_TO_VOCAB, coords_atlas, load_atlas
from dmnpharm.exceptions import InputError

_HEADER = "label\tx\ty\tz\tnetwork"


def _write(tmp_path: Path, *rows: str, header: str = _HEADER) -> Path:
    path = tmp_path / "my_rois.tsv"
    path.write_text("\n".join((header, *rows)) + "\n")
    return path


def test_coords_atlas_reads_codes(tmp_path: Path) -> None:
    """Rows become regions in file order; the name defaults to the file's stem."""
    path = _write(tmp_path, "PCC\t-8\t-56\t26\tDMN", "AI\t36.5\t18\t2\tSN", "V1\t10\t-90\t0\tVIS")
    atlas = coords_atlas(path)
    assert atlas.name == "my_rois"
    assert atlas.labels == ("PCC", "AI", "V1")
    assert atlas.networks == ("DMN", "SN", "VIS")
    assert atlas.source_networks == atlas.networks
    assert atlas.coords == ((-8.0, -56.0, 26.0), (36.5, 18.0, 2.0), (10.0, -90.0, 0.0))
    assert atlas.image == ""
    assert atlas.subsystems == ()
    np.testing.assert_array_equal(atlas.network_indices("SN"), [1])
    with pytest.raises(ValueError, match="has no region in network 'FPN'; it has DMN, SN, VIS"):
        atlas.network_indices("FPN")


def test_coords_atlas_maps_names_and_reads_subsystems(tmp_path: Path) -> None:
    """Network names go through the mapping; a subsystem column is kept per region."""
    path = _write(
        tmp_path,
        "PCC\t-8\t-56\t26\tDefault\tcore",
        "HF\t-22\t-20\t-26\tDefault\tmtl",
        "AI\t36\t18\t2\tSN\t",
        header=_HEADER + "\tsubsystem\tcomment",
    )
    atlas = coords_atlas(path, name="mine", network_map=YEO7_TO_VOCAB, reference="me (2026)")
    assert atlas.name == "mine"
    assert atlas.reference == "me (2026)"
    assert atlas.networks == ("DMN", "DMN", "SN")
    assert atlas.source_networks == ("Default", "Default", "SN")
    assert atlas.subsystems == ("core", "mtl", "")
    np.testing.assert_array_equal(atlas.subsystem_indices("mtl"), [1])
    with pytest.raises(ValueError, match="no region in subsystem 'dmpfc'; it has core, mtl"):
        atlas.subsystem_indices("dmpfc")


def test_coords_atlas_round_trips_an_embedded_atlas(tmp_path: Path) -> None:
    """Writing andrews_hanna to a TSV and reading it back gives the same regions."""
    source = load_atlas("andrews_hanna")
    rows = [
        f"{lab}\t{x}\t{y}\t{z}\t{net}\t{sub}"
        for lab, (x, y, z), net, sub in zip(
            source.labels, source.coords, source.networks, source.subsystems, strict=True
        )
    ]
    atlas = coords_atlas(_write(tmp_path, *rows, header=_HEADER + "\tsubsystem"))
    assert atlas.labels == source.labels
    assert atlas.coords == source.coords
    assert atlas.subsystems == source.subsystems


@pytest.mark.parametrize(
    ("rows", "header", "message"),
    [
        (("A\t1\t2\t3\tDMN", "A\t4\t5\t6\tSN"), _HEADER, "line 3: label 'A' repeats line 2"),
        (("A\t1\tabc\t3\tDMN",), _HEADER, "line 2: y 'abc' is not a number; give the region"),
        (("A\t1\t2\tnan\tDMN",), _HEADER, "line 2: z 'nan' is not a number"),
        (("A\t1\t2\t3\tDMN", "\t1\t2\t3\tDMN"), _HEADER, "line 3: the region has no label"),
        (("A\t1\t2\t3\tWernicke",), _HEADER, r"line 2: network 'Wernicke' is neither a code"),
        (("A\t1\t2\t3\tDMM",), _HEADER, r"name and network\)\s*\(did you mean"),
        (("A\t1\t2\t3\tVentral Attention",), _HEADER, "is ambiguous: Power 2011"),
        (("A\t1\t2\t3\tSN\tcore",), _HEADER + "\tsubsystem", "line 2: subsystem 'core' is a DMN"),
        (("A\t1\t2\t3\tDMN\tvmpfc",), _HEADER + "\tsubsystem", "subsystem 'vmpfc' is not one of"),
        (
            ("A\t1\t2\t3",),
            "label\tx\ty\tz",
            "has no column 'network'; it needs label, x, y, z, ne",
        ),
        ((), _HEADER, "has a header but no region rows"),
    ],
)
def test_coords_atlas_errors_name_file_line_and_value(
    tmp_path: Path, rows: tuple[str, ...], header: str, message: str
) -> None:
    """Each problem is an InputError naming the file, the line and the value."""
    path = _write(tmp_path, *rows, header=header)
    with pytest.raises(InputError, match=message) as info:
        coords_atlas(path)
    assert "my_rois.tsv'" in str(info.value)


def test_coords_atlas_missing_file(tmp_path: Path) -> None:
    """A missing table is an InputError naming it."""
    with pytest.raises(InputError, match=r"cannot read the table .*absent.tsv"):
        coords_atlas(tmp_path / "absent.tsv")
