"""Write a simulated study as a BIDS-like ROI-level study folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from dmnpharm._utils import fill_doc, staged_output_dir
from dmnpharm.io import roi_run_path, write_roi_run, write_tsv
from dmnpharm.simulate._study import SimulatedStudy

__all__ = ["json_file", "session_table", "visible_participants", "write_simulated_study"]

#: Design columns written to the sessions files when the design has them.
_SESSION_COLUMNS = ("session_id", "condition", "dose_mg", "hours_since_dose", "treatment_weeks")
#: Participant columns that are ground truth, not observable data.
_HIDDEN = ("response", "planted_brain_change")


def json_file(path: Path, content: dict[str, Any]) -> Path:
    """Write a JSON file with sorted keys, creating its folder.

    Parameters
    ----------
    path : Path
        Destination.
    content : dict
        JSON-ready content.

    Returns
    -------
    Path
        ``path``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


@fill_doc
def write_simulated_study(
    study: SimulatedStudy, dest: str | Path, overwrite: bool = False
) -> Path:
    """Write a simulated study (ROI level) into a folder, atomically.

    Layout: ``participants.tsv``, ``sub-*/sub-*_sessions.tsv`` (``condition``,
    dose, time since dose, treatment weeks), and per run
    ``sub-*/ses-*/func/*_atlas-<A>_timeseries.tsv`` (one column per region) and
    ``*_desc-confounds_timeseries.tsv`` (fMRIPrep's column names), each with a
    JSON sidecar giving ``RepetitionTime``; ``ground_truth.json`` holds the spec,
    the planted effects and each run's population truth.

    Parameters
    ----------
    %(simulated_study)s
    dest : str or Path
        Output folder. Files are written to a hidden sibling first and moved
        into place at the end, so an interrupted write leaves nothing behind.
    %(overwrite)s

    Returns
    -------
    Path
        ``dest``.
    """
    with staged_output_dir(dest, overwrite=overwrite) as staging:
        _write(study, staging)
    return Path(dest)


@fill_doc
def visible_participants(study: SimulatedStudy) -> pd.DataFrame:
    """Return the participants table without its ground-truth columns.

    Parameters
    ----------
    %(simulated_study)s

    Returns
    -------
    pandas.DataFrame
        What ``participants.tsv`` holds.
    """
    return study.participants.drop(columns=[c for c in _HIDDEN if c in study.participants])


@fill_doc
def session_table(study: SimulatedStudy) -> list[tuple[str, pd.DataFrame]]:
    """Return each participant's sessions table.

    Parameters
    ----------
    %(simulated_study)s

    Returns
    -------
    list of (str, pandas.DataFrame)
        Participant label and the rows of its ``sub-*_sessions.tsv``.
    """
    sessions = study.sessions
    columns = [c for c in _SESSION_COLUMNS if c in sessions.columns]
    return [
        (str(pid), rows[columns]) for pid, rows in sessions.groupby("participant_id", sort=False)
    ]


@fill_doc
def write_raw_tables(study: SimulatedStudy, root: Path, name: str) -> None:
    """Write the raw BIDS design of a simulated image-level study.

    Parameters
    ----------
    %(simulated_study)s
    root : Path
        The study folder: ``participants.tsv``, a raw ``dataset_description.json``
        named ``name``, and each participant's ``sub-*_sessions.tsv``.
    name : str
        The dataset's name.

    Notes
    -----
    A ``.bidsignore`` names what a simulation adds that BIDS does not define
    (``ground_truth.json``, the ``atlas/`` folder), so the BIDS validator
    checks the rest.
    """
    (root / ".bidsignore").write_text("ground_truth.json\n/atlas\n", encoding="utf-8")
    write_tsv(visible_participants(study), root / "participants.tsv")
    json_file(
        root / "dataset_description.json",
        {"Name": name, "BIDSVersion": "1.9.0", "DatasetType": "raw"},
    )
    for pid, table in session_table(study):
        write_tsv(table, root / pid / f"{pid}_sessions.tsv")


def write_fmriprep_description(folder: Path, version: str, description: str) -> Path:
    """Write the ``dataset_description.json`` of simulated fMRIPrep-style derivatives.

    Parameters
    ----------
    folder : Path
        The derivatives folder.
    version : str
        The dmnpharm version that simulated it.
    description : str
        What the simulation is (``GeneratedBy[0].Description``).

    Returns
    -------
    Path
        The written file.
    """
    return json_file(
        folder / "dataset_description.json",
        {
            "Name": "simulated fMRIPrep-style derivatives",
            "BIDSVersion": "1.9.0",
            "DatasetType": "derivative",
            "GeneratedBy": [{"Name": "dmnpharm", "Version": version, "Description": description}],
        },
    )


def _write(study: SimulatedStudy, root: Path) -> None:
    spec = study.spec
    sig = spec.signal
    write_tsv(visible_participants(study), root / "participants.tsv")
    json_file(
        root / "dataset_description.json",
        {
            "Name": f"dmnpharm simulated study ({spec.name}, ROI level)",
            "BIDSVersion": "1.9.0",
            "DatasetType": "derivative",
            "GeneratedBy": [
                {"Name": "dmnpharm", "Version": study.ground_truth["dmnpharm_version"]}
            ],
        },
    )
    for pid, table in session_table(study):
        write_tsv(table, root / pid / f"{pid}_sessions.tsv")
    for run in study.runs:
        path = roi_run_path(root, run.participant_id, run.session_id, study.atlas.name)
        write_roi_run(
            path,
            run.data,
            study.atlas.labels,
            {
                "RepetitionTime": sig.repetition_time,
                "Atlas": study.atlas.name,
                "Space": study.atlas.space,
                "Description": "simulated region mean BOLD signal (not denoised)",
            },
        )
        stem = path.name.split("_atlas-")[0]
        confounds_path = path.parent / f"{stem}_desc-confounds_timeseries.tsv"
        write_tsv(_rounded(run.signals.confounds), confounds_path)
        json_file(
            confounds_path.with_suffix(".json"),
            {
                "RepetitionTime": sig.repetition_time,
                "Description": "simulated fMRIPrep confounds",
                **run.signals.confounds_meta,
            },
        )
    json_file(root / "ground_truth.json", _truth_with_subjects(study))


def _rounded(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.round(6)


def _truth_with_subjects(study: SimulatedStudy) -> dict[str, Any]:
    truth = dict(study.ground_truth)
    hidden = [c for c in ("participant_id", *_HIDDEN) if c in study.participants]
    truth["subjects"] = study.participants[hidden].to_dict(orient="records")
    return truth
