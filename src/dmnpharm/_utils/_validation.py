"""Validation helpers that name the parameter, the allowed values and a fix."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from dmnpharm.exceptions import InputError

__all__ = ["check_option", "closest_match"]


def closest_match(value: str, allowed: Iterable[str]) -> str | None:
    """Return the allowed value closest to ``value``, or None if none is close.

    Parameters
    ----------
    value : str
        What the user gave.
    allowed : iterable of str
        The values that would have been accepted.

    Returns
    -------
    str or None
        The best match by :func:`difflib.get_close_matches` (cutoff 0.6),
        comparing stripped, lower-cased forms so that ``'Placebo '`` finds
        ``'placebo'``.
    """
    options = list(allowed)
    lowered = {opt.strip().lower(): opt for opt in options}
    key = value.strip().lower()
    if key in lowered:
        return lowered[key]
    hits = difflib.get_close_matches(key, list(lowered), n=1, cutoff=0.6)
    return lowered[hits[0]] if hits else None


def check_option(name: str, value: str, allowed: Iterable[str], where: str = "") -> str:
    """Check that ``value`` is one of ``allowed`` and return it.

    Parameters
    ----------
    name : str
        The parameter or column being checked, used in the message.
    value : str
        The value given.
    allowed : iterable of str
        Accepted values.
    where : str
        Optional location (file and row) added to the message.

    Returns
    -------
    str
        ``value`` unchanged when it is allowed.

    Raises
    ------
    InputError
        When ``value`` is not allowed; the message lists the allowed values and
        suggests the closest one.
    """
    options = list(allowed)
    if value in options:
        return value
    hint = closest_match(value, options)
    suggestion = f"; did you mean '{hint}'?" if hint is not None else ""
    location = f" in {where}" if where else ""
    listed = ", ".join(repr(o) for o in options)
    raise InputError(f"{name} {value!r}{location} is not one of {listed}{suggestion}")
