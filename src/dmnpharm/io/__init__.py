"""Reading and writing study folders: BIDS/fMRIPrep discovery, design tables, time series.

The ROI-level study format is BIDS-like::

    participants.tsv                      participant_id, ...
    sub-<p>/sub-<p>_sessions.tsv          session_id, condition, ...
    sub-<p>/ses-<s>/func/sub-<p>_ses-<s>_task-rest[_run-<r>]_atlas-<A>_timeseries.tsv
    sub-<p>/ses-<s>/func/...timeseries.json   {"RepetitionTime": ..., "Atlas": ...}

Each time-series file has a header of region labels and one row per volume.

The same package writes the BIDS-derivatives outputs of ``dmnpharm run``
(cleaned region signals and connectivity matrices, see :func:`derivative_path`).
"""

from typing import TYPE_CHECKING

from dmnpharm._utils._lazy import lazy_exports

if TYPE_CHECKING:
    from dmnpharm.io._bids import DEFAULT_SPACE, BidsStudy, BoldRun, discover_study
    from dmnpharm.io._bids_filter import BidsFilter, parse_bids_filter, read_bids_filter
    from dmnpharm.io._cifti_write import write_dlabel, write_pconn, write_ptseries
    from dmnpharm.io._confounds import read_confounds
    from dmnpharm.io._derivatives import (
        BIDS_VERSION,
        ENTITY_ORDER,
        bids_label,
        derivative_path,
        write_dataset_description,
        write_relmat,
        write_timeseries,
    )
    from dmnpharm.io._integrity import ImageHeader, read_image_header
    from dmnpharm.io._layout import OutputLayout
    from dmnpharm.io._roi_atlas import read_study_atlas_name, roi_atlas_name
    from dmnpharm.io._roi_study import (
        RoiRun,
        RoiStudy,
        load_roi_study,
        read_roi_timeseries,
    )
    from dmnpharm.io._roi_write import roi_run_path, write_roi_run, write_tsv
    from dmnpharm.io._run_table import RunTableStudy, load_run_table
    from dmnpharm.io._select import select_participants
    from dmnpharm.io._timeseries_files import (
        TIMESERIES_SUFFIXES,
        read_region_timeseries,
        timeseries_format,
    )
    from dmnpharm.io._xcpd import XcpdRun, XcpdStudy, discover_xcpd, is_xcpd_folder, xcpd_naming
    from dmnpharm.io._xcpd_read import (
        read_xcpd_motion,
        read_xcpd_timeseries,
        xcpd_atlas_file,
        xcpd_atlas_table,
        xcpd_atlases,
        xcpd_folder_version,
        xcpd_record,
    )

__all__ = [
    "BIDS_VERSION",
    "DEFAULT_SPACE",
    "ENTITY_ORDER",
    "TIMESERIES_SUFFIXES",
    "BidsFilter",
    "BidsStudy",
    "BoldRun",
    "ImageHeader",
    "OutputLayout",
    "RoiRun",
    "RoiStudy",
    "RunTableStudy",
    "XcpdRun",
    "XcpdStudy",
    "bids_label",
    "derivative_path",
    "discover_study",
    "discover_xcpd",
    "is_xcpd_folder",
    "load_roi_study",
    "load_run_table",
    "parse_bids_filter",
    "read_bids_filter",
    "read_confounds",
    "read_image_header",
    "read_region_timeseries",
    "read_roi_timeseries",
    "read_study_atlas_name",
    "read_xcpd_motion",
    "read_xcpd_timeseries",
    "roi_atlas_name",
    "roi_run_path",
    "select_participants",
    "timeseries_format",
    "write_dataset_description",
    "write_dlabel",
    "write_pconn",
    "write_ptseries",
    "write_relmat",
    "write_roi_run",
    "write_timeseries",
    "write_tsv",
    "xcpd_atlas_file",
    "xcpd_atlas_table",
    "xcpd_atlases",
    "xcpd_folder_version",
    "xcpd_naming",
    "xcpd_record",
]

__getattr__, __dir__ = lazy_exports(__name__, __file__)
