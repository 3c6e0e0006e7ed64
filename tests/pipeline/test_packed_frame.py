"""A run's metrics pickled with their texts as codes: equal tables, smaller entries."""

from __future__ import annotations

import pickle
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest

from dmnpharm.metrics._table import RowBlocks, stacked_frame
from dmnpharm.pipeline._packed import _ENCODED, _KEEP, pack_frame
from dmnpharm.pipeline._process import CleanedRun, ProcessedRun


def _bundle(rng: np.random.Generator, regions: int = 40) -> pd.DataFrame:
    """Return a bundle-like table of two analyses, built as the pipeline builds it."""
    labels = [f"Region_{i:03d}" for i in range(regions)]
    parts = []
    for analysis, strategy in (("primary", "acompcor"), ("gsr_sensitivity", "acompcor+gsr")):
        rows = RowBlocks()
        rows.add("dmn_within_fc", "network", rng.normal(), "Fisher z", "DMN")
        rows.add("region_alff", "region", rng.normal(size=regions), "a.u.", "DMN", "", labels)
        a, b = np.triu_indices(regions, 1)
        rows.add(
            "edge_fc",
            "edge",
            rng.normal(size=a.size),
            "Fisher z",
            "DMN",
            "",
            [labels[i] for i in a],
            [labels[j] for j in b],
        )
        parts.append((rows, {"analysis": analysis, "strategy": strategy}))
    return stacked_frame(parts, before=("analysis",), after=("strategy",))


def test_packed_table_reads_back_equal(rng: np.random.Generator) -> None:
    """Values, dtypes, column labels and index as packed; texts become codes."""
    table = _bundle(rng)
    packed = pack_frame(table)
    assert packed is not None
    kinds = [part[0] for part in packed.parts]
    assert kinds.count("text") == sum(isinstance(d, pd.StringDtype) for d in table.dtypes)
    back = pickle.loads(pickle.dumps(packed, protocol=5)).frame()
    pd.testing.assert_frame_equal(back, table, check_exact=True)
    assert len(pickle.dumps(packed, protocol=5)) < len(pickle.dumps(table, protocol=5)) / 2


def test_texts_are_encoded_once_per_array(rng: np.random.Generator) -> None:
    """The same Arrow texts, run after run, reuse one encoding; the memo stays bounded."""
    first, second = pack_frame(_bundle(rng)), pack_frame(_bundle(rng))
    assert first is not None
    assert second is not None
    for a, b in zip(first.parts, second.parts, strict=True):
        if a[0] == "text":
            assert a[3] is b[3]  # the codes of a reused array: the same object
    for size in range(_KEEP + 5):
        packed = pack_frame(pd.DataFrame({"x": pd.array([f"t{size}"] * 70, dtype="str")}))
        assert packed is not None
        assert packed.parts[0][0] == "text"
    assert len(_ENCODED) == _KEEP


def test_other_tables_are_left_as_they_are() -> None:
    """Another index or repeated labels: no packing; missing texts stay in their column."""
    text = pd.array(["a", "b", "a"], dtype="str")
    assert pack_frame(pd.DataFrame({"x": text}, index=[3, 4, 5])) is None
    assert pack_frame(pd.DataFrame([[1, 2]], columns=["x", "x"])) is None
    gaps = pd.DataFrame({"x": pd.array(["a", None, "a"] * 30, dtype="str"), "v": [1.0] * 90})
    packed = pack_frame(gaps)
    assert packed is not None
    assert [part[0] for part in packed.parts] == ["as is", "as is"]
    pd.testing.assert_frame_equal(packed.frame(), gaps)
    python_text = pd.DataFrame({"x": pd.array(["a", "b"] * 40, dtype=pd.StringDtype("python"))})
    packed = pack_frame(python_text)
    assert packed is not None
    pd.testing.assert_frame_equal(packed.frame(), python_text)
    assert pack_frame(_bundle(np.random.default_rng(1)).iloc[:0]) is None  # pickled as is


@pytest.mark.parametrize("excluded", [False, True])
def test_processed_run_pickles_equal(rng: np.random.Generator, excluded: bool) -> None:
    """A pickled run (a cache entry) gives back the same tables, signals and matrix."""
    table = pd.DataFrame() if excluded else _bundle(rng)
    signals = rng.normal(size=(20, 40))
    run = ProcessedRun(
        table,
        {"mean_fd": 0.1},
        "too short" if excluded else None,
        {"strategy": "acompcor"},
        (CleanedRun("primary", "acompcor", signals, signals[:0], np.ones(20, dtype=bool)),),
        None if excluded else np.eye(40),
    )
    back = pickle.loads(pickle.dumps(run, protocol=5))
    pd.testing.assert_frame_equal(back.metrics, run.metrics, check_exact=True)
    assert (back.qc, back.excluded, back.record) == (run.qc, run.excluded, run.record)
    assert np.array_equal(back.cleaned[0].data, signals)
    assert (back.matrix is None) == excluded


def test_encoding_from_threads_is_safe() -> None:
    """Threads encoding shared and new arrays at once (``--scheduler threads``) agree."""
    import pyarrow as pa

    from dmnpharm.pipeline._packed import as_dictionary

    shared = pa.chunked_array([pa.array([f"r{i % 7}" for i in range(500)], pa.large_string())])

    def work(seed: int) -> bool:
        ok = True
        for step in range(40):
            own = pa.chunked_array([pa.array([f"t{seed}_{step}"] * 5, pa.large_string())])
            for column in (shared, own):
                coded = as_dictionary(column)
                ok &= coded.cast(pa.large_string()).equals(column)
        return ok

    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(work, range(8)))
    assert len(_ENCODED) <= _KEEP


def test_only_plain_text_columns_become_dictionaries() -> None:
    """Numbers, texts with missing values and several chunks are returned as they are."""
    import pyarrow as pa

    from dmnpharm.pipeline._packed import as_dictionary

    numbers = pa.chunked_array([pa.array([1.0, 2.0])])
    gaps = pa.chunked_array([pa.array(["a", None], pa.large_string())])
    pieces = pa.chunked_array([pa.array(["a"]), pa.array(["b"])])
    for column in (numbers, gaps, pieces):
        assert as_dictionary(column) is column
    coded = as_dictionary(pa.chunked_array([pa.array(["b", "a", "b"])]))
    assert pa.types.is_dictionary(coded.type)
    assert coded.cast(pa.string()).to_pylist() == ["b", "a", "b"]
