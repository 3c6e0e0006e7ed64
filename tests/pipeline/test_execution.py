"""Per-run work on Dask, the content-addressed cache, resume after SIGKILL, one writer.

The cluster tests start real processes on the loopback interface: a Dask
scheduler and two workers, or ``dmnpharm run`` itself with its default local
cluster, and kill some of them with SIGKILL part-way.
"""

from __future__ import annotations

import filecmp
import functools
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import duckdb
import pandas as pd
import pytest

import dmnpharm.execution._cluster as execute_module
import dmnpharm.pipeline._runs as runs_module
from dmnpharm import AnalysisConfig, Execution, Inference, Results, Study
from dmnpharm._utils import output_lock
from dmnpharm.config import paired_model
from dmnpharm.exceptions import InputError, OutputExistsError, OutputLockedError
from dmnpharm.execution import RunCache, local_workers
from dmnpharm.metrics import BundleConfig
from dmnpharm.pipeline._tasks import RunTask, task_keys
from dmnpharm.pipeline._work import RUN_STAGE, execute_run
from dmnpharm.signal import DenoiseConfig
from dmnpharm.simulate import SignalSpec, load_preset, simulate_study, write_simulated_study

#: What `run --strategy 6p --permutations 199 --no-gsr-sensitivity` analyses (recommended
#: censoring and filter). Without the GSR twin: these tests are about execution, and the
#: twin would double every run's work.
CONFIG = AnalysisConfig(
    inference=Inference(n_permutations=199),
    denoise=DenoiseConfig.recommended("6p"),
    gsr_sensitivity=False,
)

#: 8 subjects x 2 sessions of 120 volumes: long enough to kill part-way.
CLUSTER_SPEC = replace(
    load_preset("demo-crossover", seed=5),
    design=replace(load_preset("demo-crossover").design, n_subjects=8),
    signal=SignalSpec(n_volumes=120, repetition_time=2.0),
)
CLUSTER_RUNS = 16


@pytest.fixture(scope="module")
def cluster_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Write the 16-run simulated crossover study once for this module."""
    dest = tmp_path_factory.mktemp("cluster") / "study"
    return write_simulated_study(simulate_study(CLUSTER_SPEC), dest)


def _env(cache: Path, scheduler: str = "local") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DMNPHARM_")}
    env.update(
        DMNPHARM_CACHE=str(cache),
        DMNPHARM_SCHEDULER=scheduler,
        PYTHONUNBUFFERED="1",
        OMP_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1",
    )
    return env


def _cache_entries(cache: Path) -> int:
    return len(list((cache / "v1" / "run").glob("*/*.pickle")))


def _wait_for_entries(cache: Path, count: int, process: subprocess.Popen[bytes]) -> int:
    """Wait until the cache holds ``count`` run results (or the process ends)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        found = _cache_entries(cache)
        if found >= count:
            return found
        time.sleep(0.02)
    return _cache_entries(cache)


def _run_command(study: Path, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "dmnpharm",
        "run",
        str(study),
        "--out",
        str(out),
        "--strategy",
        "6p",
        "--permutations",
        "199",
        "--no-gsr-sensitivity",
        "-q",
        *extra,
    ]


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def _store_tables(path: Path) -> dict[str, pd.DataFrame]:
    with duckdb.connect(str(path), read_only=True) as connection:
        names = [row[0] for row in connection.execute("SHOW TABLES").fetchall()]
        return {n: connection.execute(f"SELECT * FROM {n}").df() for n in names}


def test_execution_options_are_checked_and_resolved(monkeypatch: pytest.MonkeyPatch) -> None:
    """Modes come from the option, then $DMNPHARM_SCHEDULER, then local; bad values are named."""
    monkeypatch.delenv("DMNPHARM_SCHEDULER")
    assert Execution().mode == "local"
    assert Execution(scheduler="tcp://127.0.0.1:8786").mode == "address"
    assert Execution(cluster="slurm").mode == "slurm"
    monkeypatch.setenv("DMNPHARM_SCHEDULER", "synchronous")
    assert Execution().mode == "synchronous"
    assert Execution().describe()["engine"] == "in-process"
    assert Execution().in_process
    assert Execution(scheduler="threads").in_process
    assert not Execution(scheduler="local").in_process
    assert not Execution(cluster="slurm").in_process
    with pytest.raises(InputError, match="slurm, pbs"):
        Execution(cluster="sge")
    with pytest.raises(InputError, match="not both"):
        Execution(scheduler="tcp://x:1", cluster="pbs")
    with pytest.raises(InputError, match="at least 1"):
        Execution(workers=0)
    assert local_workers(1) == 1
    assert local_workers(100, requested=3) == 3
    assert 1 <= local_workers(100) <= (os.cpu_count() or 1)


def test_local_workers_keep_the_memory_they_free() -> None:
    """Local cluster workers get glibc thresholds that keep freed memory, not Dask's 65536."""
    names = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_")
    before = [os.environ.get(name) for name in names]
    with execute_module.client(Execution(scheduler="local", workers=1), 1) as dask_client:
        found = dask_client.run(lambda: [os.environ.get(name) for name in names])
        assert list(found.values()) == [[str(64 << 20), str(16 << 20)]]
        # Dask's nanny sets them in this process to start its workers; they are put back.
        assert [os.environ.get(name) for name in names] == before


def test_cache_keys_follow_what_each_result_depends_on(small_study: Path, tmp_path: Path) -> None:
    """Group options leave the keys alone; cleaning and input content change the run's key."""
    cache = RunCache(tmp_path / "cache")
    timeseries = next(small_study.rglob("*_atlas-*_timeseries.tsv"))
    confounds = timeseries.parent / (
        timeseries.name.split("_atlas-")[0] + "_desc-confounds_timeseries.tsv"
    )
    config = CONFIG.replace(atlas="seitzman300")
    task = RunTask(
        str(timeseries), "x", "roi", str(timeseries), 2.0, config, confounds=str(confounds)
    )
    base = task_keys(task, cache)
    assert base[0] is None  # ROI-level signals are a file read, not cached
    group_only = config.replace(
        inference=Inference(n_permutations=5000, seed=3), model=paired_model(("placebo", "drug"))
    )
    assert task_keys(replace(task, config=group_only), cache) == base
    other = config.replace(denoise=DenoiseConfig("24p"))
    assert task_keys(replace(task, config=other), cache)[1] != base[1]
    partial = config.replace(bundle=BundleConfig(estimator="partial"))
    assert task_keys(replace(task, config=partial), cache) != base
    table = pd.read_csv(confounds, sep="\t")
    table.loc[0, "trans_x"] += 0.001
    table.to_csv(confounds, sep="\t", index=False, na_rep="n/a")
    assert task_keys(task, RunCache(tmp_path / "cache"))[1] != base[1]
    bids = RunTask("b", "b", "bids", str(timeseries), 2.0, config, confounds=str(confounds))
    signals, run = task_keys(bids, cache)
    signals_other, run_other = task_keys(replace(bids, config=other), cache)
    assert signals == signals_other  # extraction does not depend on the cleaning
    assert run != run_other


def test_a_rerun_takes_every_run_from_the_cache(
    small_study: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing changed: no per-run work; a group option changed: still none; cleaning: all."""
    calls: list[str] = []

    def counted(task: RunTask, signals: object = None) -> object:
        calls.append(task.source)
        return execute_run(task, signals)  # type: ignore[arg-type]

    monkeypatch.setattr(runs_module, "RUN_STAGE", replace(RUN_STAGE, work=counted))
    study = Study.from_folder(small_study)
    config = CONFIG
    first = study.analyse(config, tmp_path / "a")
    assert len(calls) == 16
    second = study.analyse(config.replace(inference=Inference(n_permutations=299)), tmp_path / "b")
    assert len(calls) == 16
    pd.testing.assert_frame_equal(first.metrics, second.metrics)
    for name in ("metrics.parquet", "metrics_regions.parquet", "metrics_edges.parquet"):
        assert filecmp.cmp(tmp_path / "a" / name, tmp_path / "b" / name, shallow=False)
    derivatives = tmp_path / "a" / "derivatives" / "dmnpharm"
    for path in derivatives.rglob("sub-*"):
        if path.is_file():
            twin = tmp_path / "b" / path.relative_to(tmp_path / "a")
            assert filecmp.cmp(path, twin, shallow=False), path.name
    study.analyse(config.replace(denoise=DenoiseConfig("24p")), tmp_path / "c")
    assert len(calls) == 32
    uncached = config.replace(execution=Execution(cache=False))
    fresh = study.analyse(uncached, tmp_path / "d")
    assert len(calls) == 48
    pd.testing.assert_frame_equal(first.metrics, fresh.metrics)


def test_an_output_holding_this_analysis_is_left_alone(
    small_analysis: Results, small_study_template: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same command again: nothing redone, same result; another analysis: refused.

    ``small_analysis`` (tests/conftest.py) is the first run: the small study analysed
    with 100 sign flips.
    """
    first = small_analysis
    out = Path(first.out)
    config = AnalysisConfig(inference=Inference(n_permutations=100))
    study = Study.from_folder(small_study_template)
    stamp = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    # any per-run work would fail
    monkeypatch.setattr(runs_module, "RUN_STAGE", replace(RUN_STAGE, work=None))
    again = study.analyse(config, out)
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == stamp
    assert again.analysis_id == first.analysis_id
    pd.testing.assert_frame_equal(again.metrics, first.metrics)
    pd.testing.assert_frame_equal(again.results, first.results)
    with pytest.raises(OutputExistsError, match="holds another analysis"):
        study.analyse(config.replace(denoise=DenoiseConfig("24p")), out)
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == stamp


def test_a_second_writer_is_refused_and_stale_staging_is_cleared(
    small_study: Path, tmp_path: Path
) -> None:
    """A held lock on the output folder stops a run at once; leftovers of a crash are removed."""
    out = tmp_path / "out"
    with output_lock(out), pytest.raises(OutputLockedError, match="another dmnpharm process"):
        Study.from_folder(small_study).analyse(CONFIG, out)
    assert not out.exists()
    stale = tmp_path / ".out.partial-killed"
    (stale / "derivatives").mkdir(parents=True)
    Study.from_folder(small_study).analyse(CONFIG, out)
    assert not stale.exists()
    assert (out / "report.html").is_file()


def test_a_run_killed_part_way_resumes_to_identical_outputs(
    cluster_study: Path, tmp_path: Path
) -> None:
    """SIGKILL the whole run (client and local cluster) mid-way; rerun; compare every byte.

    The reference is an uninterrupted run into the same output path with its
    own cache. Every output file must be identical byte for byte except the
    log (it holds times) and the DuckDB store, whose file layout is DuckDB's
    business: its tables are compared instead, all but the time each analysis
    was stored.
    """
    out = tmp_path / "out"
    uninterrupted = subprocess.run(
        _run_command(cluster_study, out, "--workers", "1"),
        env=_env(tmp_path / "reference-cache"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert uninterrupted.returncode == 0, uninterrupted.stderr[-3000:]
    reference = out.rename(tmp_path / "reference")
    cache = tmp_path / "cache"
    process = subprocess.Popen(
        _run_command(cluster_study, out, "--workers", "1"),
        env=_env(cache),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    done_before_kill = _wait_for_entries(cache, 4, process)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=60)
    assert 4 <= done_before_kill < CLUSTER_RUNS, (
        "the run finished or stalled before it could be killed"
    )
    assert not out.exists(), "a killed run must not leave an output that looks complete"
    assert list(tmp_path.glob(".out.partial-*")), "the killed run's staging folder remains"
    resumed = subprocess.run(
        _run_command(cluster_study, out, "--workers", "1", "-v"),
        env=_env(cache),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"{done_before_kill} of {CLUSTER_RUNS} runs from the cache" in resumed.stderr
    assert not list(tmp_path.glob(".out.partial-*"))
    assert _files(out) == _files(reference)
    for name in _files(reference):
        if name in ("dmnpharm.log", "results.duckdb"):
            continue
        assert filecmp.cmp(out / name, reference / name, shallow=False), name
    ours, theirs = (
        _store_tables(out / "results.duckdb"),
        _store_tables(reference / "results.duckdb"),
    )
    assert ours.keys() == theirs.keys()
    for table in ours:
        # The store records when each analysis was written; all else must match.
        pd.testing.assert_frame_equal(
            ours[table].drop(columns="created", errors="ignore"),
            theirs[table].drop(columns="created", errors="ignore"),
        )


def _start(command: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with log.open("wb") as handle:
        return subprocess.Popen(
            command, stdout=handle, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )


def test_results_written_by_workers_or_sent_back_are_the_same_files(
    small_study: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On two threads or two forked processes writing their files, or sent back: same outputs."""
    study = Study.from_folder(small_study)
    threads = Execution(cache=False, scheduler="threads", workers=2)
    config = CONFIG.replace(execution=threads)
    there = study.analyse(config, tmp_path / "a")
    sent = Execution(cache=False, worker_files=False, scheduler="synchronous")
    back = study.analyse(config.replace(execution=sent), tmp_path / "b")
    # The default local mode on two cores: forked worker processes (on Linux), recorded as
    # decided before the runs, although the store's thread runs when the record is written.
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1}, raising=False)
    forked = sys.platform.startswith("linux")
    local = config.replace(execution=Execution(cache=False, scheduler="local"))
    pooled = study.analyse(local, tmp_path / "c")
    for other in ("a", "c"):
        pd.testing.assert_frame_equal(
            there.metrics if other == "a" else pooled.metrics, back.metrics
        )
        files = sorted((tmp_path / other / "derivatives").rglob("sub-*/**/*.*"))
        assert len(files) >= 16 * 5
        for path in files:
            twin = tmp_path / "b" / path.relative_to(tmp_path / other)
            assert filecmp.cmp(path, twin, shallow=False), path.name
        for name in ("metrics_regions.parquet", "metrics_edges.parquet"):
            pd.testing.assert_frame_equal(
                pd.read_parquet(tmp_path / other / name), pd.read_parquet(tmp_path / "b" / name)
            )
    recorded = json.loads((tmp_path / "b" / "provenance.json").read_text())["execution"]
    assert (recorded["worker_files"], recorded["threads"]) == (False, 1)
    recorded = json.loads((tmp_path / "a" / "provenance.json").read_text())["execution"]
    assert (recorded["engine"], recorded["threads"]) == ("in-process", 2)
    assert recorded["forked_processes"] is False
    recorded = json.loads((tmp_path / "c" / "provenance.json").read_text())["execution"]
    assert (recorded["engine"], recorded["threads"]) == ("in-process", 2)
    assert recorded["forked_processes"] is forked
    log = (tmp_path / "c" / "dmnpharm.log").read_text()
    assert ("2 worker processes forked from this one" in log) is forked
    assert "the runs go to threads" not in log


def test_a_worker_killed_mid_run_is_replaced_and_results_match(
    cluster_study: Path, tmp_path: Path
) -> None:
    """A scheduler and two workers on loopback; SIGKILL one worker mid-run; same results."""
    env = _env(tmp_path / "cache")
    address_file = tmp_path / "scheduler.json"
    processes = [
        _start(
            [
                sys.executable,
                "-m",
                "distributed.cli.dask_scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(address_file),
            ],
            tmp_path / "scheduler.log",
            env,
        )
    ]
    try:
        deadline = time.monotonic() + 60
        while not address_file.is_file() and time.monotonic() < deadline:
            time.sleep(0.1)
        address = json.loads(address_file.read_text())["address"]
        worker = [
            sys.executable,
            "-m",
            "distributed.cli.dask_worker",
            address,
            "--host",
            "127.0.0.1",
            "--nthreads",
            "1",
            "--nworkers",
            "1",
            "--no-dashboard",
            "--no-nanny",
        ]
        for name in ("worker-a", "worker-b"):
            processes.append(_start([*worker, "--name", name], tmp_path / f"{name}.log", env))
        out = tmp_path / "out"
        run = subprocess.Popen(
            _run_command(cluster_study, out, "--scheduler", address, "-v"),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        done_before_kill = _wait_for_entries(tmp_path / "cache", 3, run)
        processes[1].kill()
        _, stderr = run.communicate(timeout=300)
        assert run.returncode == 0, stderr.decode()[-3000:]
        assert 3 <= done_before_kill < CLUSTER_RUNS, (
            "the run ended before a worker could be killed"
        )
        assert processes[1].poll() is not None
        local = Study.from_folder(cluster_study).analyse(CONFIG, tmp_path / "local")
        clustered = pd.read_parquet(out / "metrics.parquet")
        pd.testing.assert_frame_equal(
            clustered, pd.read_parquet(tmp_path / "local" / "metrics.parquet")
        )
        pd.testing.assert_frame_equal(
            pd.read_parquet(out / "group" / "results.parquet"), local.results
        )
        provenance = json.loads((out / "provenance.json").read_text())
        assert provenance["execution"]["mode"] == "address"
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=30)


# dask-jobqueue leaves a half-built cluster behind when its constructor refuses the
# configuration; its __del__ then warns. That is theirs, and expected here.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_batch_cluster_is_configured_from_the_jobqueue_yaml() -> None:
    """--cluster slurm: dask-jobqueue's SLURMCluster with the YAML's settings and our memory.

    No job is submitted (no SLURM here): the job script is checked, and a
    missing configuration gives a message that says where to set it.
    """
    dask = pytest.importorskip("dask")
    pytest.importorskip("dask_jobqueue")
    settings = {
        "jobqueue.slurm.cores": 2,
        "jobqueue.slurm.memory": "8GiB",
        "jobqueue.slurm.queue": "short",
        "jobqueue.slurm.scheduler-options": {"host": "127.0.0.1", "dashboard_address": ":0"},
    }
    with dask.config.set(settings):
        cluster = execute_module._batch_cluster(Execution(cluster="slurm", memory_limit="4GiB"))
        try:
            script = cluster.job_script()
        finally:
            cluster.close()
    assert "#SBATCH -p short" in script
    assert "#SBATCH --mem=4G" in script
    assert "--nthreads 2" in script or "--nworkers" in script
    with (
        dask.config.set({"jobqueue.pbs.cores": None, "jobqueue.pbs.memory": None}),
        pytest.raises(InputError, match=r"jobqueue\.yaml"),
    ):
        execute_module._batch_cluster(Execution(cluster="pbs"))


def test_forked_confounds_checks_name_the_same_problems(
    small_study: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Confounds read on two forked processes (chunks of two): the same problems, in order."""
    import dmnpharm.execution._cluster as cluster_module
    import dmnpharm.pipeline._checks as checks_module
    from dmnpharm._utils._forked import forked_map
    from dmnpharm.pipeline._checks import preflight, read_plan

    monkeypatch.setattr(checks_module, "forked_map", functools.partial(forked_map, chunk=2))
    monkeypatch.setattr(cluster_module, "usable_cores", lambda: 2)
    damaged = []
    for subject in ("sub-03", "sub-06"):
        path = next((small_study / subject).rglob("*_desc-confounds_timeseries.tsv"))
        pd.read_csv(path, sep="\t").drop(columns=["framewise_displacement"]).to_csv(
            path, sep="\t", index=False
        )
        damaged.append(str(path))
    found = []
    for scheduler in ("synchronous", "local"):
        config = CONFIG.replace(execution=Execution(scheduler=scheduler), atlas="seitzman300")
        found.append(preflight(read_plan(small_study, config, "roi"), config))
    assert found[0] == found[1]
    named = [path for path in damaged if any(path in problem for problem in found[0])]
    assert named == damaged
