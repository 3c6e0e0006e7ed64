"""Every command's options, from the parser ``main`` uses, against README.md's section on it.

The rule, per command of ``build_parser()``:

* README.md has a section on it: a heading naming `` `dmnpharm COMMAND` `` (one
  heading may name several commands), down to the next heading of the same or a
  higher level;
* every long option the command shows in ``--help`` (its subcommands' too) is
  mentioned in that section, except ``--help``, ``--verbose`` and ``--quiet``,
  which the *Usage* section documents once for all commands;
* every ``--option`` mentioned in that section exists: an option in a code line
  or span that starts with another command (``stats --test-covariate RATING``,
  ``dmnpharm run ... --strategy none``) must be an option of that command;
  any other must be an option of a command the heading names (deprecated,
  hidden aliases count as existing);
* a command with subcommands (``catalog``) names each of them in its section.

A command that has no section yet may be listed in :data:`NOT_YET_DOCUMENTED`
while its section is written; the list is empty when the README is complete.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from dmnpharm.cli._main import build_parser

README = Path(__file__).resolve().parents[2] / "README.md"

#: Commands allowed to lack a README section for now (add a name while writing its section).
NOT_YET_DOCUMENTED: frozenset[str] = frozenset()

#: Options every command has, documented once in README's Usage section.
COMMON = ("--help", "--verbose", "--quiet")

_OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
_SPAN = re.compile(r"`([^`]+)`")


def _commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """Return the parser's subcommands by their own name (aliases left out)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            named: dict[str, argparse.ArgumentParser] = {}
            for name, sub in action.choices.items():
                if all(sub is not seen for seen in named.values()):
                    named[name] = sub
            return named
    return {}


def _options(parser: argparse.ArgumentParser, shown: bool) -> set[str]:
    """Return the long options of a parser and its subcommands (only those in help if shown)."""
    found: set[str] = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in _commands(parser).values():
                found |= _options(sub, shown)
        elif not (shown and action.help == argparse.SUPPRESS):
            found |= {o for o in action.option_strings if o.startswith("--")}
    return found


PARSER = build_parser()
COMMANDS = _commands(PARSER)


@dataclass(frozen=True)
class Section:
    """A README section: the commands its heading names, and its text."""

    heading: str
    commands: tuple[str, ...]
    text: str


def _sections(text: str) -> list[Section]:
    """Return the sections whose headings name `dmnpharm COMMAND`."""
    lines = text.splitlines()
    headings = [
        (i, len(m[1]), m[2]) for i, line in enumerate(lines) if (m := _HEADING.match(line))
    ]
    found = []
    for k, (start, level, title) in enumerate(headings):
        named = tuple(re.findall(r"`dmnpharm ([a-z][a-z-]*)`", title))
        if named:
            end = next((i for i, lv, _ in headings[k + 1 :] if lv <= level), len(lines))
            found.append(Section(title, named, "\n".join(lines[start + 1 : end])))
    return found


SECTIONS = _sections(README.read_text(encoding="utf-8"))


def _units(text: str) -> list[str]:
    """Return the section's code lines, code spans and the prose between them."""
    units: list[str] = []
    for block in _FENCE.findall(text):
        units.extend(block.splitlines()[1:-1])
    prose = _FENCE.sub("\n", text)
    units.extend(span.replace("\n", " ") for span in _SPAN.findall(prose))
    units.append(_SPAN.sub(" ", prose))
    return units


def _mentions(section: Section) -> list[tuple[tuple[str, ...], str]]:
    """Return each option mentioned, with the commands it is an option of."""
    pattern = re.compile(rf"^\s*(?:dmnpharm\s+)?({'|'.join(map(re.escape, COMMANDS))})(?=\s|$)")
    mentions = []
    for unit in _units(section.text):
        start = pattern.match(unit)
        owners = (start[1],) if start else section.commands
        mentions.extend((owners, option) for option in _OPTION.findall(unit))
    return mentions


def _section_of(command: str) -> Section | None:
    return next((s for s in SECTIONS if command in s.commands), None)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_option_of_the_command_is_in_its_readme_section(command: str) -> None:
    """Each option ``--help`` shows is documented where README describes the command."""
    section = _section_of(command)
    if section is None:
        assert command in NOT_YET_DOCUMENTED, (
            f"README.md has no section on `dmnpharm {command}` (a heading naming it); write "
            "one, or list the command in NOT_YET_DOCUMENTED while it is being written"
        )
        pytest.skip(f"`dmnpharm {command}` is listed in NOT_YET_DOCUMENTED")
    documented = {option for owners, option in _mentions(section) if command in owners}
    missing = sorted(_options(COMMANDS[command], shown=True) - set(COMMON) - documented)
    assert not missing, (
        f"dmnpharm {command}: README section '{section.heading}' does not mention "
        f"{', '.join(missing)}"
    )


@pytest.mark.parametrize("section", SECTIONS, ids=lambda s: s.heading)
def test_every_option_the_readme_mentions_exists(section: Section) -> None:
    """An option README attributes to a command is an option of that command."""
    wrong = sorted(
        {
            f"{option} (as an option of {' or '.join(owners)})"
            for owners, option in _mentions(section)
            if not any(option in _options(COMMANDS[owner], shown=False) for owner in owners)
        }
    )
    assert not wrong, f"README section '{section.heading}' mentions {', '.join(wrong)}"


@pytest.mark.parametrize("command", sorted(c for c in COMMANDS if _commands(COMMANDS[c])))
def test_every_subcommand_is_in_the_readme_section(command: str) -> None:
    """A command with subcommands (``catalog``) names each of them in its section."""
    section = _section_of(command)
    assert section is not None, f"README.md has no section on `dmnpharm {command}`"
    own = " ".join(
        unit
        for unit in _units(section.text)
        if re.match(rf"^\s*(?:dmnpharm\s+)?{command}(?=\s|$)", unit)
    )
    missing = [sub for sub in _commands(COMMANDS[command]) if not re.search(rf"\b{sub}\b", own)]
    assert not missing, f"dmnpharm {command}: README section does not show {', '.join(missing)}"


def test_the_usage_section_documents_the_common_options() -> None:
    """``--help``, ``--verbose`` and ``--quiet`` are documented once, in Usage."""
    text = README.read_text(encoding="utf-8")
    usage = text.split("\n## Usage\n", 1)[1].split("\n### ", 1)[0]
    for option in COMMON:
        assert option in usage, f"README's Usage section does not mention {option}"


def test_the_allow_list_names_only_commands_without_a_section() -> None:
    """NOT_YET_DOCUMENTED holds real commands that still lack their section."""
    for command in NOT_YET_DOCUMENTED:
        assert command in COMMANDS, f"NOT_YET_DOCUMENTED names no command: {command}"
        assert _section_of(command) is None, f"`dmnpharm {command}` has a section now"
