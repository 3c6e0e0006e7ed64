"""Lazy package exports: a subpackage's names are imported when first used.

``import dmnpharm.stats`` used to import every module of the package and,
through them, SciPy, scikit-learn, matplotlib and Dask: about 2.5 s before
``dmnpharm`` could do anything, which dominated a rerun that has nothing to
do. A package now lists its public names once, as ordinary imports inside an
``if TYPE_CHECKING:`` block (what type checkers and readers see), and
:func:`lazy_exports` turns that block into a module ``__getattr__`` (PEP 562)
that imports the defining module on first access.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["exported_names", "lazy_exports"]


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def exported_names(init_file: str | Path) -> dict[str, str]:
    """Return the names imported under ``if TYPE_CHECKING:`` in a package's ``__init__``.

    Parameters
    ----------
    init_file : str or Path
        The package's ``__init__.py``.

    Returns
    -------
    dict
        Exported name -> absolute name of the module that defines it, in
        the order of the imports.

    Raises
    ------
    ValueError
        An import in the block is relative, a star import, or renames.
    """
    tree = ast.parse(Path(init_file).read_text(encoding="utf-8"))
    names: dict[str, str] = {}
    for node in tree.body:
        if not (isinstance(node, ast.If) and _is_type_checking(node.test)):
            continue
        for statement in node.body:
            if not isinstance(statement, ast.ImportFrom):
                continue
            if statement.level or statement.module is None:
                raise ValueError(f"{init_file}: lazy exports must be absolute imports")
            for alias in statement.names:
                if alias.name == "*" or alias.asname not in (None, alias.name):
                    raise ValueError(f"{init_file}: cannot export {alias.name!r} lazily")
                names[alias.name] = statement.module
    return names


def lazy_exports(
    package: str, init_file: str | Path
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Return a package's ``__getattr__`` and ``__dir__`` that import names on demand.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    init_file : str or Path
        Its ``__file__``; the names and their modules are read from the
        ``if TYPE_CHECKING:`` imports there (:func:`exported_names`).

    Returns
    -------
    tuple of callable
        ``(__getattr__, __dir__)`` to assign at the package's top level.
        ``__getattr__`` imports the defining module, caches the value in the
        package namespace and returns it; an unknown name raises
        ``AttributeError`` as usual.

    Examples
    --------
    In ``dmnpharm/stats/__init__.py``::

        from typing import TYPE_CHECKING
        from dmnpharm._utils._lazy import lazy_exports

        if TYPE_CHECKING:
            from dmnpharm.stats._glm import analyse

        __all__ = ["analyse"]
        __getattr__, __dir__ = lazy_exports(__name__, __file__)
    """
    names = exported_names(init_file)
    module = importlib.import_module(package)

    def __getattr__(name: str) -> Any:  # noqa: N807 (the PEP 562 hook's name)
        source = names.get(name)
        if source is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(source), name)
        setattr(module, name, value)
        return value

    def __dir__() -> list[str]:  # noqa: N807
        return sorted({*vars(module), *names})

    return __getattr__, __dir__
