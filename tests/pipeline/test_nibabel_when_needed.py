"""An ROI-level analysis never loads nibabel; image reads still name nibabel's errors."""

from __future__ import annotations

import json
import subprocess
import sys

from nibabel.filebasedimages import ImageFileError

from dmnpharm.pipeline._work import _READ_ERRORS, _read_errors

_PROBE = """
import json, sys
import dmnpharm.cli, dmnpharm.pipeline._group, dmnpharm.pipeline._orchestrator
import dmnpharm.pipeline._adapters, dmnpharm.pipeline._work as work
print(json.dumps({"nibabel": "nibabel" in sys.modules,
                  "errors": [e.__name__ for e in work._read_errors()]}))
"""


def test_the_analysis_modules_do_not_load_nibabel() -> None:
    """The command line and the ROI pipeline's modules: no nibabel (40 ms of the demo)."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True, timeout=120
    )
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["nibabel"] is False
    assert found["errors"] == [error.__name__ for error in _READ_ERRORS]


def test_image_errors_are_caught_once_nibabel_is_loaded() -> None:
    """After an image read has loaded nibabel, its header error is a read error too."""
    errors = _read_errors()
    assert ImageFileError in errors
    assert set(_READ_ERRORS) < set(errors)
