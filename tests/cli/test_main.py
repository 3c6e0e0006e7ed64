"""The command line, called in-process through ``main([...])``."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dmnpharm.cli import build_parser, main
from dmnpharm.cli._main import COMMANDS


def test_demo_detects_the_planted_effect(default_demo: tuple[Path, str]) -> None:
    """The default demo finds the lower within-DMN FC (p_fwer < 0.05) and prints the report.

    ``default_demo`` (tests/conftest.py) ran ``dmnpharm demo --out OUT`` once.
    """
    out, printed = default_demo
    assert printed.strip() == str(out / "report.html")
    assert (out / "study" / "ground_truth.json").is_file()
    results = pd.read_csv(out / "group" / "results.tsv", sep="\t").set_index("measure")
    within = results.loc["dmn_within_fc"]
    assert within["p_fwer"] < 0.05
    assert within["estimate"] < 0
    assert within["n"] == 40
    assert results.loc["dmn_salience_fc", "p_fwer"] >= 0.05
    html = (out / "report.html").read_text()
    assert "dmn_within_fc" in html
    # Figures: every measure in one small-multiples figure, one max-|t| null, the
    # censoring map, the FD traces of the runs that moved most, the within-DMN
    # matrices and the glass brain of the top edges (no carpet, tSNR or coverage:
    # region time series carry no voxels and are already centred).
    assert html.count(f'alt="All {len(results)} measures tested') == 1
    assert html.count('alt="Null of the largest |t|') == 1
    assert html.count('alt="Each row is a run') == 1
    assert html.count('alt="Framewise displacement over time of the 8 runs') == 1
    assert html.count('alt="Mean within-DMN') == 1
    assert html.count('alt="DMN edges on a glass brain') == 1
    assert "data:image/png;base64," not in html  # no figure drawn by matplotlib
    # measures, null, censoring, FD traces, matrices and the glass brain
    assert html.count('src="data:image/svg+xml;base64,') == 6


def test_demo_without_effect_detects_nothing(tmp_path: Path) -> None:
    """With --effect 0 the within-DMN change is within 3 SE of zero, and no measure is extreme.

    12 subjects (the null does not need the default 40). The demo tests 18 network
    measures, so a |t| above 3 somewhere is a ~10 % event (seed 0 draws |t| <= 2.1
    here; at 24 subjects it draws t = -3.6 for DMN ALFF, from noise); the bound for
    the family is |t| < 4.5. Calibration over many null studies is tested in
    tests/simulate/test_power.py and tests/stats.
    """
    out = tmp_path / "demo0"
    argv = ["demo", "--out", str(out), "--effect", "0", "--subjects", "12", "-q"]
    assert main(argv) == 0
    results = pd.read_csv(out / "group" / "results.tsv", sep="\t").set_index("measure")
    assert results["n"].eq(12).all()
    assert abs(results.loc["dmn_within_fc", "statistic"]) < 3
    assert (results["statistic"].abs() < 4.5).all()


def test_demo_estimate_covers_the_planted_change(default_demo: tuple[Path, str]) -> None:
    """The default demo's within-DMN estimate lies within 3 standard errors of the truth.

    The truth is what the simulator planted in this study's runs (with minus
    without effects, averaged over subjects); a calibrated pipeline misses it
    by more than 3 SE in about 1 study in 370. Coverage over 200 seeds is
    measured by ``benchmarks/coverage.py`` (docs/simulation.md).
    """
    out, _ = default_demo
    truth = pd.DataFrame(json.loads((out / "study" / "ground_truth.json").read_text())["runs"])
    truth["planted"] = truth["within_fc_DMN"] - truth["within_fc_DMN_without_effects"]
    means = truth.pivot_table(index="participant_id", columns="condition", values="planted")
    planted = float((means["drug"] - means["placebo"]).mean())
    assert planted == pytest.approx(-0.10, abs=0.01)  # every drug run at full exposure
    results = pd.read_csv(out / "group" / "results.tsv", sep="\t").set_index("measure")
    within = results.loc["dmn_within_fc"]
    se = (within["ci_high"] - within["ci_low"]) / (2 * 2.023)  # t(0.975, 39) = 2.023
    assert abs(within["estimate"] - planted) < 3 * se
    assert within["p_fwer"] < 0.05  # the demo finds its planted effect
    html = (out / "report.html").read_text()
    assert "in SE</th>" in html


def test_simulate_then_run(tmp_path: Path) -> None:
    """Simulate writes a study that run analyses; same seeds give identical results files."""
    study = tmp_path / "study"
    assert (
        main(
            ["simulate", "--out", str(study), "--subjects", "6", "--volumes", "60", "--seed", "2"]
        )
        == 0
    )
    run = ["--permutations", "99", "--no-gsr-sensitivity"]
    assert main(["run", str(study), "--out", str(tmp_path / "r1"), *run]) == 0
    assert main(["run", str(study), "--out", str(tmp_path / "r2"), *run]) == 0
    first = (tmp_path / "r1" / "group" / "results.tsv").read_bytes()
    assert first == (tmp_path / "r2" / "group" / "results.tsv").read_bytes()
    assert (
        main(
            [
                "simulate",
                "--out",
                str(tmp_path / "s2"),
                "--subjects",
                "6",
                "--volumes",
                "60",
                "--seed",
                "3",
            ]
        )
        == 0
    )
    assert main(["run", str(tmp_path / "s2"), "--out", str(tmp_path / "r3"), *run]) == 0
    assert first != (tmp_path / "r3" / "group" / "results.tsv").read_bytes()


def test_existing_output_needs_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A non-empty --out is kept and named unless --overwrite is given."""
    out = tmp_path / "s"
    assert main(["simulate", "--out", str(out), "--subjects", "2", "--volumes", "20"]) == 0
    capsys.readouterr()
    assert main(["simulate", "--out", str(out), "--subjects", "2", "--volumes", "20"]) == 1
    assert "--overwrite" in capsys.readouterr().err
    assert (
        main(["simulate", "--out", str(out), "--subjects", "4", "--volumes", "20", "--overwrite"])
        == 0
    )
    assert (out / "sub-04").is_dir()


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["frobnicate"], 2, "invalid choice: 'frobnicate'"),
        (["run", "x", "--out", "y", "--bogus"], 2, "unrecognized arguments: --bogus"),
        (["simulate", "--out", "s", "--subjects", "0"], 2, "0 must be at least 1"),
        (["run", "x", "--out", "y", "--contrast", "drug"], 2, "must be two condition labels"),
        (["demo", "--out", "d", "--effect", "0.95"], 1, "outside what this run's model can reach"),
        (["simulate", "--out", "s", "--subjects", "5"], 1, "cannot be counterbalanced"),
        (["simulate", "--out", "s", "--preset", "lsd"], 1, "preset 'lsd' is not one of"),
        (["power", "--out", "p", "--subjects", "10,x"], 2, "'x' is not an integer"),
        (["power", "--out", "p", "--subjects", "11", "--studies", "2"], 1, "counterbalanced"),
        (["power", "--out", "p", "--measure", "alff_DMN", "--studies", "2"], 2, "within_fc_"),
        (["power", "--out", "p", "--measure", "dmn_alff"], 2, "power cannot simulate"),
        (["validate", "s", "--overwrite"], 2, "unrecognized arguments: --overwrite"),
        (["demo", "--between", "group"], 2, "unrecognized arguments: --between"),
    ],
)
def test_usage_errors(
    argv: list[str],
    code: int,
    message: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Unknown commands, options and values exit non-zero with a clear message."""
    monkeypatch.chdir(tmp_path)
    assert main(argv) == code
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_missing_study_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A study folder that does not exist is named; nothing is written."""
    missing = tmp_path / "nope"
    assert main(["run", str(missing), "--out", str(tmp_path / "out")]) == 1
    assert f"study folder '{missing}' does not exist" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_bad_study_lists_problems(
    small_study: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Missing condition column and NaN values: each named, exit 1, no output."""
    sessions = small_study / "sub-02" / "sub-02_sessions.tsv"
    sessions.write_text(sessions.read_text().replace("condition", "cond"))
    run_file = next((small_study / "sub-04" / "ses-2" / "func").glob("*_timeseries.tsv"))
    lines = run_file.read_text().splitlines()
    cells = lines[3].split("\t")
    cells[7] = "nan"
    lines[3] = "\t".join(cells)
    run_file.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    assert main(["run", str(small_study), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "2 problems" in err
    assert f"{sessions}: has no 'condition' column" in err
    assert f"{run_file}, line 4, column" in err
    assert not out.exists()


def test_parser_lists_the_commands() -> None:
    """Every command of the parser has its module's function in the dispatch table."""
    help_text = build_parser().format_help()
    for command in ("simulate", "run", "demo", "power"):
        assert command in help_text
    parser = build_parser()
    subcommands = next(action for action in parser._actions if action.dest == "command")
    assert set(subcommands.choices) == set(COMMANDS)


def test_seed_is_one_flag_and_perm_seed_a_warning_alias(
    small_study: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--perm-seed still works, warns, and gives what --seed gives."""
    base = ["run", str(small_study), "--permutations", "50", "--no-gsr-sensitivity", "-q"]
    assert main([*base, "--out", str(tmp_path / "new"), "--seed", "3"]) == 0
    capsys.readouterr()
    assert main([*base, "--out", str(tmp_path / "old"), "--perm-seed", "3"]) == 0
    assert "--perm-seed is deprecated and will be removed; use --seed" in capsys.readouterr().err
    new = pd.read_parquet(tmp_path / "new" / "group" / "results.parquet")
    old = pd.read_parquet(tmp_path / "old" / "group" / "results.parquet")
    pd.testing.assert_frame_equal(new, old)
    provenance = json.loads((tmp_path / "old" / "provenance.json").read_text())
    assert provenance["config"]["seed"] == 3
    assert provenance["config"]["n_permutations"] == 50


def test_stats_seed_and_tr_aliases_parse() -> None:
    """Every command takes --seed; --tr is the deprecated spelling of --repetition-time."""
    parser = build_parser()
    for argv in (
        ["stats", "t.tsv", "--out", "o", "--seed", "4"],
        ["power", "--out", "o", "--seed", "4"],
        ["simulate", "--out", "o", "--seed", "4"],
        ["demo", "--seed", "4"],
        ["run", "s", "--out", "o", "--seed", "4"],
    ):
        assert parser.parse_args(argv).seed == 4
    old = parser.parse_args(["simulate", "--out", "o", "--tr", "2.5"])
    new = parser.parse_args(["simulate", "--out", "o", "--repetition-time", "2.5"])
    assert old.repetition_time == new.repetition_time == 2.5
    assert old.deprecations == ["--tr is deprecated and will be removed; use --repetition-time"]
    assert not hasattr(new, "deprecations")


def test_simulate_voxel_level(tmp_path: Path) -> None:
    """--level voxel writes fMRIPrep-style derivatives for every run."""
    out = tmp_path / "vox"
    argv = [
        "simulate",
        "--out",
        str(out),
        "--level",
        "voxel",
        "--subjects",
        "2",
        "--volumes",
        "20",
    ]
    assert main(argv) == 0
    images = sorted(out.glob("derivatives/fmriprep/sub-*/ses-*/func/*_desc-preproc_bold.nii.gz"))
    assert len(images) == 4
    assert (out / "ground_truth.json").is_file()


def test_power_writes_table_curve_and_provenance(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The power command writes the table, every study's test, the curve and the spec."""
    out = tmp_path / "power"
    argv = ["power", "--preset", "crossover-ssri-healthy", "--subjects", "6,12"]
    argv += ["--studies", "20", "--permutations", "99", "--workers", "1", "--out", str(out)]
    assert main(argv) == 0
    assert capsys.readouterr().out.strip() == str(out / "power.tsv")
    table = pd.read_csv(out / "power.tsv", sep="\t")
    assert table["n_subjects"].tolist() == [6, 12]
    assert table["n_studies"].eq(20).all()
    assert table["power"].between(0, 1).all()
    studies = pd.read_csv(out / "power_studies.tsv", sep="\t")
    assert len(studies) == 40
    assert (out / "power.png").read_bytes().startswith(b"\x89PNG")
    provenance = json.loads((out / "power.json").read_text())
    assert provenance["contrast"]["measure"] == "within_fc_DMN"
    assert provenance["spec"]["name"] == "crossover-ssri-healthy"
    assert main(argv) == 1  # the folder exists now: --overwrite is needed


def test_stats_on_the_demo_metrics(
    default_demo: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Stats on run's metrics table gives run's results; bad levels are explained.

    Both use the default number of sign flips and seed.
    """
    demo, _ = default_demo
    out = tmp_path / "stats"
    argv = ["stats", str(demo / "metrics.parquet"), "--out", str(out)]
    argv += ["--within", "condition", "--contrast", "drug-placebo"]
    assert main(argv) == 0
    assert capsys.readouterr().out.strip() == str(out / "results.tsv")
    ours = pd.read_csv(out / "results.tsv", sep="\t")
    theirs = pd.read_csv(demo / "group" / "results.tsv", sep="\t")
    pd.testing.assert_frame_equal(ours, theirs)
    assert "Sign flips" in (out / "model.txt").read_text()
    assert json.loads((out / "provenance.json").read_text())["model"]["within"] == "condition"
    bad = ["stats", str(demo / "metrics.tsv"), "--out", str(tmp_path / "bad")]
    bad += ["--within", "condition", "--contrast", "drugs-placebo"]
    assert main(bad) == 1
    assert "did you mean 'drug'" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


def test_stats_mixed_and_normalization_from_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--mixed and --normalization run on a trial-like table and say what they did."""
    rng = np.random.default_rng(4)
    rows = []
    for i in range(24):
        group = "control" if i < 8 else "patient"
        arm = "none" if i < 8 else ("drug" if i < 16 else "placebo")
        for time in ("pre", "post"):
            shift = 1.0 if group == "patient" and not (arm == "drug" and time == "post") else 0.0
            rows.append(
                {
                    "participant_id": f"sub-{i:02d}",
                    "condition": time,
                    "group": group,
                    "arm": arm,
                    "measure": "dmn_within_fc",
                    "value": shift + rng.normal(0, 0.5),
                }
            )
    table = tmp_path / "metrics.tsv"
    pd.DataFrame(rows).to_csv(table, sep="\t", index=False)
    base = ["stats", str(table), "--within", "condition", "--contrast", "post-pre", "-q"]
    assert main([*base, "--out", str(tmp_path / "mixed"), "--mixed"]) == 0
    assert "random intercept" in (tmp_path / "mixed" / "model.txt").read_text()
    norm = [*base, "--out", str(tmp_path / "norm"), "--normalization", "patient-control"]
    norm += ["--between", "arm", "--between-contrast", "drug-placebo", "--permutations", "999"]
    assert main(norm) == 0
    result = pd.read_csv(tmp_path / "norm" / "results.tsv", sep="\t")
    assert result["model"].iloc[0] == "normalization"
    assert result["estimate"].iloc[0] < 0  # drug patients end closer to controls
    provenance = json.loads((tmp_path / "norm" / "provenance.json").read_text())
    assert provenance["method"] == "normalization"
    assert provenance["groups"] == ["patient", "control"]
    capsys.readouterr()


def test_validate_clean_and_broken_voxel_study(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Exit 0 with a summary when clean; exit 1 listing every problem otherwise."""
    study = tmp_path / "vox"
    argv = ["simulate", "--level", "voxel", "--subjects", "2", "--volumes", "50"]
    assert main([*argv, "--out", str(study), "-q"]) == 0
    capsys.readouterr()
    assert main(["validate", str(study)]) == 0
    assert "valid for this analysis; BIDS: 2 participants, 4 runs" in capsys.readouterr().out
    func = study / "derivatives" / "fmriprep" / "sub-02" / "ses-2" / "func"
    next(func.glob("*_desc-confounds_timeseries.tsv")).unlink()
    (study / "sub-01" / "sub-01_sessions.tsv").unlink()
    assert main(["validate", str(study)]) == 1
    err = capsys.readouterr().err
    assert "2 problems" in err
    assert "has no confounds file" in err
    assert "sub-01_sessions.tsv: is missing, but sub-01 has runs in ses-1, ses-2" in err
