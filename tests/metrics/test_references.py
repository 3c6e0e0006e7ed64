"""Every network measure and estimator has its citation, and it matches the docstrings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import dmnpharm
from dmnpharm.metrics import (
    ESTIMATOR_REFERENCES,
    ESTIMATORS,
    MEASURE_REFERENCES,
    NETWORK_MEASURES,
)

#: Plain averages of connectivity over region pairs: definitions without one source.
PLAIN_AVERAGES = {"dmn_within_fc", "dmn_salience_fc", "dmn_fpn_fc", "dmn_dan_fc"}

#: "Surname [et al. | & Other] YEAR, <journal> VOLUME:PAGE".
CITATION = re.compile(
    r"([A-Z][A-Za-z-]+)(?: et al\.| & [A-Z][A-Za-z-]+)? (\d{4}), [^0-9]*?(\d+):([A-Z]?\d+)"
)
AUTHOR_YEAR = re.compile(r"([A-Z][A-Za-z-]+)(?: et al\.| & [A-Z][A-Za-z-]+)? (\d{4})")

PACKAGE = Path(dmnpharm.__file__).parent
SOURCES = "\n".join(
    path.read_text(encoding="utf-8")
    for folder in ("metrics", "signal", "atlases")
    for path in sorted((PACKAGE / folder).glob("*.py"))
    if path.name != "_references.py"
)


def test_every_network_measure_and_estimator_has_an_entry() -> None:
    """The mappings cover exactly the measures and estimators; only plain means are empty."""
    assert set(MEASURE_REFERENCES) == set(NETWORK_MEASURES)
    assert set(ESTIMATOR_REFERENCES) == set(ESTIMATORS)
    empty = {m for m, ref in MEASURE_REFERENCES.items() if not ref}
    assert empty == PLAIN_AVERAGES


@pytest.mark.parametrize(
    "reference",
    sorted({r for r in (*MEASURE_REFERENCES.values(), *ESTIMATOR_REFERENCES.values()) if r}),
)
def test_citations_are_the_ones_in_the_docstrings(reference: str) -> None:
    """Each cited author, year and volume:page appears in the metrics/signal/atlas sources."""
    found = CITATION.findall(reference)
    assert found, reference
    for surname, year, volume, page in found:
        near = re.search(rf"{re.escape(surname)}.{{0,120}}{year}", SOURCES, re.DOTALL)
        assert near, f"{surname} {year} is not cited in the docstrings"
        assert f"{volume}:{page}" in SOURCES, f"{volume}:{page} ({surname}) not in the docstrings"


@pytest.mark.parametrize("measure", sorted(NETWORK_MEASURES))
def test_descriptions_and_references_agree(measure: str) -> None:
    """A source named in a measure's one-line description is the one its reference cites."""
    reference = MEASURE_REFERENCES[measure]
    for surname, year in AUTHOR_YEAR.findall(NETWORK_MEASURES[measure]):
        assert surname in reference, (measure, surname)
        assert year in reference, (measure, year)
