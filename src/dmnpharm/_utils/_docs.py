"""Shared numpydoc parameter descriptions, written once and filled into docstrings.

A parameter that many functions take with the same meaning (``seed``,
``n_permutations``, ``confidence``, ...) is described once in :data:`DOCDICT`.
In the ``Parameters`` section of a docstring, a line holding only
``%(seed)s``, indented like the other parameter names, stands for the whole
entry (the ``seed : int`` line and its description); lines indented below it
may add what only concerns that function. The function or class is decorated
with :func:`fill_doc`, which replaces the placeholders when the module is
imported, so ``help()``, Sphinx and the numpydoc checks all see the full text.

Only ``%(key)s`` placeholders are replaced; any other ``%`` in a docstring
(e.g. "5 %") is left alone. This module imports only the standard library, so
importing it costs nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

__all__ = ["DOCDICT", "fill_doc"]

_Documented = TypeVar("_Documented", bound=Callable[..., object])

#: ``%(key)s`` placeholders; the key is a Python identifier.
_PLACEHOLDER = re.compile(r"%\((?P<key>[A-Za-z_]\w*)\)s")


def _entry(header: str, *description: str) -> str:
    """Join a numpydoc parameter line and its description lines (indented by 4)."""
    return "\n".join([header, *(f"    {line}" for line in description)])


#: Shared descriptions, keyed by placeholder name. Each value is a complete
#: numpydoc entry: the ``name : type`` line, then its description indented by
#: four spaces relative to it.
DOCDICT: dict[str, str] = {
    "alpha": _entry(
        "alpha : float",
        "Significance level, between 0 and 1.",
    ),
    "amplitude_data": _entry(
        "amplitude_data : array_like or None",
        "The run cleaned the same way but without band-pass filtering, for",
        "ALFF/fALFF; None skips the amplitude measures (and says so).",
    ),
    "amplitude_kept": _entry(
        "kept : array_like of bool or None",
        "Kept volumes of the run (one per volume), for the amplitude spectrum.",
    ),
    "bundle_atlas": _entry(
        "atlas : Atlas",
        "Regions, networks and DMN subsystems; must have DMN regions.",
    ),
    "bundle_config": _entry(
        "config : BundleConfig or None",
        "Settings; None uses the defaults.",
    ),
    "bundle_matrix": _entry(
        "matrix : array_like or None",
        "A connectivity matrix to use instead of estimating one from",
        "``data`` (required for the tangent estimator, whose reference is the",
        "group's).",
    ),
    "fixed_body": _entry(
        "body : bytes",
        "The table's lines after its header.",
    ),
    "fixed_columns": _entry(
        "n_columns : int",
        "Values per line.",
    ),
    "cache_key": _entry(
        "key : str",
        "The entry's key (:meth:`dmnpharm.execution.RunCache.key`).",
    ),
    "cache_stage": _entry(
        "stage : str",
        "The kind of result (``signals``, ``run``, ``outputs``).",
    ),
    "cleaned_signals": _entry(
        "data : array_like",
        "Cleaned ``volumes x regions`` signals (kept volumes), atlas order.",
    ),
    "confidence": _entry(
        "confidence : float",
        "Level of the confidence intervals, a fraction (``0.95`` for 95 %).",
    ),
    "confounds_meta": _entry(
        "confounds_meta : mapping or None",
        "The parsed confounds JSON (acompcor with ``n_compcor=None``).",
    ),
    "design_matrix": _entry(
        "x : array_like",
        "Design matrix, rows x regressors.",
    ),
    "effect_label": _entry(
        "label : str",
        "Names the effect in an error.",
    ),
    "exchangeability": _entry(
        "exchangeability : Exchangeability, optional",
        "How rows may be permuted or sign-flipped (e.g. only within blocks);",
        "default: rows freely exchangeable.",
    ),
    "n_bootstrap": _entry(
        "n_bootstrap : int",
        "Bootstrap resamples of the subjects for the effect-size confidence",
        "intervals.",
    ),
    "n_permutations": _entry(
        "n_permutations : int",
        "Random permutations (relabellings or sign flips) drawn to build the null",
        "distribution.",
    ),
    "n_volumes": _entry(
        "n_volumes : int",
        "Volumes (time points) per run.",
    ),
    "overwrite": _entry(
        "overwrite : bool",
        "Replace the output folder if it exists and is not empty; when False such a",
        "folder is an error.",
    ),
    "region_signals": _entry(
        "data : array_like",
        "Region signals, ``n_volumes x n_regions``, all finite.",
    ),
    "repetition_time": _entry(
        "repetition_time : float",
        "Seconds between volumes (the TR).",
    ),
    "rng": _entry(
        "rng : numpy.random.Generator",
        "Source of randomness.",
    ),
    "seed": _entry(
        "seed : int",
        "Seed of the random draws: the same inputs and seed give the same result.",
    ),
    "simulated_study": _entry(
        "study : SimulatedStudy",
        "The simulated study, from :func:`dmnpharm.simulate.simulate_study`.",
    ),
}


def _fill(doc: str, owner: str) -> str:
    """Replace every ``%(key)s`` of ``doc`` by its indented :data:`DOCDICT` entry."""

    def substitute(match: re.Match[str]) -> str:
        key = match["key"]
        if key not in DOCDICT:
            known = ", ".join(sorted(DOCDICT))
            raise ValueError(
                f"The docstring of {owner} cites %({key})s, which is not a shared "
                f"parameter description of dmnpharm._utils._docs.DOCDICT; known keys: {known}"
            )
        line_start = doc.rfind("\n", 0, match.start()) + 1
        before = doc[line_start : match.start()]
        indent = before[: len(before) - len(before.lstrip())]
        first, *rest = DOCDICT[key].split("\n")
        return "\n".join([first, *(f"{indent}{line}" if line else line for line in rest)])

    return _PLACEHOLDER.sub(substitute, doc)


def fill_doc(obj: _Documented) -> _Documented:
    """Fill the ``%(key)s`` placeholders of a function's or class's docstring.

    Each placeholder is replaced by the :data:`DOCDICT` entry of that key, its
    continuation lines indented like the line the placeholder stands on. Text
    around the placeholders, including other ``%`` characters, is kept as is.

    Parameters
    ----------
    obj : callable
        The function or class to document; its ``__doc__`` is rewritten in
        place. A missing docstring (e.g. under ``python -OO``) is left missing.

    Returns
    -------
    callable
        ``obj`` itself, so that the function serves as a decorator.

    Raises
    ------
    ValueError
        If a placeholder names a key that :data:`DOCDICT` lacks (raised when
        the decorated module is imported).
    """
    doc = obj.__doc__
    if doc:
        owner = f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', obj)}"
        obj.__doc__ = _fill(doc, owner)
    return obj
