"""Write a simulated study as a raw BIDS folder with XCP-D derivatives.

The region signals are written as XCP-D writes its parcellated time series: already
denoised. They are each run's BOLD part (``run.signals.bold``: no thermal noise, drift or
motion artefact), so what dmnpharm reads back is what the population model describes. The
layout follows :mod:`dmnpharm.io._xcpd` (which names its sources): XCP-D 0.7 to 0.14 name the
atlas with ``seg-`` and keep their atlas tables under ``atlases/atlas-<A>/``, 26.0 and later
with ``atlas-`` and under ``sourcedata/atlases/tpl-<space>/``.

Censoring: volumes whose framewise displacement exceeds ``fd_threshold`` are outliers. XCP-D's
default threshold depends on its mode (0.8+): ``linc`` 0 (no censoring, series censored when a
threshold is set), ``abcd``/``hbcd`` 0.3 mm (series interpolated); before 0.8 it was 0.3 mm and
series were always censored. The writer takes the threshold explicitly (default 0.5 mm, as
``--fd-thresh 0.5``) and ``output_type`` (XCP-D 0.11+'s ``--output-type``; in 0.8-0.10 the
mode: ``linc`` censored, ``abcd``/``hbcd`` interpolated). Interpolated volumes are linear
between their neighbours (XCP-D: cubic spline), the first and last ones copy the nearest kept
volume, as XCP-D does. Images are not simulated: the denoised BOLD is written as its JSON
sidecar only (it carries ``RepetitionTime``), the atlas as its table only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from dmnpharm._utils import check_option, closest_match, fill_doc, staged_output_dir
from dmnpharm.exceptions import InputError
from dmnpharm.io import bids_label, write_tsv, xcpd_naming
from dmnpharm.simulate._study import SimulatedRun, SimulatedStudy
from dmnpharm.simulate._write import (
    json_file,
    text_file,
    write_raw_tables,
)

__all__ = ["XCPD_OUTPUT_TYPES", "XCPD_SPACE", "write_xcpd_study"]

#: Output space of the written runs (fMRIPrep's default, as XCP-D keeps it).
XCPD_SPACE = "MNI152NLin2009cAsym"
#: XCP-D's ``--output-type`` values.
XCPD_OUTPUT_TYPES = ("censored", "interpolated")
_NAME = "XCP-D: A Robust Postprocessing Pipeline of fMRI data"
#: What the BIDS validator does not know in XCP-D's outputs (BEP017 files, XCP-D's
#: tables), and the denoised BOLD sidecars written without images; the atlas folder
#: (``/atlases`` or ``/sourcedata``) is added by version.
_IGNORED = (
    "# BEP017 and XCP-D files BIDS does not define yet.",
    "*_timeseries.tsv",
    "*_timeseries.json",
    "*_relmat.tsv",
    "*_relmat.json",
    "*_stat-coverage_bold.tsv",
    "*_stat-coverage_bold.json",
    "*_motion.tsv",
    "*_motion.json",
    "*_outliers.tsv",
    "*_outliers.json",
    "# Simulation: the denoised BOLD is written as its sidecar only (no image).",
    "*_desc-denoised_bold.json",
)
_HIDDEN = ("response", "planted_brain_change")


@fill_doc
def write_xcpd_study(
    study: SimulatedStudy,
    dest: str | Path,
    *,
    xcpd_version: str = "0.10.6",
    output_type: str = "censored",
    fd_threshold: float = 0.5,
    low_coverage: Sequence[str] = (),
    overwrite: bool = False,
) -> Path:
    """Write a simulated study as raw BIDS tables plus XCP-D derivatives, atomically.

    Layout: ``participants.tsv``, ``sub-*/sub-*_sessions.tsv``, ``dataset_description.json``,
    ``.bidsignore`` and ``ground_truth.json`` at the top; under
    ``derivatives/xcp_d/``: ``dataset_description.json`` (``GeneratedBy`` xcp_d and the
    version), a README and a ``.bidsignore`` (what the BIDS validator does not know), the
    atlas table, and per run ``*_motion.tsv``, ``*_outliers.tsv`` (when
    ``fd_threshold`` > 0), ``*_space-<S>_res-2_desc-denoised_bold.json`` and the
    ``*_space-<S>_seg-<A>_stat-mean_timeseries.tsv`` (``atlas-<A>`` from 26.0),
    ``..._stat-coverage_bold.tsv`` and ``..._stat-pearsoncorrelation_relmat.tsv`` with
    their JSON sidecars.

    Parameters
    ----------
    %(simulated_study)s
    dest : str or Path
        Output folder, written through a hidden staging folder and renamed into place.
    xcpd_version : str
        XCP-D version whose layout is written (0.7 or later).
    output_type : str
        ``"censored"`` (outlier volumes removed) or ``"interpolated"`` (kept, with
        interpolated values; XCP-D 0.8 or later).
    fd_threshold : float
        Framewise displacement (mm) above which a volume is an outlier; 0 disables censoring
        (no outliers file, as XCP-D).
    low_coverage : sequence of str
        Region labels written as ``n/a`` with coverage 0.25, as XCP-D writes parcels under its
        ``--min-coverage``.
    %(overwrite)s

    Returns
    -------
    Path
        ``dest``.

    Raises
    ------
    InputError
        For a version before 0.7, an unknown output type, interpolation before 0.8, a
        negative threshold, an unknown region label, or a run left with under 2 volumes.
    """
    release = re.match(r"^v?(\d+)\.(\d+)", xcpd_version.strip())
    naming = xcpd_naming(xcpd_version)
    if naming == "atlas" or release is None:
        raise InputError(
            f"xcpd_version {xcpd_version!r}: only the layouts of XCP-D 0.7 and later are "
            "written (earlier versions named files _atlas-<A>_timeseries.tsv)"
        )
    check_option("output_type", output_type, XCPD_OUTPUT_TYPES)
    if output_type == "interpolated" and (int(release[1]), int(release[2])) < (0, 8):
        raise InputError(f"XCP-D {xcpd_version} wrote censored time series only; use 0.8 or later")
    if not fd_threshold >= 0:
        raise InputError(f"fd_threshold must be 0 (no censoring) or more mm; got {fd_threshold}")
    for label in low_coverage:
        if label not in study.atlas.labels:
            hint = closest_match(label, study.atlas.labels)
            raise InputError(
                f"low_coverage region {label!r} is not in atlas {study.atlas.name!r}"
                + (f"; did you mean '{hint}'?" if hint else "")
            )
    options = {
        "xcpd_version": xcpd_version,
        "naming": naming,
        "output_type": output_type,
        "fd_threshold": fd_threshold,
        "low_coverage": list(low_coverage),
    }
    with staged_output_dir(dest, overwrite=overwrite) as root:
        _write(study, root, options)
    return Path(dest)


def _atlas_label(study: SimulatedStudy) -> str:
    return bids_label(study.atlas.name)


def _write(study: SimulatedStudy, root: Path, options: dict[str, Any]) -> None:
    write_raw_tables(study, root, f"dmnpharm simulated study ({study.spec.name})")
    xcpd = root / "derivatives" / "xcp_d"
    _write_description(study, xcpd, options)
    _write_atlas(study, xcpd, options["naming"])
    outliers = {}
    for run in study.runs:
        flagged = _write_run(study, run, xcpd, options)
        outliers[f"{run.participant_id}/{run.session_id}"] = np.flatnonzero(flagged).tolist()
    truth = dict(study.ground_truth)
    hidden = [c for c in ("participant_id", *_HIDDEN) if c in study.participants]
    truth["subjects"] = study.participants[hidden].to_dict(orient="records")
    truth["xcpd_layout"] = {
        **{k: v for k, v in options.items() if k != "naming"},
        "atlas": _atlas_label(study),
        "space": XCPD_SPACE,
        "signal": "run.signals.bold: the BOLD part alone, as if perfectly denoised",
        "outlier_volumes": outliers,
    }
    json_file(root / "ground_truth.json", truth)


def _write_description(study: SimulatedStudy, xcpd: Path, options: dict[str, Any]) -> None:
    version = options["xcpd_version"]
    atlases = "atlases" if options["naming"] == "seg" else "sourcedata/atlases"
    text_file(xcpd / ".bidsignore", "\n".join((*_IGNORED, f"/{atlases.split('/')[0]}")) + "\n")
    text_file(
        xcpd / "README.md",
        f"# Simulated XCP-D {version} outputs\n\nWritten by dmnpharm "
        f"{study.ground_truth['dmnpharm_version']} (`dmnpharm simulate --level xcpd`): "
        "denoised parcellated time series, connectivity matrices, coverage, motion and "
        "outliers in XCP-D's file names, from synthetic signals with planted effects (see "
        "../../ground_truth.json). Not data about people.\n",
    )
    generated = [
        {
            "Name": "xcp_d",
            "Version": version,
            "CodeURL": f"https://github.com/PennLINC/xcp_d/archive/{version}.tar.gz",
        },
        {
            "Name": "dmnpharm",
            "Version": study.ground_truth["dmnpharm_version"],
            "Description": "simulated study written in XCP-D's output layout",
        },
    ]
    json_file(
        xcpd / "dataset_description.json",
        {
            "Name": _NAME,
            "BIDSVersion": "1.9.0",
            "DatasetType": "derivative",
            "GeneratedBy": generated,
            "HowToAcknowledge": "Include the generated boilerplate in the methods section.",
            "DatasetLinks": {"preprocessed": "../fmriprep", "atlases": atlases},
        },
    )


def _write_atlas(study: SimulatedStudy, xcpd: Path, naming: str) -> None:
    atlas, label = study.atlas, _atlas_label(study)
    values = atlas.label_values or tuple(range(1, atlas.n_regions + 1))
    name_column = "label" if naming == "seg" else "name"
    table = pd.DataFrame(
        {"index": values, name_column: atlas.labels, "network_label": atlas.source_networks}
    )
    if naming == "seg":
        folder, stem = xcpd / "atlases", f"atlas-{label}/atlas-{label}"
    else:
        folder, stem = (
            xcpd / "sourcedata" / "atlases",
            f"tpl-{XCPD_SPACE}/tpl-{XCPD_SPACE}_atlas-{label}",
        )
    json_file(
        folder / "dataset_description.json",
        {"Name": "Atlases used by XCP-D", "BIDSVersion": "1.9.0", "DatasetType": "atlas"},
    )
    write_tsv(table, folder / f"{stem}_dseg.tsv")


def _interpolate(data: npt.NDArray[np.float64], flagged: npt.NDArray[np.bool_]) -> Any:
    """Fill the flagged rows linearly from the kept ones; the ends copy the nearest kept row."""
    filled = data.copy()
    kept = np.flatnonzero(~flagged)
    for col in range(data.shape[1]):
        filled[flagged, col] = np.interp(np.flatnonzero(flagged), kept, data[kept, col])
    return filled


def _motion(run: SimulatedRun) -> pd.DataFrame:
    confounds = run.signals.confounds
    columns = [f"{k}_{a}" for k in ("trans", "rot") for a in "xyz"]
    motion = confounds[[c for c in columns if c in confounds]].copy()
    # XCP-D's own FD has 0 for the first volume where fMRIPrep's is n/a.
    motion["framewise_displacement"] = confounds["framewise_displacement"].fillna(0.0)
    return motion.round(6)


def _write_run(
    study: SimulatedStudy, run: SimulatedRun, xcpd: Path, options: dict[str, Any]
) -> npt.NDArray[np.bool_]:
    """Write one run's files; return its outlier volumes."""
    func = xcpd / run.participant_id / run.session_id / "func"
    stem = f"{run.participant_id}_{run.session_id}_task-rest"
    entity = "seg" if options["naming"] == "seg" else "atlas"
    parcel = f"{stem}_space-{XCPD_SPACE}_{entity}-{_atlas_label(study)}"
    motion = _motion(run)
    fd, threshold = motion["framewise_displacement"].to_numpy(), options["fd_threshold"]
    flagged = fd > threshold if threshold > 0 else np.zeros(fd.size, dtype=bool)
    if np.count_nonzero(~flagged) < 2:
        raise InputError(
            f"{run.participant_id} {run.session_id}: fd_threshold {threshold} mm leaves "
            f"{np.count_nonzero(~flagged)} volume(s); raise it"
        )
    write_tsv(motion, func / f"{stem}_motion.tsv")
    json_file(
        func / f"{stem}_motion.json",
        {"framewise_displacement": {"Description": "Power et al. (2012)", "Units": "mm"}},
    )
    if threshold > 0:
        write_tsv(
            pd.DataFrame({"framewise_displacement": flagged.astype(int)}),
            func / f"{stem}_outliers.tsv",
        )
        levels = {"0": "Non-outlier volume", "1": "Outlier volume"}
        json_file(
            func / f"{stem}_outliers.json",
            {
                "Threshold": threshold,
                "framewise_displacement": {
                    "Description": "Outlier time series based on framewise displacement.",
                    "Levels": levels,
                    "Threshold": threshold,
                },
            },
        )
    denoised = f"{stem}_space-{XCPD_SPACE}_res-2_desc-denoised_bold"
    json_file(
        func / f"{denoised}.json",
        {
            "RepetitionTime": study.spec.signal.repetition_time,
            "TaskName": "rest",
            "NuisanceParameters": "simulated: the region signals carry no nuisance",
            "Sources": [f"bids:preprocessed:{run.participant_id}/{run.session_id}/func"],
        },
    )
    _write_parcellated(study, run, func / parcel, flagged, options)
    return flagged


def _write_parcellated(
    study: SimulatedStudy,
    run: SimulatedRun,
    base: Path,
    flagged: npt.NDArray[np.bool_],
    options: dict[str, Any],
) -> None:
    labels = list(study.atlas.labels)
    data = pd.DataFrame(run.signals.bold, columns=labels)
    data[options["low_coverage"]] = np.nan
    coverage = pd.Series(1.0, index=pd.Index(labels, name="Node"), name="coverage")
    coverage[options["low_coverage"]] = 0.25
    kept = data.loc[~flagged].reset_index(drop=True)
    if options["output_type"] == "interpolated" and flagged.any():
        series = pd.DataFrame(_interpolate(data.to_numpy(), flagged), columns=labels)
    else:
        series = kept
    sources = {"Sources": [f"bids:xcp_d:{base.name}_stat-coverage_bold.tsv"]}
    write_tsv(series, Path(f"{base}_stat-mean_timeseries.tsv"))
    json_file(Path(f"{base}_stat-mean_timeseries.json"), {"SamplingFrequency": "TR"} | sources)
    coverage.to_frame().to_csv(f"{base}_stat-coverage_bold.tsv", sep="\t", lineterminator="\n")
    json_file(Path(f"{base}_stat-coverage_bold.json"), {"Sources": []})
    kept.corr().rename_axis("Node").to_csv(
        f"{base}_stat-pearsoncorrelation_relmat.tsv", sep="\t", na_rep="n/a", lineterminator="\n"
    )
    json_file(
        Path(f"{base}_stat-pearsoncorrelation_relmat.json"),
        {
            "RelationshipMeasure": "Pearson correlation coefficient",
            "Weighted": True,
            "Directed": False,
            "ValidDiagonal": True,
            "StorageFormat": "Full",
            "NodeFiles": [],
        }
        | sources,
    )
