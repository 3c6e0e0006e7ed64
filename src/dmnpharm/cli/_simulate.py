"""``dmnpharm simulate``: write a simulated study with planted effects."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from dmnpharm.atlases import is_atlas_path
from dmnpharm.cli._atlas import add_atlas_options
from dmnpharm.cli._common import DeprecatedAlias, add_common, positive_int
from dmnpharm.cli._progress import step
from dmnpharm.exceptions import InputError, UsageError
from dmnpharm.simulate import Effect, StudySpec, load_preset, preset_names, spec_from_dict

__all__ = ["add_overrides", "add_parser", "add_source", "command", "study_spec"]


def add_source(sub: argparse.ArgumentParser) -> None:
    """Add ``--preset`` or ``--spec``: the simulated study's specification.

    Parameters
    ----------
    sub : argparse.ArgumentParser
        A command's parser.
    """
    source = sub.add_mutually_exclusive_group()
    source.add_argument(
        "--preset",
        default=None,
        help=f"named study (default demo-crossover): {', '.join(preset_names())}",
    )
    source.add_argument("--spec", default=None, help="JSON file holding a StudySpec")


def add_overrides(
    sub: argparse.ArgumentParser, seed_help: str = "simulation seed (default 0)"
) -> None:
    """Add ``--subjects``, ``--effect`` and ``--seed`` (overriding the preset's).

    Parameters
    ----------
    sub : argparse.ArgumentParser
        A command's parser.
    seed_help : str
        What ``--seed`` seeds in this command.
    """
    sub.add_argument(
        "--subjects", type=positive_int, default=None, help="subjects (default: the preset's)"
    )
    sub.add_argument(
        "--effect",
        type=float,
        default=None,
        help="replace the drug effects by a decrease of within-DMN FC of this size (Fisher z)",
    )
    sub.add_argument("--seed", type=int, default=None, help=seed_help)


def _read_spec(path: Path) -> StudySpec:
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read spec file '{path}': {exc}") from None
    return spec_from_dict(data.get("spec", data) if isinstance(data, dict) else data)


def study_spec(args: argparse.Namespace, **overrides: Any) -> StudySpec:
    """Return the simulated study the options describe.

    Parameters
    ----------
    args : argparse.Namespace
        ``preset`` or ``spec``, and optionally ``subjects``, ``effect``,
        ``seed``, ``volumes``, ``repetition_time``, ``atlas``.
    **overrides
        Values that replace those of ``args`` (e.g. ``subjects=None``).

    Returns
    -------
    StudySpec
        The preset or file, with the overrides applied.
    """
    given = {**vars(args), **overrides}
    path = given.get("spec")
    spec = _read_spec(Path(path)) if path else load_preset(given.get("preset") or "demo-crossover")
    if given.get("subjects") is not None:
        spec = replace(spec, design=replace(spec.design, n_subjects=given["subjects"]))
    if given.get("effect") is not None:
        spec = replace(spec, effects=(Effect("within_fc", -given["effect"], "DMN"),))
    if given.get("seed") is not None:
        spec = replace(spec, seed=given["seed"])
    signal = spec.signal
    if given.get("volumes") is not None:
        signal = replace(signal, n_volumes=given["volumes"])
    if given.get("repetition_time") is not None:
        signal = replace(signal, repetition_time=given["repetition_time"])
    if given.get("atlas") is not None:
        atlas = str(given["atlas"])
        # Absolute, so that worker processes find the file wherever they start.
        atlas = str(Path(atlas).resolve()) if is_atlas_path(atlas) else atlas
        signal = replace(signal, atlas=atlas, atlas_network_map="")
    if given.get("network_map") is not None:
        signal = replace(signal, atlas_network_map=str(Path(given["network_map"]).resolve()))
    return replace(spec, signal=signal)


def add_parser(subs: Any) -> None:
    """Add the ``simulate`` command.

    Parameters
    ----------
    subs : argparse._SubParsersAction
        The subcommands of ``dmnpharm``.
    """
    sim = subs.add_parser(
        "simulate",
        help="write a simulated study with planted effects (ROI level, voxel images, CIFTI "
        "or XCP-D outputs)",
        description="Write a simulated study with planted effects and its ground truth "
        "(ground_truth.json), at the --level that dmnpharm run reads: region time series "
        "(roi, the default), fMRIPrep-style 2 mm MNI images (voxel), fMRIPrep-style fsLR "
        "grayordinates (cifti) or XCP-D's denoised parcellated outputs (xcpd).",
    )
    sim.add_argument("--out", required=True, help="study folder to write")
    add_source(sim)
    add_overrides(sim)
    sim.add_argument(
        "--volumes",
        type=positive_int,
        default=None,
        help="volumes per run (default: the preset's)",
    )
    sim.add_argument(
        "--repetition-time",
        dest="repetition_time",
        type=float,
        default=None,
        help="repetition time in seconds (default: the preset's)",
    )
    sim.add_argument(
        "--tr",
        dest="repetition_time",
        type=float,
        action=DeprecatedAlias,
        new_name="--repetition-time",
    )
    add_atlas_options(
        sim, "default: the preset's; at voxel level coordinates get 5 mm spheres", spheres=False
    )
    sim.add_argument(
        "--level",
        choices=("roi", "voxel", "cifti", "xcpd"),
        default="roi",
        help="roi: region time series; voxel: 2 mm MNI images in fMRIPrep's layout; cifti: "
        "fsLR grayordinates (dtseries) in fMRIPrep's layout with the atlas as a dlabel; "
        "xcpd: XCP-D's denoised parcellated outputs",
    )
    sim.add_argument(
        "--acquisitions",
        nargs="+",
        default=(),
        metavar="LABEL",
        help="voxel level: write each run once per acquisition (acq-<LABEL>); the planted "
        "effects are in the first, the others carry shuffled regions",
    )
    add_common(sim)


def command(args: argparse.Namespace) -> int:
    """Write the study; print its folder.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed options.

    Returns
    -------
    int
        0.
    """
    from dmnpharm import simulate

    if args.acquisitions and args.level != "voxel":
        raise UsageError("--acquisitions applies to --level voxel")
    spec = study_spec(args)
    with step(f"simulating {spec.name} (seed {spec.seed})"):
        study = simulate.simulate_study(spec)
    writers: dict[str, Callable[..., Path]] = {
        "roi": simulate.write_simulated_study,
        "voxel": simulate.write_voxel_study,
        "cifti": simulate.write_cifti_study,
        "xcpd": simulate.write_xcpd_study,
    }
    options = {"acquisitions": tuple(args.acquisitions)} if args.level == "voxel" else {}
    copies = max(1, len(args.acquisitions))
    if args.level == "voxel":  # the writer draws a bar of its runs (seconds each)
        written = writers[args.level](study, args.out, overwrite=args.overwrite, **options)
    else:
        with step(f"writing {len(study.runs) * copies} runs at {args.level} level to {args.out}"):
            written = writers[args.level](study, args.out, overwrite=args.overwrite, **options)
    print(written)
    return 0
