"""Measure names on the command line: one vocabulary, in either of its two spellings.

Results tables (``run``'s ``group/results.tsv``, ``stats``'s ``results.tsv``,
``metrics.parquet``) and the evidence catalog name a network measure the same
way: ``dmn_within_fc``, ``dmn_salience_fc``, ... (:data:`dmnpharm.catalog.VOCABULARY`).
The simulator's ground truth and ``power`` spell the connectivity measures it
plants by network code: ``within_fc_DMN``, ``between_fc_DMN_SN``, ...
``dmnpharm.catalog`` maps the two by definition (``MEASURE_ALIASES``); every
command that takes a measure name accepts either spelling and translates it
here, and an unknown name is refused with the closest name of either.

The catalog, and with it the metrics stack, is imported only when a name is
translated, so that ``import dmnpharm.cli`` stays light.
"""

from __future__ import annotations

import re

from dmnpharm._utils import closest_match
from dmnpharm.exceptions import UsageError

__all__ = ["power_measure", "results_measure", "results_spelling", "vocabulary_text"]

#: The simulator's connectivity measures: ``within_fc_<NET>``, ``between_fc_<A>_<B>``.
_SIMULATED = re.compile(r"^(within_fc_[A-Za-z]+|between_fc_[A-Za-z]+_[A-Za-z]+)$")


def _aliases() -> dict[str, str]:
    """Return the simulator's names mapped to the results/catalog names."""
    from dmnpharm.catalog import MEASURE_ALIASES

    return dict(MEASURE_ALIASES)


def _results_names() -> list[str]:
    """Return every name of the results tables and the catalog (dmnpharm's measures first)."""
    from dmnpharm.catalog import COMPUTED, VOCABULARY

    return sorted(VOCABULARY, key=lambda name: (name not in COMPUTED, name))


def _simulated_form(name: str, option: str, for_power: bool) -> str:
    """Return a simulator name with its network codes spelt as the vocabulary spells them."""
    from dmnpharm.atlases import NETWORKS

    codes = {code.lower(): code for code in NETWORKS if code != "NONE"}
    kind, _, networks = name.partition("_fc_")
    spelt = [codes.get(net.lower(), "") for net in networks.split("_")]
    if not all(spelt):
        raise _unknown(option, name, for_power)
    return "_".join([f"{kind.lower()}_fc", *spelt])


def _aliased_form(simulated: str) -> str:
    """Return a simulator name in the network order the aliases use, if they have it."""
    aliases = _aliases()
    kind, _, networks = simulated.partition("_fc_")
    swapped = "_".join([f"{kind}_fc", *reversed(networks.split("_"))])
    return swapped if simulated not in aliases and swapped in aliases else simulated


def _alias_of(simulated: str) -> str | None:
    """Return the results name of a simulator name; between-network FC in either order."""
    return _aliases().get(_aliased_form(simulated))


def vocabulary_text(for_power: bool = False) -> str:
    """Return the two spellings of the measure vocabulary, for messages and help.

    Parameters
    ----------
    for_power : bool
        List only what ``power`` can simulate (the connectivity measures).

    Returns
    -------
    str
        One paragraph: the results/catalog names, the simulator's names and
        the pairs that mean the same measure.
    """
    aliases = _aliases()
    pairs = ", ".join(f"{ours} = {theirs}" for theirs, ours in aliases.items())
    from dmnpharm.atlases import NETWORKS

    codes = ", ".join(code for code in NETWORKS if code != "NONE")
    simulator = (
        f"within_fc_<NET> and between_fc_<A>_<B> as the simulator names them (network codes: "
        f"{codes})"
    )
    if for_power:
        return (
            f"power simulates connectivity: {', '.join(aliases.values())} as results tables "
            f"and the catalog name them, or {simulator}; the same measure in both: {pairs}"
        )
    from dmnpharm.catalog import COMPUTED

    names = _results_names()
    ours = ", ".join(name for name in names if name in COMPUTED)
    catalog = ", ".join(name for name in names if name not in COMPUTED)
    return (
        f"results tables and the evidence catalog name measures {ours} (catalog only: "
        f"{catalog}); connectivity may also be named {simulator}; the same measure in both: "
        f"{pairs}"
    )


def _unknown(option: str, name: str, for_power: bool) -> UsageError:
    """Return the error for a name of neither spelling, with the closest of both."""
    known = [*_results_names(), *_aliases()]
    hint = closest_match(name, known)
    suggestion = f"; did you mean '{hint}'?" if hint is not None else "."
    return UsageError(
        f"{option} {name!r} is not a measure{suggestion} {vocabulary_text(for_power)}"
    )


def results_measure(name: str, option: str = "--measure") -> str:
    """Return the results tables' (and the catalog's) name of a measure given in either spelling.

    Parameters
    ----------
    name : str
        ``dmn_within_fc`` (returned as is), its simulator spelling
        ``within_fc_DMN``, or either with other letter case or spaces around.
    option : str
        The option the name came from, for the message.

    Returns
    -------
    str
        A key of :data:`dmnpharm.catalog.VOCABULARY`.

    Raises
    ------
    UsageError
        When the name is neither spelling of a measure, or a simulated
        measure that results tables and the catalog do not have (e.g.
        ``within_fc_SN``); the message suggests the closest name and lists
        both spellings.
    """
    given = name.strip()
    if _SIMULATED.match(given):
        same = _alias_of(_simulated_form(given, option, for_power=False))
        if same is not None:
            return same
        raise UsageError(
            f"{option} {name!r} is a measure the simulator plants, but results tables and "
            f"the evidence catalog have no measure of that definition. {vocabulary_text()}"
        )
    lowered = {known.lower(): known for known in _results_names()}
    if given.lower() in lowered:
        return lowered[given.lower()]
    raise _unknown(option, name, for_power=False)


def power_measure(name: str, option: str = "--measure") -> str:
    """Return the simulator's name of a connectivity measure given in either spelling.

    Parameters
    ----------
    name : str
        ``within_fc_DMN`` or ``between_fc_DMN_SN`` (network codes in any
        letter case), or the results/catalog name of the same measure
        (``dmn_within_fc``, ``dmn_salience_fc``, ``dmn_fpn_fc``,
        ``dmn_dan_fc``).
    option : str
        The option the name came from, for the message.

    Returns
    -------
    str
        ``within_fc_<NET>`` or ``between_fc_<A>_<B>``, as
        :func:`dmnpharm.simulate.power_analysis` takes it; a DMN pair with a
        results name is put in that name's order (``between_fc_SN_DMN`` gives
        ``between_fc_DMN_SN``). Whether the atlas has the networks is checked
        there.

    Raises
    ------
    UsageError
        When the name is no measure, or a measure that ``power`` cannot
        simulate (e.g. ``dmn_alff``); the message lists what it can.
    """
    given = name.strip()
    if _SIMULATED.match(given):
        return _aliased_form(_simulated_form(given, option, for_power=True))
    to_simulator = {ours: theirs for theirs, ours in _aliases().items()}
    lowered = {known.lower(): known for known in _results_names()}
    canonical = lowered.get(given.lower())
    if canonical is None:
        raise _unknown(option, name, for_power=True)
    if canonical not in to_simulator:
        raise UsageError(
            f"{option} {name!r} is a measure of results tables that power cannot simulate; "
            f"{vocabulary_text(for_power=True)}"
        )
    return to_simulator[canonical]


def results_spelling(simulated: str) -> str | None:
    """Return the results/catalog name of a simulator measure, or None if they have none.

    Parameters
    ----------
    simulated : str
        A simulator name, e.g. ``within_fc_DMN``.

    Returns
    -------
    str or None
        E.g. ``dmn_within_fc``; None for ``within_fc_SN``.
    """
    return _alias_of(simulated)
