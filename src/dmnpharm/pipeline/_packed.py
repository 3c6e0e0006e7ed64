"""A run's bundle table with its text columns as codes into their distinct values.

A run's metrics table (about 8,600 rows for a 300-region atlas and two
analyses) repeats a few hundred texts (measures, networks, region labels) in
eight text columns. Pickled as they are, Arrow's large strings made the table
1.28 MB of a run's 2.5 MB cache entry. The run's text columns are the same
Arrow arrays run after run (:func:`dmnpharm.metrics._table._arrow_texts`
reuses them), so each is encoded as a dictionary once per process and then
only referred to: the table pickles to about 0.2 MB and reads back equal. The
region and edge rows a worker sends to the client are dictionaries the same way
(:func:`as_dictionary`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

__all__ = ["PackedFrame", "as_dictionary", "pack_frame"]

#: Tables shorter than this pickle as they are (an empty one is what a run's worker sends
#: back): rebuilding them costs more than their texts.
_FEWEST_ROWS = 64
#: Encoded text columns kept per process, most recent last (a study's runs share a few).
_KEEP = 32
# Key: the addresses and sizes of an Arrow array's buffers, its offset and length. Each
# entry holds the array itself, so its buffers (and their addresses) stay its own.
_LOCK = threading.Lock()
_ENCODED: OrderedDict[tuple[Any, ...], tuple[pa.Array, pa.Array, npt.NDArray[Any]]] = OrderedDict()


def _key(chunk: pa.Array) -> tuple[Any, ...]:
    buffers = tuple((b.address, b.size) if b is not None else None for b in chunk.buffers())
    return (chunk.type, chunk.offset, len(chunk), buffers)


def _encoded(chunk: pa.Array) -> tuple[pa.Array, npt.NDArray[Any]]:
    """Return a text array's distinct values and each row's code, once per array.

    Safe from several threads (``--scheduler threads``): the memo is read and
    changed under a lock; two threads encoding the same new array give equal codes.
    """
    key = _key(chunk)
    with _LOCK:
        found = _ENCODED.get(key)
        if found is not None:
            _ENCODED.move_to_end(key)
            return found[1], found[2]
    encoded = chunk.dictionary_encode()
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    small = np.int16 if len(encoded.dictionary) <= np.iinfo(np.int16).max else np.int32
    codes = codes.astype(small)
    codes.setflags(write=False)
    with _LOCK:
        _ENCODED[key] = (chunk, encoded.dictionary, codes)
        while len(_ENCODED) > _KEEP:
            _ENCODED.popitem(last=False)
    return encoded.dictionary, codes


def as_dictionary(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Return an Arrow text column as a dictionary column, encoded once per array.

    Parameters
    ----------
    column : pyarrow.ChunkedArray
        A column of a run's bundle table (its texts reused run after run).

    Returns
    -------
    pyarrow.ChunkedArray
        The same values as a dictionary of the distinct texts and int16 (or
        int32) codes; a column of another type, of several chunks or with
        missing values is returned as it is.
    """
    is_text = pa.types.is_large_string(column.type) or pa.types.is_string(column.type)
    if not is_text or column.num_chunks != 1 or column.null_count:
        return column
    values, codes = _encoded(column.chunk(0))
    return pa.chunked_array([pa.DictionaryArray.from_arrays(pa.array(codes), values)])


def _text_chunk(column: pd.Series) -> pa.Array | None:
    """Return an Arrow-backed text column's single chunk without nulls, else None."""
    dtype = column.dtype
    if not (isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow"):
        return None
    chunked = column.array.__arrow_array__()  # pandas' own Arrow data, not a copy
    if not isinstance(chunked, pa.ChunkedArray) or chunked.num_chunks != 1 or chunked.null_count:
        return None
    chunk: pa.Array = chunked.chunk(0)
    return chunk


@dataclass(frozen=True, eq=False)
class PackedFrame:
    """A table with a default index, each text column as its distinct values and codes.

    Parameters
    ----------
    columns : pandas.Index
        The table's column labels.
    length : int
        Its rows.
    parts : tuple
        Per column, ``("text", dtype, values, codes)`` or ``("as is", array)``.
    """

    columns: pd.Index
    length: int
    parts: tuple[tuple[Any, ...], ...]

    def frame(self) -> pd.DataFrame:
        """Return the table as it was packed.

        Returns
        -------
        pandas.DataFrame
            Equal to the packed table: the same columns, dtypes, values and
            default index.
        """
        data: dict[int, Any] = {}
        for i, part in enumerate(self.parts):
            if part[0] == "text":
                _, dtype, values, codes = part
                data[i] = pd.array(values.take(pa.array(codes)), dtype=dtype)
            else:
                data[i] = part[1]
        table = pd.DataFrame(data, index=pd.RangeIndex(self.length), copy=False)
        table.columns = self.columns
        return table


def pack_frame(table: pd.DataFrame) -> PackedFrame | None:
    """Return a table packed for pickling, or None where packing does not apply.

    Parameters
    ----------
    table : pandas.DataFrame
        A table with a default index (0 .. n-1) and unique column labels.

    Returns
    -------
    PackedFrame or None
        Arrow-backed text columns without missing values become their
        distinct values and each row's code (encoded once per array per
        process); other columns are kept as they are. None for another index,
        repeated labels or fewer than 64 rows: the table is pickled as usual.
    """
    index = table.index
    plain_index = isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1
    if not plain_index or not table.columns.is_unique or len(table) < _FEWEST_ROWS:
        return None
    parts: list[tuple[Any, ...]] = []
    for i in range(table.shape[1]):
        column = table.iloc[:, i]
        chunk = _text_chunk(column)
        if chunk is None:
            parts.append(("as is", column.array))
            continue
        values, codes = _encoded(chunk)
        parts.append(("text", column.dtype, values, codes))
    return PackedFrame(table.columns, len(table), tuple(parts))
