"""What ``dmnpharm COMMAND --help`` says: each command described as it is, no option it lacks."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from dmnpharm.cli import build_parser, main
from dmnpharm.cli._main import COMMANDS
from dmnpharm.cli._progress import step


def _help(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main([*argv, "--help"]) == 0
    return " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_describes_itself(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    """``--help`` of each command exits 0 and opens with a description of the command."""
    text = _help(capsys, command)
    assert text.startswith(f"usage: dmnpharm {command}")
    parser = build_parser()
    sub = parser._subparsers._group_actions[0].choices[command]  # type: ignore[union-attr]
    assert sub.description, f"dmnpharm {command} has no description"
    assert " ".join(sub.description.split())[:40] in text


def test_run_and_validate_name_every_input_form(capsys: pytest.CaptureFixture[str]) -> None:
    """``run`` and ``validate`` name BIDS/fMRIPrep (and CIFTI), XCP-D, ROI folders, run tables."""
    for command in ("run", "validate"):
        text = _help(capsys, command)
        for form in ("fMRIPrep", "CIFTI", "XCP-D", "ROI-level", "run table"):
            assert form in text, (command, form)
    top = " ".join(build_parser().format_help().split())
    assert "XCP-D outputs, an ROI-level folder or a run table" in top


def test_simulate_names_every_level(capsys: pytest.CaptureFixture[str]) -> None:
    """``simulate`` writes roi, voxel, cifti and xcpd levels, and says so."""
    text = _help(capsys, "simulate")
    for level in ("roi", "voxel", "cifti", "xcpd"):
        assert f"({level}" in text
    assert "(ROI level)" not in text


def test_validate_writes_nothing_and_has_no_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``validate`` has no --out, so no --overwrite: the option is refused as unknown."""
    text = _help(capsys, "validate")
    assert "--overwrite" not in text
    assert "--out " not in text
    assert main(["validate", str(tmp_path), "--overwrite"]) == 2
    assert "unrecognized arguments: --overwrite" in capsys.readouterr().err


@pytest.mark.parametrize(
    "option",
    [
        ["--between", "group"],
        ["--between-contrast", "a", "b"],
        ["--covariate", "age"],
        ["--block", "site"],
        ["--drop-incomplete"],
    ],
)
def test_demo_has_no_between_subject_options(
    option: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The demo's crossover is complete and paired: between-subject options are refused."""
    assert option[0] not in _help(capsys, "demo")
    assert main(["demo", "--out", str(tmp_path / "d"), *option]) == 2
    assert f"unrecognized arguments: {option[0]}" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()


def test_demo_keeps_the_paired_options() -> None:
    """``demo`` still takes the contrast, permutations, seed and motion covariate."""
    args = build_parser().parse_args(
        ["demo", "--contrast", "placebo-drug", "--permutations", "50", "--motion-covariate"]
    )
    assert args.contrast == ("placebo", "drug")
    assert args.permutations == 50
    assert args.motion_covariate


def test_atlas_help_mentions_radius_only_where_the_command_has_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``--radius`` appears in ``--atlas``'s help only for commands that take ``--radius``."""
    assert "spheres of --radius" in _help(capsys, "run")
    for command in ("simulate", "power"):
        assert "--radius" not in _help(capsys, command), command


def test_a_step_draws_its_description_and_leaves_nothing() -> None:
    """``step`` shows a transient spinner with the description on the console it is given."""
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=80)
    with step("writing 4 runs at voxel level", console=console):
        pass
    drawn = buffer.getvalue()
    assert "writing 4 runs at voxel level" in drawn
    assert drawn.endswith("\x1b[1A\x1b[2K")  # transient: its line is erased at the end


def test_a_step_draws_nothing_when_no_one_watches(capsys: pytest.CaptureFixture[str]) -> None:
    """Under pytest standard error is no terminal: the step runs its block and prints nothing."""
    ran = []
    with step("simulating"):
        ran.append(True)
    assert ran == [True]
    assert capsys.readouterr().err == ""
