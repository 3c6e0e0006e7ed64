"""Region time series in TSV, CSV and AFNI 1D files: columns matched to the atlas, damage named."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from dmnpharm.exceptions import InputError
from dmnpharm.io import read_region_timeseries, timeseries_format

#: Five regions and 17 volumes: unequal sizes, so a transposed read fails.
LABELS = ("PCC", "mPFC", "aI", "dACC", "V1")
N_VOLUMES = 17


@pytest.fixture
def signals(rng: np.random.Generator) -> npt.NDArray[np.float64]:
    """Return volumes x regions of noise, in atlas order."""
    return rng.standard_normal((N_VOLUMES, len(LABELS)))


def _lines(data: npt.NDArray[np.float64], sep: str) -> list[str]:
    return [sep.join(f"{v:.17g}" for v in row) for row in data]


def _write(path: Path, header: str | None, lines: list[str]) -> Path:
    text = "\n".join(([header] if header is not None else []) + lines) + "\n"
    if path.name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def test_afni_1d_by_column_number(tmp_path: Path, signals: npt.NDArray[np.float64]) -> None:
    """``#1..#N`` columns are the atlas's regions in order; gzipped or not, as written."""
    header = "\t".join(f"#{k}" for k in range(1, 6))
    plain = _write(tmp_path / "run.1D", header, _lines(signals, "\t"))
    packed = _write(tmp_path / "run_rois.1D.gz", header, _lines(signals, "  "))
    np.testing.assert_array_equal(read_region_timeseries(plain, LABELS), signals)
    np.testing.assert_array_equal(read_region_timeseries(packed, LABELS), signals)


def test_column_numbers_in_another_order_are_put_in_atlas_order(
    tmp_path: Path, signals: npt.NDArray[np.float64]
) -> None:
    """Column ``#k`` is region k wherever it stands in the file."""
    order = [2, 0, 4, 1, 3]
    header = " ".join(f"#{k + 1}" for k in order)
    path = _write(tmp_path / "run.1D", header, _lines(signals[:, order], " "))
    np.testing.assert_array_equal(read_region_timeseries(path, LABELS), signals)


def test_headerless_files_and_afni_comments(
    tmp_path: Path, signals: npt.NDArray[np.float64]
) -> None:
    """No header: columns by position. AFNI comment lines before the header are skipped."""
    bare = _write(tmp_path / "bare.1D", None, _lines(signals, " "))
    csv = _write(tmp_path / "bare.csv", None, _lines(signals, ","))
    afni = _write(
        tmp_path / "afni.1D",
        "# <matrix ni_type='5*double' ni_dimen='17' />\n# #1 #2 #3 #4 #5",
        _lines(signals, " "),
    )
    for path in (bare, csv, afni):
        np.testing.assert_array_equal(read_region_timeseries(path, LABELS), signals)


def test_named_columns_in_any_order(tmp_path: Path, signals: npt.NDArray[np.float64]) -> None:
    """A header of atlas labels maps columns by name (TSV and CSV)."""
    order = [4, 3, 2, 1, 0]
    names = [LABELS[i] for i in order]
    tsv = _write(tmp_path / "run.tsv.gz", "\t".join(names), _lines(signals[:, order], "\t"))
    csv = _write(tmp_path / "run.csv", ",".join(names), _lines(signals[:, order], ","))
    named_1d = _write(tmp_path / "run.1D", "# " + " ".join(names), _lines(signals[:, order], " "))
    for path in (tsv, csv, named_1d):
        np.testing.assert_array_equal(read_region_timeseries(path, LABELS), signals)
    assert timeseries_format(tsv) == "tsv"
    assert timeseries_format("X.1D.GZ") == "1d"
    assert timeseries_format("x.nii.gz") is None


def test_a_region_without_any_value_is_read(
    tmp_path: Path, signals: npt.NDArray[np.float64]
) -> None:
    """A column of ``n/a`` throughout is a region without signal, not damage."""
    lines = [line.rsplit("\t", 1)[0] + "\tn/a" for line in _lines(signals, "\t")]
    data = read_region_timeseries(_write(tmp_path / "r.tsv", "\t".join(LABELS), lines), LABELS)
    assert np.isnan(data[:, 4]).all()
    np.testing.assert_array_equal(data[:, :4], signals[:, :4])


@pytest.mark.parametrize(
    ("name", "header", "edit", "expected"),
    [
        (
            "count.1D",
            "#1 #2 #3 #4",
            lambda rows: [r.rsplit(" ", 1)[0] for r in rows],
            r"count\.1D, line 1: has 4 columns but the atlas has 5 regions",
        ),
        (
            "bare.1D",
            None,
            lambda rows: [r + " 0" for r in rows],
            r"bare\.1D: has 6 columns but the atlas has 5 regions; it has no header",
        ),
        (
            "word.1D",
            "#1 #2 #3 #4 #5",
            lambda rows: [*rows[:3], "1 2 x 4 5", *rows[4:]],
            r"word\.1D, line 5, column 3: value 'x' is not a number",
        ),
        (
            "ragged.csv",
            None,
            lambda rows: [*rows[:6], "1,2,3", *rows[7:]],
            r"ragged\.csv, line 7: has 3 values but the first data line has 5",
        ),
        (
            "gap.tsv",
            "PCC\tmPFC\taI\tdACC\tV1",
            lambda rows: [*rows[:2], "1\t\t3\t4\t5", *rows[3:]],
            r"gap\.tsv, line 4, column 'mPFC': value is nan \(1 missing",
        ),
        (
            "short.1D",
            None,
            lambda rows: rows[:9],
            r"short\.1D: has 9 volumes; at least 10 are needed",
        ),
        (
            "typo.tsv",
            "PCC\tmPFC\taI\tdAC\tV1",
            lambda rows: rows,
            r"typo\.tsv, line 1: column 4 is 'dAC', which is not a region of the atlas; "
            r"did you mean 'dACC'\?",
        ),
        (
            "twice.csv",
            "PCC,mPFC,aI,PCC,V1",
            lambda rows: rows,
            r"column 4 repeats the header 'PCC'",
        ),
        ("gaps.1D", "#1 #2 #2 #4 #5", lambda rows: rows, r"must be #1\.\.#5, each once"),
    ],
)
def test_bad_files_are_named_with_line_and_column(
    tmp_path: Path,
    signals: npt.NDArray[np.float64],
    name: str,
    header: str | None,
    edit: object,
    expected: str,
) -> None:
    """Each problem names the file, the line and the column, with what is expected."""
    sep = {"1D": " ", "csv": ",", "tsv": "\t"}[name.rsplit(".", 1)[1]]
    assert callable(edit)
    path = _write(tmp_path / name, header, edit(_lines(signals, sep)))
    with pytest.raises(InputError, match=expected):
        read_region_timeseries(path, LABELS)


def test_unreadable_files(tmp_path: Path) -> None:
    """A missing file, another format and a damaged gzip are named."""
    with pytest.raises(InputError, match="does not exist"):
        read_region_timeseries(tmp_path / "absent.1D", LABELS)
    image = tmp_path / "run.nii.gz"
    image.write_bytes(b"\x00")
    with pytest.raises(InputError, match=r"run\.nii\.gz: is not a time-series file"):
        read_region_timeseries(image, LABELS)
    broken = tmp_path / "run.1D.gz"
    broken.write_bytes(gzip.compress(b"#1 #2\n1 2\n")[:-6])
    with pytest.raises(InputError, match=r"run\.1D\.gz: cannot be read .*truncated"):
        read_region_timeseries(broken, LABELS)
