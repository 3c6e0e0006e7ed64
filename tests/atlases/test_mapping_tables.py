"""docs/atlases.md documents every atlas and mapping; the mappings cover the real files."""

import re
from itertools import product
from pathlib import Path

import pytest

from dmnpharm.atlases import (
    SCHAEFER_TO_SUBSYSTEM,
    SCHAEFER_TO_VOCAB,
    TIAN_S1_LABELS,
    YEO7_TO_VOCAB,
    YEO17_NETWORKS,
    YEO17_TO_YEO7,
    available_atlases,
    load_atlas,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "atlases.md"


def _expand(token: str) -> list[str]:
    """Expand shell-style braces: 'schaefer{100,200}_7' -> schaefer100_7, schaefer200_7."""
    parts = re.split(r"\{([^}]*)\}", token)
    choices = [[p] if i % 2 == 0 else p.split(",") for i, p in enumerate(parts)]
    return ["".join(c) for c in product(*choices)]


def _rows() -> list[set[str]]:
    """Return the backquoted cells of every table row of the page."""
    return [
        set(re.findall(r"`([^`]+)`", line))
        for line in DOC.read_text().splitlines()
        if line.startswith("|")
    ]


def _documented(*cells: str) -> bool:
    return any(set(cells) <= row for row in _rows())


def test_every_registered_atlas_is_documented() -> None:
    """Each registry name appears (possibly in brace form) in a table of the page."""
    names = {name for row in _rows() for token in row for name in _expand(token)}
    assert set(available_atlases()) <= names


def test_mapping_tables_are_documented() -> None:
    """Every entry of the public mapping tables is a row of the page."""
    for source, code in SCHAEFER_TO_VOCAB.items():
        assert _documented(source, code), source
    for source, code in SCHAEFER_TO_SUBSYSTEM.items():
        assert _documented(source, SCHAEFER_TO_VOCAB[source], code), source
    for source, code in YEO7_TO_VOCAB.items():
        assert _documented(source, code), source
    for source in YEO17_NETWORKS:
        seven = YEO17_TO_YEO7[source]
        assert _documented(source, seven, YEO7_TO_VOCAB[seven]), source
    assert _documented("Subcortex", "SUB")


@pytest.mark.parametrize("name", ["seitzman300", "dosenbach160", "andrews_hanna"])
def test_embedded_atlas_names_are_documented(name: str) -> None:
    """Each (source name, code[, subsystem]) of an embedded atlas is a row of the page."""
    atlas = load_atlas(name)
    subsystems = atlas.subsystems or ("",) * atlas.n_regions
    for source, code, sub in zip(atlas.source_networks, atlas.networks, subsystems, strict=True):
        assert _documented(source, code, *([sub] if sub else [])), (source, code, sub)


@pytest.mark.realdata
@pytest.mark.usefixtures("atlas_folder")
@pytest.mark.parametrize(
    "name", [n for n in available_atlases() if n.startswith(("schaefer", "yeo"))]
)
def test_folder_atlas_names_are_documented(name: str) -> None:
    """Each (source name, code) of a folder atlas, read from the real files, is a row."""
    atlas = load_atlas(name)
    pairs = set(zip(atlas.source_networks, atlas.networks, strict=True))
    for source, code in pairs:
        assert _documented(source, code), (name, source, code)
    assert {s for s, c in pairs if c == "DMN"}, name


def _schaefer_names(path: Path) -> list[str]:
    """Parcel names of a Schaefer names table or Tian label file."""
    text = path.read_text().splitlines()
    if path.suffix == ".txt":
        return [line.strip() for line in text[0::2] if "Networks_" in line]
    header = text[0].split("\t")
    column = header.index("name" if "name" in header else "label")
    return [line.split("\t")[column] for line in text[1:] if line.strip()]


@pytest.mark.realdata
def test_every_network_name_in_the_files_is_mapped(atlas_folder: Path) -> None:
    """Every Schaefer/Tian names file uses only network names of SCHAEFER_TO_VOCAB."""
    files = [
        *sorted((atlas_folder / "schaefer2018_labels_derived").glob("*.tsv")),
        *sorted((atlas_folder / "schaefer2018_17networks_xcpd").glob("*.tsv")),
        *sorted((atlas_folder / "schaefer2018_tian_subcortex").glob("*_label.txt")),
    ]
    assert len(files) == 13
    seen: set[str] = set()
    for path in files:
        names = _schaefer_names(path)
        assert len(names) in (100, 200, 400), path
        networks = {name.split("_")[2] for name in names}
        assert networks <= set(SCHAEFER_TO_VOCAB), (path, networks - set(SCHAEFER_TO_VOCAB))
        seen |= networks
    # and every entry of the mapping is used by some file
    assert seen == set(SCHAEFER_TO_VOCAB)


@pytest.mark.realdata
def test_tian_scale_1_label_files_use_the_s1_names(atlas_folder: Path) -> None:
    """The four S1 label files list exactly TIAN_S1_LABELS before the cortex."""
    files = sorted((atlas_folder / "schaefer2018_tian_subcortex").glob("*_S1_label.txt"))
    assert len(files) == 4
    for path in files:
        names = [line.strip() for line in path.read_text().splitlines()[0::2]]
        assert tuple(n for n in names if "Networks_" not in n) == TIAN_S1_LABELS, path
