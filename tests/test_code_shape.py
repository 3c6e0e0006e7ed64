"""The shape rules of docs/architecture.md: small modules, short orchestrating functions."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "dmnpharm"

#: Longest module, in lines.
MODULE_LINES = 500

#: Longest function, in lines of code (docstring excluded), where work is orchestrated.
FUNCTION_LINES = 60
ORCHESTRATING = ("pipeline", "execution", "cli")


def _code_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines of a function from its signature to its end, less its docstring."""
    assert node.end_lineno is not None
    total = node.end_lineno - node.lineno + 1
    first = node.body[0]
    is_doc = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
    if is_doc and isinstance(first.value.value, str) and first.end_lineno is not None:
        total -= first.end_lineno - first.lineno + 1
    return total


def long_functions(folder: Path, limit: int) -> list[str]:
    """Return ``file:function (lines)`` for functions over ``limit`` code lines."""
    found = []
    for path in sorted(folder.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = _code_lines(node)
                if lines > limit:
                    found.append(f"{path.relative_to(folder).as_posix()}:{node.name} ({lines})")
    return found


def test_no_module_is_over_500_lines() -> None:
    """Work lives in modules small enough to read whole."""
    long = [
        f"{p.relative_to(SRC)} ({n})"
        for p in sorted(SRC.rglob("*.py"))
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MODULE_LINES
    ]
    assert long == []


@pytest.mark.parametrize("package", ORCHESTRATING)
def test_orchestrating_functions_are_short(package: str) -> None:
    """No function in pipeline/, execution/ or cli/ is over 60 lines of code."""
    assert long_functions(SRC / package, FUNCTION_LINES) == []


def test_the_counter_sees_long_functions(tmp_path: Path) -> None:
    """The rule's counter flags a long function and leaves its docstring out of the count."""
    body = "\n".join(f"    x{i} = {i}" for i in range(61))
    doc = '    """Doc.\n\n    More.\n    """\n'
    source = f"def long():\n{doc}{body}\n\n\ndef short():\n{doc}    return 1\n"
    (tmp_path / "m.py").write_text(source, encoding="utf-8")
    assert long_functions(tmp_path, FUNCTION_LINES) == ["m.py:long (62)"]
