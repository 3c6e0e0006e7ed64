"""Write a simulated study as a BIDS-like ROI-level study folder."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from dmnpharm._utils import staged_output_dir
from dmnpharm.io import roi_run_path, write_roi_run, write_tsv
from dmnpharm.simulate._crossover import SimulatedStudy

__all__ = ["write_simulated_study"]


def write_simulated_study(
    study: SimulatedStudy, dest: str | Path, overwrite: bool = False
) -> Path:
    """Write a simulated study into a folder, atomically.

    Parameters
    ----------
    study : SimulatedStudy
        From :func:`dmnpharm.simulate.simulate_crossover`.
    dest : str or Path
        Output folder. Files are written to a hidden sibling first and moved
        into place at the end, so an interrupted write leaves nothing behind.
    overwrite : bool
        Replace ``dest`` if it exists and is not empty.

    Returns
    -------
    Path
        ``dest``.
    """
    with staged_output_dir(dest, overwrite=overwrite) as staging:
        _write(study, staging)
    return Path(dest)


def _write(study: SimulatedStudy, root: Path) -> None:
    spec = study.spec
    subjects = study.ground_truth["subjects"]
    write_tsv(
        pd.DataFrame(
            {
                "participant_id": [s["participant_id"] for s in subjects],
                "sequence": [s["sequence"] for s in subjects],
            }
        ),
        root / "participants.tsv",
    )
    (root / "dataset_description.json").write_text(
        json.dumps(
            {
                "Name": "dmnpharm simulated placebo/drug crossover (ROI level)",
                "BIDSVersion": "1.9.0",
                "DatasetType": "derivative",
                "GeneratedBy": [
                    {"Name": "dmnpharm", "Version": study.ground_truth["dmnpharm_version"]}
                ],
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    sessions: dict[str, list[dict[str, str]]] = {}
    for run in study.runs:
        sessions.setdefault(run.participant_id, []).append(
            {"session_id": run.session_id, "condition": run.condition}
        )
        write_roi_run(
            roi_run_path(root, run.participant_id, run.session_id, spec.atlas),
            run.data,
            study.atlas.labels,
            {
                "RepetitionTime": spec.repetition_time,
                "Atlas": spec.atlas,
                "Space": study.atlas.space,
                "Description": "simulated region mean BOLD signal (not denoised)",
            },
        )
    for pid, rows in sessions.items():
        write_tsv(pd.DataFrame(rows), root / pid / f"{pid}_sessions.tsv")
    (root / "ground_truth.json").write_text(
        json.dumps(study.ground_truth, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
