"""Reading and writing study folders: BIDS/fMRIPrep discovery, design tables, time series.

The ROI-level study format is BIDS-like::

    participants.tsv                      participant_id, ...
    sub-<p>/sub-<p>_sessions.tsv          session_id, condition, ...
    sub-<p>/ses-<s>/func/sub-<p>_ses-<s>_task-rest[_run-<r>]_atlas-<A>_timeseries.tsv
    sub-<p>/ses-<s>/func/...timeseries.json   {"RepetitionTime": ..., "Atlas": ...}

Each time-series file has a header of region labels and one row per volume.
"""

from dmnpharm.io._bids import DEFAULT_SPACE, BidsStudy, BoldRun, discover_study
from dmnpharm.io._roi_study import (
    RoiRun,
    RoiStudy,
    load_roi_study,
    read_study_atlas_name,
)
from dmnpharm.io._roi_write import roi_run_path, write_roi_run, write_tsv

__all__ = [
    "DEFAULT_SPACE",
    "BidsStudy",
    "BoldRun",
    "RoiRun",
    "RoiStudy",
    "discover_study",
    "load_roi_study",
    "read_study_atlas_name",
    "roi_run_path",
    "write_roi_run",
    "write_tsv",
]
