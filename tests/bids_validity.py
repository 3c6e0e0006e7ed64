"""Run the official BIDS validator (``bids-validator-deno``, the ``test`` extra) on a folder.

Each dataset is validated on its own (root, then each derivatives folder): with
``--recursive`` the validator 3.0.2 ignores a nested dataset's ``.bidsignore``.

Warnings each kind of dataset may keep, and why:

* dmnpharm's derivatives: ``TOO_FEW_AUTHORS`` (dmnpharm cannot know who ran it; the
  README asks the lab to add ``Authors``).
* simulated raw roots: the above, ``NO_AUTHORS``, and ``JSON_KEY_RECOMMENDED`` for
  ``License``, ``SourceDatasets`` and ``HEDVersion`` (a simulation has none of them).
* simulated fMRIPrep-style and XCP-D-style derivatives: ``TOO_FEW_AUTHORS`` and
  ``SIDECAR_KEY_RECOMMENDED`` (``Sources`` of a simulated mask: it has none).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

#: Warnings dmnpharm's own derivatives may keep.
DERIVATIVES_WARNINGS = frozenset({"TOO_FEW_AUTHORS"})
#: Warnings a simulated raw study root may keep.
SIMULATED_ROOT_WARNINGS = frozenset({"TOO_FEW_AUTHORS", "NO_AUTHORS", "JSON_KEY_RECOMMENDED"})
#: Warnings simulated fMRIPrep- or XCP-D-style derivatives may keep.
SIMULATED_DERIVATIVES_WARNINGS = frozenset({"TOO_FEW_AUTHORS", "SIDECAR_KEY_RECOMMENDED"})


def validator() -> str:
    """Return the validator's executable, or skip the test saying how to get it."""
    found = shutil.which("bids-validator-deno")
    beside = Path(sys.executable).with_name("bids-validator-deno")
    if found is None and beside.is_file():
        found = str(beside)
    if found is None:
        pytest.skip("bids-validator-deno is not installed (pip install -e '.[test]')")
    return found


@dataclass(frozen=True)
class Validation:
    """What the validator said of one dataset."""

    returncode: int
    issues: tuple[dict[str, str], ...]

    def codes(self, severity: str) -> Counter[str]:
        """Return how many issues of each code have this severity."""
        return Counter(i["code"] for i in self.issues if i["severity"] == severity)

    def describe(self, severity: str) -> str:
        """Return one line per issue code of this severity, with an example location."""
        lines = []
        for code, count in sorted(self.codes(severity).items()):
            first = next(i for i in self.issues if i["code"] == code)
            lines.append(f"{code} x{count}: {first.get('location')} {first.get('subCode', '')}")
        return "\n".join(lines)


def validate(folder: Path) -> Validation:
    """Run the validator on one dataset (JSON output) and return its issues."""
    done = subprocess.run(
        [validator(), "--format", "json", str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"bids-validator-deno gave no JSON for {folder}: {done.stderr[-2000:]}")
    issues = tuple(report["issues"]["issues"])
    return Validation(done.returncode, issues)


def assert_valid(folder: Path, accepted: frozenset[str]) -> Validation:
    """Validate a dataset: no error, and only warnings of the accepted kinds."""
    result = validate(folder)
    assert not result.codes("error"), f"{folder}:\n{result.describe('error')}"
    unexpected = set(result.codes("warning")) - accepted
    assert not unexpected, f"{folder}: unexpected warnings\n{result.describe('warning')}"
    assert result.returncode == 0
    return result
