"""Start-up cost: what a rerun with nothing to do has to import."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

# Imported only when there is per-run or group work: SciPy's statistics and signal
# processing, scikit-learn, nilearn's dataset fetchers, matplotlib and Dask distributed.
_HEAVY = (
    "scipy.stats",
    "scipy.signal",
    "sklearn",
    "nilearn.datasets",
    "matplotlib",
    "distributed",
)


def _loaded_after(code: str, modules: tuple[str, ...]) -> list[str]:
    """Run ``code`` in a fresh interpreter; return which of ``modules`` it imported."""
    report = f"print(json.dumps([m for m in {modules!r} if m in sys.modules]))"
    probe = f"{code}\nimport json, sys\n{report}"
    found = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    loaded: list[str] = json.loads(found.splitlines()[-1])  # after what the code printed
    return loaded


def test_planning_a_run_does_not_import_the_heavy_libraries() -> None:
    """The CLI, the planning half of a run and the embedded atlases import none of them.

    Before, importing them took about 2.3 of the 2.75 s of a rerun with nothing to do.
    """
    code = (
        "import sys, dmnpharm.cli, dmnpharm.pipeline._orchestrator, dmnpharm.pipeline._adapters\n"
        "import dmnpharm.pipeline._study\n"
        "from dmnpharm.atlases import load_atlas\n"
        "load_atlas('seitzman300'), load_atlas('dosenbach160')\n"
    )
    assert _loaded_after(code, _HEAVY) == []


def test_the_command_line_starts_without_nibabel() -> None:
    """Starting the CLI and loading an embedded atlas import no nibabel (about 70 ms).

    Only reading an image needs it: a labels image, a BOLD or CIFTI file.
    """
    code = (
        "import dmnpharm.cli\nfrom dmnpharm.atlases import load_atlas\nload_atlas('seitzman300')\n"
    )
    assert _loaded_after(code, ("nibabel",)) == []


def test_the_stats_command_imports_no_optimiser_or_interpolator() -> None:
    """``dmnpharm stats`` imports neither scipy.optimize, scipy.interpolate nor DuckDB.

    Together they cost about 0.5 s of a command meant to take 3 s at connectome scale.
    """
    code = (
        "import dmnpharm.cli, dmnpharm.pipeline._stats\n"
        "from dmnpharm.stats import dz_interval\n"
        "import numpy as np\n"
        "dz_interval(np.random.default_rng(0).normal(size=(12, 600)))\n"
    )
    assert _loaded_after(code, ("scipy.optimize", "scipy.interpolate", "duckdb", *_HEAVY)) == []


def test_every_lazy_export_resolves() -> None:
    """Each package's lazily exported names all import, and ``dir`` lists them."""
    code = (
        "import importlib\n"
        "subpackages = ('atlases', 'catalog', 'config', 'execution', 'extract', 'io', 'metrics',\n"
        "               'pipeline', 'report', 'signal', 'simulate', 'stats', 'store')\n"
        "for name in ['dmnpharm', *('dmnpharm.' + sub for sub in subpackages)]:\n"
        "    package = importlib.import_module(name)\n"
        "    for export in package.__all__:\n"
        "        assert getattr(package, export) is not None, (name, export)\n"
        "        assert export in dir(package), (name, export)\n"
        "    try:\n"
        "        package.no_such_name\n"
        "    except AttributeError:\n"
        "        pass\n"
        "    else:\n"
        "        raise AssertionError(name)\n"
        "print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_a_stats_report_draws_without_matplotlib(tmp_path: Path) -> None:
    """The stats report's figures are SVG, many measures or few: matplotlib is not imported.

    Importing matplotlib and drawing with it took about 0.7 s of the 3 s target.
    """
    rng = np.random.default_rng(0)
    subjects, measures = [f"sub-{k}" for k in range(6)], [f"m{k:02d}" for k in range(60)]
    rows = [
        (s, c, m, float(rng.normal()))
        for s in subjects
        for c in ("placebo", "drug")
        for m in measures
    ]
    table = pd.DataFrame(rows, columns=["participant_id", "condition", "measure", "value"])
    table.to_csv(tmp_path / "table.tsv", sep="\t", index=False)
    few = table[table["measure"].isin(measures[:12])]
    few.to_csv(tmp_path / "few.tsv", sep="\t", index=False)
    code = (
        "from dmnpharm import Inference\n"
        "from dmnpharm.pipeline import analyse_table\n"
        "from dmnpharm.stats import ModelSpec\n"
        "spec = ModelSpec(within='condition', contrast=('drug', 'placebo'))\n"
        f"for name, out in (('table.tsv', 'out'), ('few.tsv', 'few')):\n"
        f"    analyse_table({str(tmp_path)!r} + '/' + name, {str(tmp_path)!r} + '/' + out,\n"
        "        spec, Inference(99))\n"
    )
    assert _loaded_after(code, ("matplotlib",)) == []
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert page.count('src="data:image/svg+xml;base64,') == 3  # strongest, p, null
    page = (tmp_path / "few" / "report.html").read_text(encoding="utf-8")
    assert page.count('src="data:image/svg+xml;base64,') == 2  # every measure, null


def test_a_study_report_of_roi_runs_draws_without_a_plotting_library(tmp_path: Path) -> None:
    """ROI-level runs: QC figures and the glass brain are SVG; nothing imports matplotlib.

    The carpet plot and tSNR need voxels, and the forest plot a drug: without them, drawing
    the study report with matplotlib and nilearn's plotting cost about 2.5 s of the demo.
    """
    code = (
        "from dmnpharm.cli import main\n"
        f"main(['demo', '--out', {str(tmp_path / 'demo')!r}, '--subjects', '4', "
        "'--permutations', '99', '--scheduler', 'synchronous', '--no-cache', '-q'])\n"
    )
    assert _loaded_after(code, ("matplotlib", "nilearn.plotting")) == []
    page = (tmp_path / "demo" / "report.html").read_text(encoding="utf-8")
    assert "data:image/png;base64," not in page
    # measures, null, censoring, FD traces, matrices, glass brain
    assert page.count('src="data:image/svg+xml;base64,') == 6
