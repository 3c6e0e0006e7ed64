"""Human sizes and ages for the result cache: ``5GB``, ``1.5G``, ``30d``; the size cap.

Sizes in kB, MB, GB and TB are powers of 1000 (as disks are sold and ``ls -h
--si`` counts); KiB, MiB, GiB and TiB powers of 1024; a bare number is bytes.
"""

from __future__ import annotations

import math
import os
import re

from dmnpharm.exceptions import InputError

__all__ = [
    "DEFAULT_MAX_SIZE",
    "MAX_SIZE_ENV",
    "format_size",
    "parse_age",
    "parse_size",
    "resolve_max_size",
]

#: Environment variable giving the cache's size cap (``5GB``, ``500MB``; ``off`` for none).
MAX_SIZE_ENV = "DMNPHARM_CACHE_MAX_SIZE"

#: The cap when none is given: 5 GB (powers of 1000), about 25 analyses the size of the demo.
DEFAULT_MAX_SIZE = 5 * 10**9

_SIZE_UNITS = {
    "": 1,
    "b": 1,
    **{p: 1000**i for i, p in enumerate("kmgt", start=1)},
    **{f"{p}b": 1000**i for i, p in enumerate("kmgt", start=1)},
    **{f"{p}i": 1024**i for i, p in enumerate("kmgt", start=1)},
    **{f"{p}ib": 1024**i for i, p in enumerate("kmgt", start=1)},
}
_AGE_UNITS = {
    **dict.fromkeys(("s", "sec", "second", "seconds"), 1.0),
    **dict.fromkeys(("m", "min", "minute", "minutes"), 60.0),
    **dict.fromkeys(("h", "hour", "hours"), 3600.0),
    **dict.fromkeys(("d", "day", "days"), 86400.0),
    **dict.fromkeys(("w", "week", "weeks"), 7 * 86400.0),
}
_NUMBER_UNIT = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)\s*$", re.IGNORECASE)
_SIZE_EXAMPLE = (
    "give a number and a unit, e.g. 500MB, 5GB or 1.5G (kB, MB, GB, TB are powers of "
    "1000; KiB, MiB, GiB, TiB powers of 1024)"
)


def parse_size(text: str, what: str = "size", allow_off: bool = False) -> int | None:
    """Parse a human size such as ``500MB``, ``5GB``, ``1.5G`` or ``2GiB`` into bytes.

    Parameters
    ----------
    text : str
        A number and an optional unit (bytes without one), case-insensitive.
    what : str
        What the value is, for the error message (``--max-size``).
    allow_off : bool
        Accept ``off`` or ``none`` (no cap), returned as None.

    Returns
    -------
    int or None
        Bytes, rounded down; None for ``off`` when allowed.

    Raises
    ------
    InputError
        Not a size; the message shows examples.
    """
    if allow_off and text.strip().lower() in {"off", "none"}:
        return None
    match = _NUMBER_UNIT.match(text)
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in _SIZE_UNITS:
        extra = " or 'off' for no cap" if allow_off else ""
        raise InputError(f"{what} {text!r} is not a size: {_SIZE_EXAMPLE}{extra}")
    return int(float(match.group(1)) * _SIZE_UNITS[unit])


def parse_age(text: str, what: str = "age") -> float:
    """Parse a human age such as ``30d``, ``12h``, ``90min`` or ``2w`` into seconds.

    Parameters
    ----------
    text : str
        A number and a unit: s, m or min, h, d, w (case-insensitive).
    what : str
        What the value is, for the error message (``--older-than``).

    Returns
    -------
    float
        Seconds.

    Raises
    ------
    InputError
        Not an age (a unit is required); the message shows examples.
    """
    match = _NUMBER_UNIT.match(text)
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in _AGE_UNITS:
        raise InputError(
            f"{what} {text!r} is not an age: give a number and a unit, e.g. 30d, 12h, 90min "
            "or 2w (s, min, h, d, w)"
        )
    return float(match.group(1)) * _AGE_UNITS[unit]


def format_size(n_bytes: int) -> str:
    """Write a byte count the way sizes are given: ``2.1 GB``, ``512.0 kB``, ``17 B``.

    Parameters
    ----------
    n_bytes : int
        A size in bytes.

    Returns
    -------
    str
        One decimal in the largest unit (powers of 1000) that keeps the number >= 1.
    """
    if abs(n_bytes) < 1000:
        return f"{n_bytes} B"
    exponent = min(int(math.log10(abs(n_bytes)) // 3), 4)
    return f"{n_bytes / 1000**exponent:.1f} {('kB', 'MB', 'GB', 'TB')[exponent - 1]}"


def resolve_max_size(value: int | str | None = None) -> tuple[int | None, str]:
    """Return the cache's size cap and where it came from.

    Parameters
    ----------
    value : int, str or None
        Bytes, or a size such as ``5GB`` (``off``: no cap). None:
        ``$DMNPHARM_CACHE_MAX_SIZE`` when set, else :data:`DEFAULT_MAX_SIZE`.

    Returns
    -------
    tuple
        ``(bytes or None for no cap, source)``; source is ``given``,
        ``$DMNPHARM_CACHE_MAX_SIZE`` or ``default``.

    Raises
    ------
    InputError
        A negative number, or text that is not a size.
    """
    if isinstance(value, int):
        if value < 0:
            raise InputError(f"cache size cap must be at least 0 bytes, got {value}")
        return value, "given"
    if value is not None:
        return parse_size(value, "cache size cap", allow_off=True), "given"
    named = os.environ.get(MAX_SIZE_ENV, "").strip()
    if named:
        return parse_size(named, f"${MAX_SIZE_ENV}", allow_off=True), f"${MAX_SIZE_ENV}"
    return DEFAULT_MAX_SIZE, "default"
