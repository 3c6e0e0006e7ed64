"""Package-wide rules: quiet import, version, module entry point."""

import logging
import subprocess
import sys

import dmnpharm


def test_import_adds_no_logging_handler() -> None:
    """Importing dmnpharm configures nothing (CONVENTIONS rule 4)."""
    code = (
        "import logging, dmnpharm, dmnpharm.pipeline, dmnpharm.cli;"
        "dmnpharm.Study, dmnpharm.AnalysisConfig, dmnpharm.Results;"
        "assert not logging.getLogger('dmnpharm').handlers;"
        "assert not logging.getLogger().handlers;"
        "import matplotlib; assert matplotlib.get_backend() is not None"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    assert not logging.getLogger("dmnpharm").handlers


def test_version_is_a_string() -> None:
    """The installed version is exposed."""
    assert isinstance(dmnpharm.__version__, str)
    assert dmnpharm.__version__


def test_python_dash_m_runs_the_cli() -> None:
    """``python -m dmnpharm --version`` works and exits 0."""
    out = subprocess.run(
        [sys.executable, "-m", "dmnpharm", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == f"dmnpharm {dmnpharm.__version__}"
