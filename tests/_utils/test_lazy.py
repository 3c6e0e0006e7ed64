"""Lazy package exports read from a package's ``if TYPE_CHECKING:`` imports."""

from pathlib import Path

import pytest

from dmnpharm._utils._lazy import exported_names


def test_exported_names_map_each_name_to_its_module(tmp_path: Path) -> None:
    """Names come from the TYPE_CHECKING block only, in order, with their modules."""
    init = tmp_path / "__init__.py"
    init.write_text(
        "from typing import TYPE_CHECKING\n"
        "import os\n"
        "if TYPE_CHECKING:\n"
        "    from pkg._a import one, two\n"
        "    from pkg._b import three\n"
    )
    assert exported_names(init) == {"one": "pkg._a", "two": "pkg._a", "three": "pkg._b"}


@pytest.mark.parametrize(
    "statement",
    ["from ._a import one", "from pkg._a import one as uno", "from pkg._a import *"],
)
def test_exports_that_cannot_be_lazy_are_refused(tmp_path: Path, statement: str) -> None:
    """Relative, renamed and star imports in the block are errors, not silent gaps."""
    init = tmp_path / "__init__.py"
    init.write_text(f"from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    {statement}\n")
    with pytest.raises(ValueError, match=r"lazy|lazily"):
        exported_names(init)
