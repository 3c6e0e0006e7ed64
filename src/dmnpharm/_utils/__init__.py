"""Internal helpers: validation, hashing, atomic output folders, logging."""

from dmnpharm._utils._blas import all_blas_threads, one_blas_thread
from dmnpharm._utils._docs import fill_doc
from dmnpharm._utils._hashing import HashMemo, sha256_file
from dmnpharm._utils._logging import LOGGER_NAME, get_logger, log_to_file
from dmnpharm._utils._output import atomic_write_bytes, output_lock, staged_output_dir
from dmnpharm._utils._progress import progress, progress_enabled
from dmnpharm._utils._provenance import versions
from dmnpharm._utils._validation import check_option, closest_match

__all__ = [
    "LOGGER_NAME",
    "HashMemo",
    "all_blas_threads",
    "atomic_write_bytes",
    "check_option",
    "closest_match",
    "fill_doc",
    "get_logger",
    "log_to_file",
    "one_blas_thread",
    "output_lock",
    "progress",
    "progress_enabled",
    "sha256_file",
    "staged_output_dir",
    "versions",
]
