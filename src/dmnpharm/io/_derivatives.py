"""Writers for a BIDS-derivatives dataset of region signals and connectivity matrices.

File names follow BIDS 1.9 and the connectivity conventions of BEP017 as XCP-D 0.7 to
0.14 write them (the ``seg-`` entity names the atlas, ``stat-`` the statistic; see
:mod:`dmnpharm.io._xcpd` for the versions and sources)::

    dataset_description.json  README.md  .bidsignore
    sub-<p>/[ses-<s>/]func/
        <src>[_space-<S>]_seg-<A>_stat-mean_timeseries.tsv
        <src>[_space-<S>]_seg-<A>_stat-pearsoncorrelation_relmat.tsv

where ``<src>`` is ``sub-<p>[_ses-<s>]_task-<t>[_acq-..][_run-<r>]``, each with a JSON
sidecar. BIDS labels hold letters and digits only; names such as ``acompcor+gsr``
become labels with :func:`bids_label`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from dmnpharm.exceptions import InputError

__all__ = [
    "BIDS_VERSION",
    "ENTITY_ORDER",
    "bids_label",
    "derivative_path",
    "write_dataset_description",
    "write_relmat",
    "write_timeseries",
]

#: The BIDS version the derivatives follow.
BIDS_VERSION = "1.9.0"

# fmt: off
#: Entities a derivative file name may carry, in the order BIDS writes them.
ENTITY_ORDER = (
    "sub", "ses", "task", "acq", "ce", "rec", "dir", "run", "echo", "part", "chunk",
    "space", "cohort", "atlas", "seg", "res", "den", "stat", "desc",
)
# fmt: on

_PARTS = re.compile(r"[A-Za-z0-9]+")
_LABEL = re.compile(r"[A-Za-z0-9]+")


def bids_label(name: str) -> str:
    """Turn a name into a BIDS label (letters and digits only).

    The name is split at every other character and the parts are joined in
    camel case: the first part is kept as it is, a later part of at most three
    letters is upper-cased (an abbreviation such as ``gsr``), any other later
    part gets a capital first letter. Two digits that a separator kept apart
    are joined with ``x``, so that the numbers stay readable.

    Parameters
    ----------
    name : str
        E.g. ``"acompcor+gsr"``, ``"6p"``, ``"andrews_hanna"``, ``"schaefer400_7"``.

    Returns
    -------
    str
        ``"acompcorGSR"``, ``"6p"``, ``"andrewsHanna"``, ``"schaefer400x7"``.

    Raises
    ------
    InputError
        If the name holds no letter or digit.
    """
    parts: list[str] = _PARTS.findall(name)
    if not parts:
        raise InputError(f"{name!r} holds no letter or digit and cannot name a BIDS entity")
    label = parts[0]
    for part in parts[1:]:
        if label[-1].isdigit() and part[0].isdigit():
            label += "x" + part
        elif part.isalpha() and len(part) <= 3:
            label += part.upper()
        else:
            label += part[0].upper() + part[1:]
    return label


def derivative_path(
    root: str | Path, entities: Mapping[str, str], suffix: str, extension: str = ".tsv"
) -> Path:
    """Return where a derivative file goes: ``sub-<p>/[ses-<s>/]func/<name>``.

    Parameters
    ----------
    root : str or Path
        The derivatives dataset folder.
    entities : mapping of str to str
        Entity labels without prefixes (``{"sub": "01", "task": "rest", ...}``);
        ``sub`` is required, empty values are left out. Keys must be in
        :data:`ENTITY_ORDER`.
    suffix : str
        E.g. ``"timeseries"``, ``"relmat"``, ``"motion"``.
    extension : str
        With its dot.

    Returns
    -------
    Path
        The file path; entities appear in :data:`ENTITY_ORDER`.

    Raises
    ------
    InputError
        For an unknown entity, a missing ``sub``, or a label that is not
        letters and digits.
    """
    unknown = sorted(set(entities) - set(ENTITY_ORDER))
    if unknown:
        raise InputError(
            f"unknown BIDS entities {', '.join(unknown)}; use {', '.join(ENTITY_ORDER)}"
        )
    if not entities.get("sub"):
        raise InputError("a derivative file needs the participant (sub) entity")
    parts = []
    for key in ENTITY_ORDER:
        value = entities.get(key, "")
        if not value:
            continue
        if not _LABEL.fullmatch(value):
            raise InputError(
                f"BIDS label {key}-{value!r} must be letters and digits only; "
                f"e.g. {bids_label(value)!r}"
            )
        parts.append(f"{key}-{value}")
    folder = Path(root) / f"sub-{entities['sub']}"
    if entities.get("ses"):
        folder = folder / f"ses-{entities['ses']}"
    return folder / "func" / f"{'_'.join(parts)}_{suffix}{extension}"


def _write_json(path: Path, content: Mapping[str, Any]) -> None:
    path.write_text(
        json.dumps(dict(content), indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8"
    )


def write_dataset_description(
    root: str | Path,
    *,
    name: str,
    version: str,
    source_datasets: Sequence[Mapping[str, str]] = (),
    dataset_links: Mapping[str, str] | None = None,
    code_url: str | None = None,
) -> Path:
    """Write ``dataset_description.json`` of a derivatives dataset.

    Parameters
    ----------
    root : str or Path
        The derivatives dataset folder (created if needed).
    name : str
        The dataset's ``Name``.
    version : str
        Version of dmnpharm, for ``GeneratedBy``.
    source_datasets : sequence of mapping
        ``SourceDatasets`` entries (``URL``, ``DOI``, ``Version``); left out when empty.
    dataset_links : mapping or None
        ``DatasetLinks``: names used in ``bids:<name>:<path>`` URIs of the
        sidecars' ``Sources``, each mapped to a URI.
    code_url : str or None
        ``GeneratedBy[0].CodeURL``.

    Returns
    -------
    Path
        The written file.
    """
    folder = Path(root)
    folder.mkdir(parents=True, exist_ok=True)
    generated: dict[str, str] = {"Name": "dmnpharm", "Version": version}
    if code_url:
        generated["CodeURL"] = code_url
    content: dict[str, Any] = {
        "Name": name,
        "BIDSVersion": BIDS_VERSION,
        "DatasetType": "derivative",
        "GeneratedBy": [generated],
    }
    if source_datasets:
        content["SourceDatasets"] = [dict(s) for s in source_datasets]
    if dataset_links:
        content["DatasetLinks"] = dict(dataset_links)
    path = folder / "dataset_description.json"
    _write_json(path, content)
    return path


_U64 = np.uint64
_TAB, _NEWLINE = 9, 10
_BLOCK = 16384  # cells per block of the number formatter (its arrays stay in cache)

Words = npt.NDArray[np.uint64]
Ints = npt.NDArray[np.intp]


@dataclass(frozen=True)
class _Tables:
    """Lookup tables of the formatter; ``key`` is ``(e + 6) * 2 + sign`` for exponent ``e``."""

    digits: Words  # ASCII of 0000..9999, first digit in the lowest byte
    digits_high: Words  # the same, 4 bytes up
    zeros: npt.NDArray[np.uint8]  # trailing zeros of 0..9999 (0 -> 4)
    key: Ints  # by sign and binary exponent (a double's top 12 bits): key of its lowest e
    above: npt.NDArray[np.float64]  # by those bits: 10 ** (that e + 1)
    scale: npt.NDArray[np.float64]  # by key: 10 ** (7 - e), NaN out of -4..7
    head: Words  # by key: tab, sign, "0.00" of |x| < 1 (a free top byte for 0 <= e < 7)
    length: Ints  # by key: bytes of the cell with all 8 digits (and its point)
    cut: Ints  # by key, trailing zeros: bytes left out
    low: Words  # by n: the n low bytes of a word
    # by key, for 1 <= |x| < 1e8 (see _block_cells); a no-op for the other keys
    before: Words  # the low e bytes: digits 1..e, moved a byte down
    point: Words  # "." at byte e (e < 7)
    after: Words  # bytes e + 1 up: the digits after the point, where they are
    lead: Words  # byte 7 (e < 7): the first digit, which goes to the head word


@cache
def _tables() -> _Tables:
    n = np.arange(10000)
    ascii_ = sum(
        ((n // 10 ** (3 - k) % 10 + 48).astype(np.uint64) << _U64(8 * k)) for k in range(4)
    )
    text = [str(i) for i in range(10000)]
    zeros = np.array([4] + [len(t) - len(t.rstrip("0")) for t in text[1:]], dtype=np.uint8)
    top = np.arange(4096)
    lowest = np.clip((((top & 0x7FF) - 1023) * 78913) >> 18, -6, 8)  # floor(log10(2 ** power))
    heads, cut = [], np.zeros((32, 8), dtype=np.intp)
    lengths, moved = [], np.zeros((4, 32), dtype=np.uint64)
    moved[2] = 2**64 - 1  # the other keys keep all 8 digits in the second word
    for e in range(-6, 10):
        for sign in (0, 1):
            head = b"\t" + b"-" * sign + (b"0." + b"0" * (-e - 1) if -4 <= e < 0 else b"")
            lengths.append(len(head) + 8 + (0 <= e < 7))
            key = (e + 6) * 2 + sign
            if 0 <= e < 7:  # the first digit joins the head; the point goes in the second word
                head += b"\0"
                moved[:, key] = (1 << 8 * e) - 1, 46 << 8 * e, 2**64 - (256 << 8 * e), 255 << 56
            heads.append(head)
            frac = 7 - e if 0 <= e <= 7 else 8  # digits after the dot (8: all)
            for tz in range(8):
                cut[key, tz] = min(tz, frac) + (0 < frac <= tz)
    return _Tables(
        digits=ascii_,
        digits_high=ascii_ << _U64(32),
        zeros=zeros,
        key=((lowest + 6) * 2 + (top >> 11)).astype(np.intp),
        above=10.0 ** (lowest + 1.0),
        scale=np.array(
            [10.0 ** (13 - k // 2) if 2 <= k // 2 <= 13 else np.nan for k in range(32)]
        ),
        head=np.array([int.from_bytes(h.rjust(8, b"\0"), "little") for h in heads], np.uint64),
        length=np.array(lengths, dtype=np.intp),
        cut=cut,
        low=np.array([(1 << (8 * k)) - 1 for k in range(9)], dtype=np.uint64),
        before=moved[0],
        point=moved[1],
        after=moved[2],
        lead=moved[3],
    )


def _words(text: bytes) -> tuple[int, int]:
    value = int.from_bytes(text, "little")
    return value & 0xFFFFFFFFFFFFFFFF, value >> 64


def _odd_cells(
    values: npt.NDArray[np.float64], at: Ints, cells: tuple[Words, Words, Ints]
) -> None:
    """Write cells the vectorised path leaves: n/a, 0, 1, exponents, near-ties."""
    lo, hi, length = cells
    rest = np.isfinite(values)
    if not rest.all():
        lo[at[~rest]], hi[at[~rest]] = _words(b"\tn/a")
        length[at[~rest]] = 4
    for number in (0.0, 1.0):
        same = np.abs(values) == number
        if same.any():
            rest &= ~same
            for negative, text in ((False, b"\t%d" % number), (True, b"\t-%d" % number)):
                where = at[same & (np.signbit(values) == negative)]
                lo[where], hi[where] = _words(text)
                length[where] = len(text)
    for j in np.flatnonzero(rest).tolist():
        text = b"\t" + f"{float(values[j]):.8g}".encode()
        lo[at[j]], hi[at[j]] = _words(text)
        length[at[j]] = len(text)


def _block_cells(x: npt.NDArray[np.float64]) -> tuple[Words, Words, Ints, npt.NDArray[np.uint8]]:
    """Format a block of values as ``printf("%.8g")`` does, ``n/a`` when not finite.

    Each cell is a tab and its text, ``length`` bytes held in 16 (``lo``, ``hi``)
    that end ``tail`` bytes before their end. The 8 digits ``m = round(|x| * 10 **
    (7 - e))`` of a value (``e`` its decimal exponent) fill ``hi``; ``lo`` holds what
    goes before them, right-aligned: tab, sign and, for 1e-4 <= |x| < 1, ``0.`` and
    zeros. For 1 <= |x| < 1e7 the first digit moves to the top byte of ``lo`` and the
    next ``e`` digits a byte down in ``hi``, which frees byte ``e`` for the point.
    Trailing zeros (and then the point) are cut by masking them off the end of
    ``hi``. Values within 1e-6 of a tie of the 8th digit, exponents and n/a are
    written by :func:`_odd_cells`, from the cells' first byte.
    """
    t = _tables()
    bits = x.view(np.uint64)
    top = (bits >> _U64(52)).view(np.int64)  # sign and binary exponent
    a = np.abs(x)
    key = t.key[top]
    higher = a >= t.above[top]  # e one above the lowest its binary exponent allows
    key += higher
    key += higher
    with np.errstate(invalid="ignore", over="ignore"):
        scaled = a * t.scale[key]
        m = np.rint(scaled)
        scaled -= m
        np.abs(scaled, out=scaled)
        ok = (scaled <= 0.499999) & (m < 1e8)
        mi = m.astype(np.intp)
    np.maximum(mi, 10_000_000, out=mi)  # ufuncs: np.clip is slow on small arrays
    np.minimum(mi, 99_999_999, out=mi)
    high = mi // 10000  # a division by a constant: faster than np.divmod
    mi -= high * 10000
    digits = t.digits[high] | t.digits_high[mi]
    tail = t.zeros[mi]  # trailing zeros of m
    lo, length = t.head[key], t.length[key]
    whole = (ok & (key >= 12)).nonzero()[0]
    if whole.size <= 40:  # a few (the 1s of a matrix's diagonal): one by one
        ok[whole] = False
    else:  # put in the point (nothing changes for e = 7)
        k, d = key[whole], digits[whole]
        lo[whole] |= (d << _U64(56)) & t.lead[k]
        digits[whole] = ((d >> _U64(8)) & t.before[k]) | t.point[k] | (d & t.after[k])
    cut = tail.nonzero()[0]
    if cut.size:
        tz = tail[cut]
        more = tz == 4  # the low four digits are 0000
        tz[more] += t.zeros[high[cut[more]]]
        drop = t.cut[key[cut], tz]
        tail[cut] = drop
        length[cut] -= drop
        digits[cut] &= t.low[8 - drop]
    odd = (~ok).nonzero()[0]
    if odd.size:
        _odd_cells(x[odd], odd, (lo, digits, length))
        tail[odd] = 16 - length[odd]
    return lo, digits, length, tail


def _float_text(
    values: npt.NDArray[np.float64], prefixes: Sequence[bytes] | None = None
) -> npt.NDArray[np.uint8]:
    r"""Return the rows of a table of numbers as TSV text, fast (see :func:`_block_cells`).

    Each row is ``\n`` and its cells separated by tabs; with ``prefixes``, each row is
    its prefix and its cells, each preceded by a tab.
    """
    rows, cols = values.shape
    x = np.ascontiguousarray(values, dtype=np.float64).reshape(-1)
    size = np.array([len(p) for p in prefixes or ()], dtype=np.intp)
    out = np.zeros((x.size * 16 + int(size.sum())) // 8 + 8, dtype=np.uint64)
    starts, offset, step = np.zeros(rows, dtype=np.intp), 16, max(1, _BLOCK // cols)
    for r0 in range(0, rows, step):
        lo, hi, length, tail = _block_cells(x[r0 * cols : (r0 + step) * cols])
        first = slice(0, None, cols)
        if prefixes is None:  # the row's newline replaces its first tab
            at = (16 - tail[first] - length[first]) * 8
            lo[first] ^= _U64(_TAB ^ _NEWLINE) << at.astype(np.uint64)
        else:
            length[first] += size[r0 : r0 + step]
        pos = length.cumsum() + offset  # where each cell ends
        offset = int(pos[-1])
        if prefixes is not None:
            length[first] -= size[r0 : r0 + step]
            starts[r0 : r0 + step] = pos[first] - length[first]
        pos += tail
        pos -= 16  # where its 16 bytes start
        shift = ((pos & 7) << 3).view(np.uint64)
        pos >>= 3
        np.add.at(out, pos, lo << shift)  # the cells' bits do not overlap: add is or
        back = _U64(64) - shift  # 64: numpy shifts it out
        pos += 1
        np.add.at(out, pos, (lo >> back) | (hi << shift))
        pos += 1
        np.add.at(out, pos, hi >> back)
    text = out.view(np.uint8)
    if prefixes:
        joined = np.frombuffer(b"".join(prefixes), dtype=np.uint8)
        text[np.repeat(starts - np.cumsum(size), size) + np.arange(joined.size)] = joined
    return text[16:offset]


def _write_tsv(path: str | Path, data: npt.ArrayLike, labels: Sequence[str], square: bool) -> Path:
    """Check and write a time series (or, ``square``, a matrix with its row labels)."""
    values = np.asarray(data, dtype=np.float64)
    if square and (values.ndim != 2 or values.shape[0] != values.shape[1]):
        raise ValueError(f"a relationship matrix must be square, got shape {values.shape}")
    if values.ndim != 2:
        raise ValueError(f"time series must be volumes x regions, got shape {values.shape}")
    rows, cols = values.shape
    if len(labels) != cols:
        what = "the matrix" if square else "the time series"
        raise ValueError(f"{what} has {cols} columns but {len(labels)} labels were given")
    dest = Path(path)
    if not dest.parent.is_dir():  # one stat, not a failing mkdir, for every file
        dest.parent.mkdir(parents=True, exist_ok=True)
    prefixes = [f"\n{label}".encode() for label in labels] if square else None
    with dest.open("wb") as handle:
        handle.write("\t".join(["Node", *labels] if square else labels).encode())
        if rows and cols:
            handle.write(_float_text(values, prefixes).data)
        else:  # no regions: one empty line per volume
            handle.write(b"".join(prefixes or [b"\n"] * rows))
        handle.write(b"\n")
    return dest


def write_timeseries(
    path: str | Path,
    data: npt.ArrayLike,
    labels: Sequence[str],
    sidecar: Mapping[str, Any],
) -> Path:
    """Write region signals (header of region labels, one row per volume) and a sidecar.

    Parameters
    ----------
    path : str or Path
        Destination ``*_timeseries.tsv``; the sidecar goes beside it as ``.json``.
    data : array_like
        Volumes x regions.
    labels : sequence of str
        Region labels, one per column.
    sidecar : mapping
        Sidecar content.

    Returns
    -------
    Path
        The written table: 8 significant digits, ``n/a`` for missing values.
    """
    dest = _write_tsv(path, data, labels, square=False)
    _write_json(dest.with_suffix(".json"), sidecar)
    return dest


def write_relmat(
    path: str | Path,
    matrix: npt.ArrayLike,
    labels: Sequence[str],
    sidecar: Mapping[str, Any],
) -> Path:
    r"""Write a region x region matrix with its labels and a sidecar.

    As XCP-D writes its ``_relmat.tsv``: a header row ``Node`` + the region
    labels, then one row per region starting with its label (read it back with
    ``pandas.read_csv(path, sep="\t", index_col=0)``).

    Parameters
    ----------
    path : str or Path
        Destination ``*_relmat.tsv``; the sidecar goes beside it as ``.json``.
    matrix : array_like
        Regions x regions.
    labels : sequence of str
        Region labels of the rows and columns.
    sidecar : mapping
        Sidecar content.

    Returns
    -------
    Path
        The written table.
    """
    dest = _write_tsv(path, matrix, labels, square=True)
    _write_json(dest.with_suffix(".json"), sidecar)
    return dest
