"""Read the evidence catalog's TOML file, validate it and build the :class:`Catalog`."""

from __future__ import annotations

import tomllib
from importlib.resources import files
from pathlib import Path

from dmnpharm.catalog._build import build_catalog
from dmnpharm.catalog._model import Catalog
from dmnpharm.catalog._schema import validate
from dmnpharm.exceptions import InputError

__all__ = ["default_catalog_path", "load_catalog"]


def default_catalog_path() -> Path:
    """Return the path of the evidence catalog shipped with dmnpharm.

    Returns
    -------
    pathlib.Path
        ``dmnpharm/catalog/data/evidence.toml`` inside the installed package.
    """
    return Path(str(files("dmnpharm.catalog") / "data" / "evidence.toml"))


def load_catalog(path: str | Path | None = None) -> Catalog:
    """Read and validate an evidence catalog.

    Parameters
    ----------
    path : str, pathlib.Path or None
        A TOML file in the catalog schema; None reads the catalog shipped
        with dmnpharm.

    Returns
    -------
    Catalog
        The validated catalog.

    Raises
    ------
    InputError
        When the file cannot be read or parsed, or has schema problems (all
        of them are listed).
    """
    if path is None:
        source = files("dmnpharm.catalog") / "data" / "evidence.toml"
        name = "the shipped evidence catalog"
        try:
            text = source.read_text(encoding="utf-8")
        except OSError as err:  # pragma: no cover - a broken installation
            raise InputError(f"cannot read {name}: {err}") from err
    else:
        file = Path(path)
        name = str(file)
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as err:
            raise InputError(f"cannot read evidence catalog {name!r}: {err}") from err
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"evidence catalog {name!r} is not valid TOML: {err}") from err
    problems = validate(raw)
    if problems:
        lines = "\n".join(f"  - {p}" for p in problems)
        plural = "s" if len(problems) != 1 else ""
        raise InputError(
            f"evidence catalog {name!r} has {len(problems)} problem{plural}:\n{lines}"
        )
    return build_catalog(raw)
