"""Run a demo in a fresh Python interpreter and read back what it printed."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any


def demo_in_fresh_python(out: Path, spec: Any, config: Any, report: str, before: str = "") -> Any:
    """Run ``make_demo(out, spec, config)`` in a new interpreter; return ``report`` there.

    ``before`` is Python run first (with ``_demo``, the demo's module, imported);
    ``report`` is an expression evaluated after the demo, JSON-serialisable (it may
    use ``sys`` and names ``before`` set). The interpreter failing fails the test,
    with its error output.
    """
    settings = out.parent / f"{out.name}-settings.pickle"
    settings.write_bytes(pickle.dumps((spec, config)))
    code = "\n".join(
        [
            "import json, pickle, sys",
            "from pathlib import Path",
            "from dmnpharm.pipeline import _demo",
            before,
            f"spec, config = pickle.loads(Path({str(settings)!r}).read_bytes())",
            f"_demo.make_demo({str(out)!r}, spec, config)",
            f"print(json.dumps({report}))",
        ]
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])
