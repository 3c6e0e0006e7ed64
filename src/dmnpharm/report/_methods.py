"""Pieces of methods paragraphs shared by the reports."""

from __future__ import annotations

from collections.abc import Sequence

from dmnpharm.metrics import ESTIMATOR_REFERENCES, MEASURE_CAVEATS, MEASURE_REFERENCES

__all__ = ["caveats_sentence", "references_sentence"]


def _join(names: Sequence[str]) -> str:
    if len(names) < 3:
        return " and ".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def references_sentence(measures: Sequence[str], estimator: str | None = None) -> str:
    """Cite the source of each reported measure (and of the connectivity estimator).

    Measures sharing a source are cited together, in the order given. Plain
    averages of connectivity, which have no single source, are said to be
    such; names that are not dmnpharm measures are left out.

    Parameters
    ----------
    measures : sequence of str
        The measures reported (keys of
        :data:`dmnpharm.metrics.MEASURE_REFERENCES`; others are ignored).
    estimator : str or None
        The connectivity estimator (a key of
        :data:`dmnpharm.metrics.ESTIMATOR_REFERENCES`), or None.

    Returns
    -------
    str
        One or two sentences, or "" when there is nothing to cite.
    """
    cited: dict[str, list[str]] = {}
    plain: list[str] = []
    for measure in dict.fromkeys(str(m) for m in measures):
        if measure not in MEASURE_REFERENCES:
            continue
        source = MEASURE_REFERENCES[measure]
        if source:
            cited.setdefault(source, []).append(measure)
        else:
            plain.append(measure)
    parts = [f"{_join(names)}: {source}" for source, names in cited.items()]
    if estimator and ESTIMATOR_REFERENCES.get(estimator):
        parts.insert(0, f"{estimator} connectivity: {ESTIMATOR_REFERENCES[estimator]}")
    text = f"References: {'; '.join(parts)}." if parts else ""
    if plain:
        verb = "is a plain average" if len(plain) == 1 else "are plain averages"
        text += (
            f"{' ' if text else ''}{_join(plain)} {verb} of connectivity over region pairs "
            "(no single source)."
        )
    return text


def caveats_sentence(measures: Sequence[str]) -> str:
    """Say, for each reported measure whose meaning depends on SNR or GSR, what to keep in mind.

    Parameters
    ----------
    measures : sequence of str
        The measures reported (keys of :data:`dmnpharm.metrics.MEASURE_CAVEATS`
        get a caveat; others none).

    Returns
    -------
    str
        ``"Caveats: ..."``, or "" when no reported measure has one.

    Examples
    --------
    >>> caveats_sentence(["dmn_within_fc"])
    ''
    >>> caveats_sentence(["dmn_gbc"])[:20]
    'Caveats: dmn_gbc: af'
    """
    notes = [
        f"{m}: {MEASURE_CAVEATS[m]}"
        for m in dict.fromkeys(str(m) for m in measures)
        if m in MEASURE_CAVEATS
    ]
    return f"Caveats: {'; '.join(notes)}." if notes else ""
