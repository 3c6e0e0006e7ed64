"""The ``dmnpharm`` command-line tool: a thin shell over the library."""

from dmnpharm.cli._main import build_parser, main

__all__ = ["build_parser", "main"]
