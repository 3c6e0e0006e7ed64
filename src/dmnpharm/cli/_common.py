"""Options shared by several commands, and their translation into the public objects."""

from __future__ import annotations

import argparse
import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from dmnpharm.config import (
    CLUSTERS,
    SCHEDULER_ENV,
    AnalysisConfig,
    Execution,
    Inference,
    between_model,
    paired_model,
)
from dmnpharm.exceptions import InputError, UsageError
from dmnpharm.metrics import ESTIMATORS, BundleConfig
from dmnpharm.signal import DEFAULT_DENOISE, RECOMMENDED, DenoiseConfig

if TYPE_CHECKING:
    from dmnpharm.stats import ModelSpec

__all__ = [
    "DeprecatedAlias",
    "add_common",
    "add_denoise",
    "add_execution",
    "add_seed",
    "add_verbosity",
    "analysis_config",
    "contrast",
    "log_level",
    "positive_int",
]

_LOG = logging.getLogger("dmnpharm.cli")


def contrast(text: str) -> tuple[str, str]:
    """Parse ``A-B`` into two condition labels.

    Parameters
    ----------
    text : str
        The option's value.

    Returns
    -------
    tuple of str
        ``(A, B)``.
    """
    parts = text.split("-")
    if len(parts) != 2 or not all(p.strip() for p in parts):
        raise argparse.ArgumentTypeError(
            f"contrast {text!r} must be two condition labels joined by '-', e.g. drug-placebo"
        )
    return parts[0].strip(), parts[1].strip()


def positive_int(text: str) -> int:
    """Parse a positive integer.

    Parameters
    ----------
    text : str
        The option's value.

    Returns
    -------
    int
        At least 1.
    """
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


class DeprecatedAlias(argparse.Action):
    """An old option name that still works, stores into the new one, and warns once used."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        self.new_name = kwargs.pop("new_name")
        kwargs.setdefault("help", argparse.SUPPRESS)
        super().__init__(option_strings, dest, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,  # noqa: ARG002 (argparse's Action interface)
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        """Store the value under the new option's name and note the deprecation."""
        setattr(namespace, self.dest, values)
        notes = list(getattr(namespace, "deprecations", []))
        notes.append(f"{option_string} is deprecated and will be removed; use {self.new_name}")
        namespace.deprecations = notes


def add_common(sub: argparse.ArgumentParser) -> None:
    """Add ``--overwrite`` (for a command that writes ``--out``), ``-v`` and ``-q``.

    Parameters
    ----------
    sub : argparse.ArgumentParser
        A command's parser.
    """
    sub.add_argument("--overwrite", action="store_true", help="replace a non-empty --out folder")
    add_verbosity(sub)


def add_verbosity(sub: argparse.ArgumentParser) -> None:
    """Add ``-v``/``--verbose`` and ``-q``/``--quiet`` (which also hides progress bars).

    Parameters
    ----------
    sub : argparse.ArgumentParser
        A command's parser.
    """
    sub.add_argument("-v", "--verbose", action="store_true", help="log debugging detail")
    sub.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="log warnings and errors only, and draw no progress bars",
    )


def add_seed(sub: argparse.ArgumentParser, help_text: str, dest: str = "seed") -> None:
    """Add ``--seed`` and its deprecated alias ``--perm-seed``.

    Parameters
    ----------
    sub : argparse.ArgumentParser
        A command's parser.
    help_text : str
        What the seed seeds.
    dest : str
        Attribute the value is stored in.
    """
    sub.add_argument("--seed", dest=dest, type=int, default=None, help=help_text)
    sub.add_argument("--perm-seed", dest=dest, type=int, action=DeprecatedAlias, new_name="--seed")


def add_denoise(sub: argparse.ArgumentParser) -> None:
    """Add the confound strategy, censoring, filtering and per-run measure options.

    Parameters
    ----------
    sub : argparse.ArgumentParser
        A command's parser.
    """
    default = DEFAULT_DENOISE
    sub.add_argument(
        "--strategy",
        default=default.strategy,
        help="confound strategy: none, 6p, 24p, 36p, acompcor, aroma, each optionally +gsr "
        f"(default {default.strategy}, with censoring at FD > {default.fd_threshold:g} mm or "
        f"std-DVARS > {default.std_dvars_threshold:g} and a {default.high_pass:g}-"
        f"{default.low_pass:g} Hz band-pass: Ciric et al. 2017, Parkes et al. 2018). Every "
        "strategy but 'none' gets that censoring and filter unless the options below change "
        "them; 'none' uses the signals as provided",
    )
    for flag, unit, kind in _DENOISE_OPTIONS:
        name = flag.removeprefix("--").replace("-", "_")
        recommended = RECOMMENDED[name]
        sub.add_argument(
            flag,
            type=kind,
            default=None,
            help=f"{unit} (default {recommended:g} with a strategy, off with 'none'; "
            "'off' turns it off)",
        )
    sub.add_argument(
        "--allow-failures",
        action="store_true",
        help="analyse the study without runs that fail while computing (listed in the results, "
        "report and provenance); without it such runs stop the analysis before any group result",
    )
    sub.add_argument(
        "--estimator",
        default=BundleConfig().estimator,
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
        default=AnalysisConfig().population,
        help="catalog population for --drug: healthy, patients, or a population id",
    )
    sub.add_argument(
        "--receptors",
        default=None,
        help="receptor maps (hansen_receptors folder, TSV, pscalar or NIfTI folder): with "
        "--drug AGENT, also predict the drug's effect from its targets (OUT/predict/)",
    )
    sub.add_argument(
        "--no-gsr-sensitivity",
        action="store_true",
        help="do not repeat the analysis with global signal regression toggled",
    )


def add_execution(sub: argparse.ArgumentParser) -> None:
    """Add where per-run work runs and is cached.

    Parameters
    ----------
    sub : argparse.ArgumentParser
        A command's parser.
    """
    group = sub.add_argument_group("execution (changes where runs are computed, not results)")
    group.add_argument(
        "--scheduler",
        default=None,
        help="local (this machine: one worker process per core forked from this one on "
        "Linux; elsewhere threads for a small study and a local Dask cluster for a larger "
        "one; the default), threads (a pool of threads in this "
        "process), synchronous (in this process, one run after another), or the address "
        f"of a running Dask scheduler, e.g. tcp://host:8786 (default: ${SCHEDULER_ENV} or "
        "local)",
    )
    group.add_argument(
        "--cluster",
        default=None,
        choices=CLUSTERS,
        help="start Dask workers as batch jobs through dask-jobqueue, configured by "
        "~/.config/dask/jobqueue.yaml",
    )
    group.add_argument(
        "--workers",
        type=positive_int,
        default=None,
        help="worker processes (or batch jobs; threads with --scheduler threads)",
    )
    group.add_argument(
        "--memory-limit",
        default=None,
        help="memory per worker, e.g. 4GiB; locally it starts a Dask cluster that enforces it "
        "(default: no limit on forked workers, shared on a cluster)",
    )
    group.add_argument(
        "--cache",
        default=None,
        help="per-run result cache folder (default: $DMNPHARM_CACHE or ~/.cache/dmnpharm)",
    )
    group.add_argument(
        "--no-cache", action="store_true", help="neither reuse nor store per-run results"
    )
    group.add_argument(
        "--no-shared-filesystem",
        action="store_true",
        help="the workers cannot write the output and cache folders (a cluster without a "
        "shared file system): every run's results travel to this process, which writes them",
    )


def _off_or(kind: type) -> Any:
    """Return an argparse type: a number of ``kind``, or ``off``/``none`` for off."""

    def parse(text: str) -> Any:
        if text.strip().lower() in {"off", "none"}:
            return _OFF
        try:
            return kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not a number (or 'off')") from None

    parse.__name__ = kind.__name__
    return parse


#: What an option set to ``off`` gives the configuration.
_OFF = object()

#: The censoring and filter options: flag, what it is, its parser.
_DENOISE_OPTIONS = (
    (
        "--fd-threshold",
        "censor volumes with framewise displacement above this (mm)",
        _off_or(float),
    ),
    ("--std-dvars-threshold", "censor volumes with standardised DVARS above this", _off_or(float)),
    ("--min-segment", "also censor runs of fewer kept volumes in a row", _off_or(int)),
    (
        "--min-remaining",
        "exclude runs keeping fewer volumes (a fraction if <= 1, else a count)",
        _off_or(float),
    ),
    ("--high-pass", "high-pass cut-off (Hz)", _off_or(float)),
    ("--low-pass", "low-pass cut-off (Hz)", _off_or(float)),
)


def _denoise(args: argparse.Namespace) -> DenoiseConfig:
    """Return the strategy, with the recommended censoring and filter unless it is ``none``."""
    base = dict(RECOMMENDED) if args.strategy != "none" else {}
    values: dict[str, Any] = {}
    for name in RECOMMENDED:
        given = getattr(args, name)
        value = base.get(name) if given is None else given
        values[name] = None if value is _OFF else value
    remaining = values["min_remaining"]
    if remaining is not None and remaining > 1:
        values["min_remaining"] = int(remaining)
    values["min_segment"] = values["min_segment"] or 0
    return DenoiseConfig(args.strategy, **values)


def _execution(args: argparse.Namespace) -> Execution:
    return Execution(
        scheduler=args.scheduler,
        cluster=args.cluster,
        workers=args.workers,
        memory_limit=args.memory_limit,
        cache_dir=args.cache,
        cache=not args.no_cache,
        worker_files=not getattr(args, "no_shared_filesystem", False),
    )


def analysis_config(args: argparse.Namespace, seed: int) -> AnalysisConfig:
    """Translate the options of ``run``, ``demo`` and ``validate`` into an :class:`AnalysisConfig`.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed options (see ``_model_options.add_analysis``, :func:`add_denoise`,
        :func:`add_execution`).
    seed : int
        The permutation seed.

    Returns
    -------
    AnalysisConfig
        Validated.

    Raises
    ------
    UsageError
        An option value is wrong (exit status 2): the message names it.
    """
    try:
        config = _analysis_config(args, seed)
    except InputError as exc:
        raise UsageError(str(exc)) from None
    from dmnpharm.cli._atlas import atlas_option

    atlas = atlas_option(args)
    return config if atlas is None else config.replace(atlas=atlas)


def _model(args: argparse.Namespace) -> ModelSpec:
    """Return the group model of the options (``demo`` has no between-subject ones)."""
    covariates = tuple(getattr(args, "covariate", ()))
    block = getattr(args, "block", None)
    levels = getattr(args, "between_contrast", None)
    between = tuple(levels) if levels else None
    if getattr(args, "between", None) is not None:
        model = between_model(args.between, between, covariates, block)
        if getattr(args, "motion_covariate", False):  # refused by AnalysisConfig, by name
            model = replace(model, run_covariates=("mean_fd",))
        return model
    if between or covariates or block:
        # Refused by AnalysisConfig with a message naming --between.
        return replace(
            paired_model(args.contrast),
            between_contrast=between,
            covariates=covariates,
            block=block,
        )
    incomplete = "drop" if getattr(args, "drop_incomplete", False) else "refuse"
    motion = ("mean_fd",) if getattr(args, "motion_covariate", False) else ()
    return paired_model(args.contrast, incomplete, motion)


def _analysis_config(args: argparse.Namespace, seed: int) -> AnalysisConfig:
    model = _model(args)
    return AnalysisConfig(
        space=getattr(args, "space", AnalysisConfig().space),
        radius_mm=(
            AnalysisConfig().radius_mm
            if getattr(args, "radius", None) is None
            else float(args.radius)
        ),
        denoise=_denoise(args),
        bundle=BundleConfig(estimator=args.estimator),
        model=model,
        inference=Inference(n_permutations=args.permutations, seed=seed),
        gsr_sensitivity=not args.no_gsr_sensitivity,
        voxel_maps=getattr(args, "voxel_maps", False),
        drug=args.drug,
        population=args.population,
        receptors=getattr(args, "receptors", None),
        allow_failures=args.allow_failures,
        execution=_execution(args) if hasattr(args, "scheduler") else Execution(),
    )


def log_level(args: argparse.Namespace) -> int:
    """Return the level of the records written to ``OUT/dmnpharm.log``.

    Parameters
    ----------
    args : argparse.Namespace
        With ``verbose``.

    Returns
    -------
    int
        DEBUG with ``-v``, else INFO.
    """
    return logging.DEBUG if args.verbose else logging.INFO
