"""Per-run QC traces (FD, tSNR, coverage) and the run the carpet plot shows."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from dmnpharm.atlases import load_atlas
from dmnpharm.config import AnalysisConfig
from dmnpharm.pipeline._adapters import StudyRun
from dmnpharm.pipeline._qc_inputs import carpet_run
from dmnpharm.pipeline._runs import Processed, RunTraces
from dmnpharm.pipeline._tasks import RunTask, RunTrace, Signals
from dmnpharm.pipeline._work import run_trace

ATLAS = load_atlas("seitzman300")


def _task(kind: str, source: str = "sub-1/func/run.nii.gz") -> RunTask:
    return RunTask(source, source, kind, source, 2.0, AnalysisConfig())


def test_tsnr_is_mean_over_sd_of_image_signals_only(rng: np.random.Generator) -> None:
    """The tSNR is mean / SD per region of signals extracted from an image; never TSV input."""
    data = 500.0 + rng.normal(0.0, 10.0, size=(80, ATLAS.n_regions))
    data[:, 2] = 7.0  # constant: no defined tSNR
    data[:, 4] -= 600.0  # a negative mean (an already centred signal)
    confounds = pd.DataFrame({"framewise_displacement": np.r_[np.nan, rng.gamma(2, 0.1, 79)]})
    coverage = np.linspace(0.0, 1.0, ATLAS.n_regions)
    trace = run_trace(_task("bids"), Signals(data, coverage=coverage), confounds)
    assert trace.tsnr is not None
    assert trace.tsnr.dtype == np.float32
    keep = np.ones(ATLAS.n_regions, dtype=bool)
    keep[[2, 4]] = False
    expected = data[:, keep].mean(axis=0) / data[:, keep].std(axis=0)
    np.testing.assert_allclose(trace.tsnr[keep], expected, rtol=1e-6)
    assert np.isnan(trace.tsnr[[2, 4]]).all()
    assert trace.fd is not None
    np.testing.assert_allclose(trace.fd, confounds["framewise_displacement"], rtol=1e-6)
    assert trace.coverage is not None
    np.testing.assert_allclose(trace.coverage, coverage, rtol=1e-6)
    from_table = run_trace(_task("roi", "sub-1/run.tsv"), Signals(data), None)
    assert from_table.tsnr is None
    assert from_table.fd is None
    assert from_table.coverage is None


def test_traces_become_long_tables_keyed_by_run() -> None:
    """FD rows per volume and region rows per region, runs without a trace left out."""
    labels = ("a", "b", "c")
    traces = RunTraces(
        {
            "r1": RunTrace(np.array([0.1, 0.2], np.float32), np.array([1, 2, 3], np.float32)),
            "r2": RunTrace(None, None, np.array([1.0, 0.5, 0.0], np.float32)),
            "r3": RunTrace(np.array([0.3], np.float32), np.array([1.0], np.float32)),
        },
        labels,
    )
    fd = traces.fd_series()
    assert fd is not None
    assert fd.astype({"path": str}).to_dict("list") == {
        "path": ["r1", "r1", "r3"],
        "volume": [0, 1, 0],
        "framewise_displacement": [np.float32(0.1), np.float32(0.2), np.float32(0.3)],
    }
    tsnr = traces.per_region("tsnr")
    assert tsnr is not None  # r3's tSNR has the wrong length and is left out
    assert list(tsnr["path"].astype(str)) == ["r1"] * 3
    assert list(tsnr["region"].astype(str)) == list(labels)
    coverage = traces.per_region("coverage")
    assert coverage is not None
    assert coverage["coverage"].tolist() == [1.0, 0.5, 0.0]
    assert RunTraces({}, labels).fd_series() is None


def _processed(statuses: dict[str, str], fd: dict[str, float]) -> Processed:
    runs = pd.DataFrame({"source": list(statuses), "status": list(statuses.values())})
    traces = {k: RunTrace(np.full(10, v, np.float32)) for k, v in fd.items()}
    return Processed(
        pd.DataFrame(), pd.DataFrame(), runs, [], {}, [], RunTraces(traces, ATLAS.labels)
    )


def test_the_carpet_shows_the_included_image_run_that_moved_most() -> None:
    """Highest mean FD among included image runs; excluded and table runs never."""
    runs = [
        StudyRun({"participant_id": f"sub-{i}"}, _task(kind, f"sub-{i}/run"))
        for i, kind in enumerate(("bids", "bids", "bids", "roi"))
    ]
    statuses = {
        "sub-0/run": "included",
        "sub-1/run": "included",
        "sub-2/run": "excluded",
        "sub-3/run": "included",
    }
    fd = {"sub-0/run": 0.1, "sub-1/run": 0.3, "sub-2/run": 0.9, "sub-3/run": 2.0}
    chosen = carpet_run(runs, _processed(statuses, fd))
    assert chosen is not None
    assert chosen.source == "sub-1/run"
    without_fd = carpet_run(runs, _processed(statuses, {}))
    assert without_fd is not None
    assert without_fd.source == "sub-0/run"
    tables = [replace(r, task=_task("roi", r.source)) for r in runs]
    assert carpet_run(tables, _processed(statuses, fd)) is None
