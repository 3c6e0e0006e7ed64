"""Argument parsing and dispatch for ``dmnpharm``."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from dmnpharm import __version__
from dmnpharm._utils import LOGGER_NAME
from dmnpharm.cli._catalog import add_catalog_commands, dispatch_catalog
from dmnpharm.cli._query import add_query_command, add_store_option, run_query
from dmnpharm.exceptions import DmnpharmError, InputError, RunFailuresError
from dmnpharm.io import DEFAULT_SPACE
from dmnpharm.metrics import ESTIMATORS
from dmnpharm.run import CLUSTERS, SCHEDULER_ENV, Execution, RunConfig
from dmnpharm.signal import DenoiseConfig
from dmnpharm.simulate import Effect, StudySpec, load_preset, preset_names, spec_from_dict

# The commands' heavy machinery (SciPy, scikit-learn, nilearn, matplotlib, Dask) is
# imported inside the functions that use it: a rerun with nothing to do, `--help` and
# `--version` then start in well under a second instead of about two and a half.

__all__ = ["RUN_FAILURES_EXIT", "build_parser", "main"]

#: Exit code of ``run``/``demo`` when some runs failed and ``--allow-failures`` was not given.
RUN_FAILURES_EXIT = 3


def _contrast(text: str) -> tuple[str, str]:
    parts = text.split("-")
    if len(parts) != 2 or not all(p.strip() for p in parts):
        raise argparse.ArgumentTypeError(
            f"contrast {text!r} must be two condition labels joined by '-', e.g. drug-placebo"
        )
    return parts[0].strip(), parts[1].strip()


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def _size_list(text: str) -> tuple[int, ...]:
    sizes = tuple(_positive_int(part.strip()) for part in text.split(",") if part.strip())
    if not sizes:
        raise argparse.ArgumentTypeError("give at least one sample size, e.g. 10,20,30")
    return sizes


def _add_common(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--overwrite", action="store_true", help="replace a non-empty --out folder")
    sub.add_argument("-v", "--verbose", action="store_true", help="log debugging detail")
    sub.add_argument("-q", "--quiet", action="store_true", help="log warnings and errors only")


def _add_denoise(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--strategy",
        default="none",
        help="confound strategy: none, 6p, 24p, 36p, acompcor, aroma, each optionally +gsr "
        "(default none)",
    )
    sub.add_argument("--fd-threshold", type=float, default=None, help="censor FD above (mm)")
    sub.add_argument(
        "--std-dvars-threshold", type=float, default=None, help="censor std-DVARS above"
    )
    sub.add_argument(
        "--min-remaining",
        type=float,
        default=None,
        help="exclude runs keeping fewer volumes (fraction if <= 1, else a count)",
    )
    sub.add_argument("--high-pass", type=float, default=None, help="high-pass cut-off (Hz)")
    sub.add_argument("--low-pass", type=float, default=None, help="low-pass cut-off (Hz)")
    sub.add_argument(
        "--allow-failures",
        action="store_true",
        help="go on without runs that cannot be read (listed in the outputs and report)",
    )
    sub.add_argument(
        "--estimator",
        default="pearson",
        choices=tuple(ESTIMATORS),
        help="connectivity estimator: pearson (Fisher z), partial (Ledoit-Wolf partial "
        "correlation), tangent (group reference: geometric mean of all runs)",
    )
    sub.add_argument(
        "--drug",
        default=None,
        help="compare the results with the evidence catalog for this agent or drug class "
        "(see dmnpharm catalog drugs); adds OUT/compare/ and a report section",
    )
    sub.add_argument(
        "--population",
        default="healthy",
        help="catalog population for --drug: healthy, patients, or a population id",
    )
    sub.add_argument(
        "--no-gsr-sensitivity",
        action="store_true",
        help="do not repeat the analysis with global signal regression toggled",
    )


def _add_execution(sub: argparse.ArgumentParser) -> None:
    group = sub.add_argument_group("execution (changes where runs are computed, not results)")
    group.add_argument(
        "--scheduler",
        default=None,
        help="local (a Dask cluster on this machine; the default), synchronous (in this "
        "process), or the address of a running Dask scheduler, e.g. tcp://host:8786 "
        f"(default: ${SCHEDULER_ENV} or local)",
    )
    group.add_argument(
        "--cluster",
        default=None,
        choices=CLUSTERS,
        help="start Dask workers as batch jobs through dask-jobqueue, configured by "
        "~/.config/dask/jobqueue.yaml",
    )
    group.add_argument(
        "--workers", type=_positive_int, default=None, help="worker processes (or batch jobs)"
    )
    group.add_argument(
        "--memory-limit", default=None, help="memory per worker, e.g. 4GiB (default: shared)"
    )
    group.add_argument(
        "--cache",
        default=None,
        help="per-run result cache folder (default: $DMNPHARM_CACHE or ~/.cache/dmnpharm)",
    )
    group.add_argument(
        "--no-cache", action="store_true", help="neither reuse nor store per-run results"
    )


def _execution(args: argparse.Namespace) -> Execution:
    return Execution(
        scheduler=args.scheduler,
        cluster=args.cluster,
        workers=args.workers,
        memory_limit=args.memory_limit,
        cache_dir=args.cache,
        cache=not args.no_cache,
    )


def _denoise(args: argparse.Namespace) -> DenoiseConfig:
    remaining = args.min_remaining
    if remaining is not None and remaining > 1:
        remaining = int(remaining)
    return DenoiseConfig(
        args.strategy,
        fd_threshold=args.fd_threshold,
        std_dvars_threshold=args.std_dvars_threshold,
        min_remaining=remaining,
        high_pass=args.high_pass,
        low_pass=args.low_pass,
    )


def _add_analysis(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--contrast",
        type=_contrast,
        default=("drug", "placebo"),
        help="within-subject contrast A-B (default: drug-placebo)",
    )
    sub.add_argument(
        "--permutations",
        type=_positive_int,
        default=10_000,
        help="random sign flips for permutation p-values (default: 10000)",
    )
    sub.add_argument(
        "--perm-seed", type=int, default=0, help="seed of the sign flips (default: 0)"
    )
    sub.add_argument(
        "--between",
        default=None,
        help="between-subject design instead of the paired contrast: the participants "
        "column compared, e.g. medication or group (observational cohorts)",
    )
    sub.add_argument(
        "--between-contrast",
        nargs=2,
        metavar=("A", "B"),
        default=None,
        help="levels of --between compared, A minus B (default: its two levels)",
    )
    sub.add_argument(
        "--covariate",
        action="append",
        default=[],
        help="subject-level covariate of the between-subject model (repeatable), e.g. age",
    )
    sub.add_argument(
        "--block", default=None, help="permute within these blocks (between design), e.g. site"
    )


def _add_overrides(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--subjects", type=_positive_int, default=None, help="subjects (default: the preset's)"
    )
    sub.add_argument(
        "--effect",
        type=float,
        default=None,
        help="replace the drug effects by a decrease of within-DMN FC of this size (Fisher z)",
    )
    sub.add_argument("--seed", type=int, default=None, help="simulation seed (default 0)")


def _study_spec(args: argparse.Namespace) -> StudySpec:
    if getattr(args, "spec", None):
        path = Path(args.spec)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise InputError(f"cannot read spec file '{path}': {exc}") from None
        spec = spec_from_dict(data.get("spec", data) if isinstance(data, dict) else data)
    else:
        spec = load_preset(getattr(args, "preset", None) or "demo-crossover")
    if args.subjects is not None:
        spec = replace(spec, design=replace(spec.design, n_subjects=args.subjects))
    if args.effect is not None:
        spec = replace(spec, effects=(Effect("within_fc", -args.effect, "DMN"),))
    if args.seed is not None:
        spec = replace(spec, seed=args.seed)
    signal = spec.signal
    if getattr(args, "volumes", None) is not None:
        signal = replace(signal, n_volumes=args.volumes)
    if getattr(args, "tr", None) is not None:
        signal = replace(signal, repetition_time=args.tr)
    if args.command == "simulate" and args.atlas is not None:
        signal = replace(signal, atlas=args.atlas)
    return replace(spec, signal=signal)


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of ``dmnpharm``.

    Returns
    -------
    argparse.ArgumentParser
        The parser with one subcommand per job.
    """
    parser = argparse.ArgumentParser(
        prog="dmnpharm",
        description="Measure how psychotropic drugs change the default mode network.",
    )
    parser.add_argument("--version", action="version", version=f"dmnpharm {__version__}")
    subs = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sim = subs.add_parser(
        "simulate", help="write a simulated study with planted effects (ROI level)"
    )
    sim.add_argument("--out", required=True, help="study folder to write")
    source = sim.add_mutually_exclusive_group()
    source.add_argument(
        "--preset",
        default=None,
        help=f"named study (default demo-crossover): {', '.join(preset_names())}",
    )
    source.add_argument("--spec", default=None, help="JSON file holding a StudySpec")
    _add_overrides(sim)
    sim.add_argument("--volumes", type=_positive_int, default=None, help="volumes per run")
    sim.add_argument("--tr", type=float, default=None, help="repetition time in seconds")
    sim.add_argument(
        "--atlas",
        default=None,
        help="regions and networks: seitzman300 (default), dosenbach160, andrews_hanna, or "
        "from $DMNPHARM_ATLAS_DIR schaefer{100,200,400}_{7,17}, schaefer{100,200,400}_7_tian, "
        "yeo7, yeo17",
    )
    sim.add_argument(
        "--level",
        choices=("roi", "voxel"),
        default="roi",
        help="roi: region time series; voxel: 2 mm MNI images in fMRIPrep's layout",
    )
    _add_common(sim)

    run = subs.add_parser("run", help="analyse an ROI-level study folder")
    run.add_argument("study", help="study folder (participants.tsv, sub-*/ses-*/func/...)")
    run.add_argument("--out", required=True, help="output folder")
    run.add_argument(
        "--atlas",
        default=None,
        help="atlas name (see dmnpharm simulate --help; default: from the ROI sidecars, or "
        "seitzman300 for BIDS studies)",
    )
    run.add_argument("--space", default=DEFAULT_SPACE, help="fMRIPrep space (BIDS studies)")
    run.add_argument(
        "--voxel-maps",
        action="store_true",
        help="BIDS studies: also write ALFF, fALFF and PCC/aMPFC seed maps per run "
        "(same read of each image) under OUT/voxel_maps/",
    )
    _add_analysis(run)
    _add_denoise(run)
    _add_execution(run)
    _add_common(run)
    add_store_option(run)

    validate = subs.add_parser(
        "validate", help="check a study folder (BIDS + fMRIPrep, or ROI level) and list problems"
    )
    validate.add_argument("study", help="study folder")
    validate.add_argument("--space", default=DEFAULT_SPACE, help="fMRIPrep output space")
    validate.add_argument("--res", default=None, help="resolution entity (res-), if several")
    validate.add_argument("--task", default=None, help="only runs of this task")
    validate.add_argument(
        "--desc",
        default="preproc",
        help="desc- of the BOLD images: preproc, or smoothAROMAnonaggr (the aroma strategy)",
    )
    validate.add_argument("--design", default=None, help="explicit design TSV")
    validate.add_argument(
        "--derivatives", default=None, help="fMRIPrep folder (default STUDY/derivatives/fmriprep)"
    )
    _add_common(validate)

    stats = subs.add_parser("stats", help="fit a group model to a tidy metrics table")
    stats.add_argument(
        "table", help="metrics table (TSV or Parquet): participant_id, measure, value"
    )
    stats.add_argument("--out", required=True, help="output folder")
    stats.add_argument("--within", default=None, help="within-subject factor, e.g. condition")
    stats.add_argument(
        "--contrast", type=_contrast, default=None, help="levels of --within compared, A-B"
    )
    stats.add_argument("--between", default=None, help="between-subject factor, e.g. group")
    stats.add_argument(
        "--between-contrast", type=_contrast, default=None, help="levels of --between, A-B"
    )
    stats.add_argument(
        "--covariate", action="append", default=[], help="nuisance covariate (repeatable)"
    )
    stats.add_argument(
        "--test-covariate", default=None, help="subject covariate whose association is tested"
    )
    stats.add_argument(
        "--trend", default=None, help="numeric column: within-subject linear trend (e.g. dose_mg)"
    )
    stats.add_argument("--block", default=None, help="exchangeability block column, e.g. site")
    stats.add_argument("--subject", default="participant_id", help="subject column")
    stats.add_argument(
        "--drop-incomplete",
        action="store_true",
        help="leave out (and list) subjects lacking a level instead of refusing",
    )
    method = stats.add_mutually_exclusive_group()
    method.add_argument(
        "--mixed",
        action="store_true",
        help="random-intercept mixed model (statsmodels MixedLM, Wald tests) instead",
    )
    method.add_argument(
        "--normalization",
        type=_contrast,
        default=None,
        metavar="PATIENT-CONTROL",
        help="test patients' distance to controls (group column) between --contrast times",
    )
    stats.add_argument(
        "--permutations", type=_positive_int, default=10_000, help="permutations (default 10000)"
    )
    stats.add_argument("--perm-seed", type=int, default=0, help="permutation seed (default 0)")
    _add_common(stats)

    power = subs.add_parser(
        "power",
        help="power of a design's main contrast by repeated ROI-level simulation",
    )
    power.add_argument("--out", required=True, help="output folder (table, curve, provenance)")
    power_source = power.add_mutually_exclusive_group()
    power_source.add_argument(
        "--preset",
        default=None,
        help=f"named study (default demo-crossover): {', '.join(preset_names())}",
    )
    power_source.add_argument("--spec", default=None, help="JSON file holding a StudySpec")
    power.add_argument(
        "--subjects",
        type=_size_list,
        default=(10, 20, 30, 40),
        help="comma-separated sample sizes (default 10,20,30,40)",
    )
    power.add_argument(
        "--studies", type=_positive_int, default=1000, help="studies per size (default 1000)"
    )
    power.add_argument(
        "--measure",
        default=None,
        help="within_fc_<NET> or between_fc_<A>_<B> (default: the spec's first FC effect)",
    )
    power.add_argument("--alpha", type=float, default=0.05, help="significance level")
    power.add_argument(
        "--permutations",
        type=_positive_int,
        default=1000,
        help="sign flips or relabellings per simulated study (default 1000)",
    )
    power.add_argument("--seed", type=int, default=0, help="seed of the analysis (default 0)")
    power.add_argument(
        "--workers",
        type=_positive_int,
        default=os.cpu_count() or 1,
        help="processes for the simulation (default: one per core)",
    )
    _add_common(power)

    demo = subs.add_parser(
        "demo", help="simulate a crossover study, analyse it and write an HTML report"
    )
    demo.add_argument(
        "--out", default="dmnpharm-demo", help="output folder (default dmnpharm-demo)"
    )
    _add_overrides(demo)
    _add_analysis(demo)
    _add_denoise(demo)
    _add_execution(demo)
    _add_common(demo)
    add_store_option(demo)

    add_catalog_commands(subs, _add_common)
    add_query_command(subs)
    return parser


def _configure_logging(verbose: bool, quiet: bool) -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("dmnpharm: %(message)s"))
    logger = logging.getLogger(LOGGER_NAME)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO)
    return handler


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "simulate":
        from dmnpharm.simulate import simulate_study, write_simulated_study, write_voxel_study

        spec = _study_spec(args)
        writer = write_voxel_study if args.level == "voxel" else write_simulated_study
        path = writer(simulate_study(spec), args.out, overwrite=args.overwrite)
        print(path)
        return 0
    if args.command == "power":
        return _power(args)
    if args.command == "stats":
        return _stats(args)
    if args.command == "validate":
        return _validate(args)
    if args.command == "query":
        return run_query(args)
    if args.command in ("catalog", "compare"):
        return dispatch_catalog(args)
    config = RunConfig(
        atlas=getattr(args, "atlas", None),
        contrast=args.contrast,
        n_permutations=args.permutations,
        seed=args.perm_seed,
        denoise=_denoise(args),
        space=getattr(args, "space", DEFAULT_SPACE),
        allow_failures=args.allow_failures,
        voxel_maps=getattr(args, "voxel_maps", False),
        estimator=args.estimator,
        gsr_sensitivity=not args.no_gsr_sensitivity,
        drug=args.drug,
        population=args.population,
        between=args.between,
        between_contrast=tuple(args.between_contrast) if args.between_contrast else None,
        covariates=tuple(args.covariate),
        block=args.block,
    )
    log_level = logging.DEBUG if args.verbose else logging.INFO  # of OUT/dmnpharm.log
    if args.command == "run":
        from dmnpharm.run import run_study

        result = run_study(
            args.study, args.out, config, args.overwrite, args.store, log_level, _execution(args)
        )
    else:
        from dmnpharm.run import run_demo

        spec = _study_spec(args)
        result = run_demo(
            args.out, spec, config, args.overwrite, args.store, log_level, _execution(args)
        )
    if not args.quiet:
        shown = result.results[["measure", "contrast", "estimate", "ci_low", "ci_high", "p_fwer"]]
        print(shown.to_string(index=False, float_format=lambda v: f"{v:.4g}"), file=sys.stderr)
    print(result.report)
    return 0


def _validate(args: argparse.Namespace) -> int:
    from dmnpharm.atlases import load_atlas
    from dmnpharm.io import discover_study, load_roi_study, read_study_atlas_name

    root = Path(args.study)
    derivatives = Path(args.derivatives) if args.derivatives else root / "derivatives" / "fmriprep"
    if derivatives.is_dir():
        study = discover_study(
            root, args.space, args.res, args.derivatives, args.task, args.design, args.desc
        )
        n_subjects = study.design["participant_id"].nunique()
        print(
            f"{root}: valid; {len(study.runs)} runs of {n_subjects} participants in space "
            f"{study.space}, TR {study.runs[0].repetition_time:g} s"
        )
        return 0
    atlas = read_study_atlas_name(root)
    roi = load_roi_study(root, atlas, load_atlas(atlas).labels)
    print(f"{root}: valid; {len(roi.runs)} ROI-level runs, atlas {atlas}")
    return 0


def _stats(args: argparse.Namespace) -> int:
    from dmnpharm.run import run_stats
    from dmnpharm.stats import ModelSpec

    spec = ModelSpec(
        within=args.within,
        contrast=args.contrast,
        between=args.between,
        between_contrast=args.between_contrast,
        covariates=tuple(args.covariate),
        test_covariate=args.test_covariate,
        trend=args.trend,
        block=args.block,
        subject=args.subject,
        incomplete="drop" if args.drop_incomplete else "refuse",
    )
    method = "mixed" if args.mixed else "normalization" if args.normalization else "permutation"
    result = run_stats(
        args.table,
        args.out,
        spec,
        args.permutations,
        args.perm_seed,
        overwrite=args.overwrite,
        method=method,
        groups=args.normalization,
    )
    if not args.quiet:
        shown = result.results[["measure", "contrast", "estimate", "statistic", "p_fwer"]]
        print(shown.to_string(index=False, float_format=lambda v: f"{v:.4g}"), file=sys.stderr)
    print(Path(args.out) / "results.tsv")
    return 0


def _power(args: argparse.Namespace) -> int:
    from dmnpharm.run import write_power
    from dmnpharm.simulate import power_analysis

    spec = _study_spec(argparse.Namespace(**{**vars(args), "subjects": None, "effect": None}))
    result = power_analysis(
        spec,
        args.subjects,
        args.studies,
        alpha=args.alpha,
        n_permutations=args.permutations,
        seed=args.seed,
        measure=args.measure,
        workers=args.workers,
    )
    outputs = write_power(result, args.out, overwrite=args.overwrite)
    if not args.quiet:
        shown = result.table[["n_subjects", "power", "power_ci_low", "power_ci_high"]]
        print(
            f"{spec.name}: {result.contrast.description} ({result.contrast.test})", file=sys.stderr
        )
        print(shown.to_string(index=False, float_format=lambda v: f"{v:.3f}"), file=sys.stderr)
    print(outputs.table)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``dmnpharm`` with the given arguments and return the exit code.

    Parameters
    ----------
    argv : sequence of str or None
        Arguments without the program name; None reads ``sys.argv``.

    Returns
    -------
    int
        0 on success, 1 for a dmnpharm error (the message names the file,
        row or value), 2 for a usage error, 3 when some runs failed (the
        others' results were written; see ``--allow-failures``).
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help, --version and usage errors
        return int(exc.code) if isinstance(exc.code, int) else 2
    handler = _configure_logging(args.verbose, args.quiet)
    try:
        return _dispatch(args)
    except RunFailuresError as exc:
        print(f"dmnpharm {args.command}: error: {exc}", file=sys.stderr)
        return RUN_FAILURES_EXIT
    except DmnpharmError as exc:
        print(f"dmnpharm {args.command}: error: {exc}", file=sys.stderr)
        return 1
    finally:
        logging.getLogger(LOGGER_NAME).removeHandler(handler)
