"""The evidence catalog's claims, the publications linked to them, and the verdict rule."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from dmnpharm.catalog._publications import Publication
from dmnpharm.exceptions import InputError

__all__ = ["Claim", "ClaimLink", "derive_verdict"]


@dataclass(frozen=True)
class ClaimLink:
    """How one publication bears on a claim.

    Parameters
    ----------
    study : str
        Id of the :class:`Publication`.
    relation : str
        One of :data:`RELATIONS`.
    """

    study: str
    relation: str


@dataclass(frozen=True)
class Claim:
    """A claim of the catalog about how a drug class changes the DMN.

    Parameters
    ----------
    id : str
        Unique lowercase id.
    drug_class : str
        Id of the :class:`DrugClass` (``"any"`` for cross-class claims).
    population : str
        Id of the :class:`Population` (``"any"`` for cross-population claims).
    statement : str
        The claim in one sentence.
    measures : tuple of str
        Keys of :data:`VOCABULARY` that test it.
    expected_direction : str
        One of :data:`DIRECTIONS` ("mixed" where the claim only says "changes").
    links : tuple of ClaimLink
        The publications that bear on it.
    verdict : str
        One of :data:`VERDICTS`; must equal :func:`derive_verdict`.
    rationale : str
        Why, in one or two sentences.
    """

    id: str
    drug_class: str
    population: str
    statement: str
    measures: tuple[str, ...]
    expected_direction: str
    links: tuple[ClaimLink, ...]
    verdict: str
    rationale: str


def derive_verdict(claim: Claim, studies_by_id: Mapping[str, Publication]) -> str:
    """Return the verdict that follows from a claim's links.

    The rule, applied in order:

    1. Only resting-state studies (modality ``"rest"`` or ``"rest+task"``)
       count; task-only studies never do. If no linked study is resting-state,
       the verdict is ``"no resting-state evidence"``.
    2. Of those, studies graded ``"unconfirmed"`` are set aside. If any
       remaining study *contradicts* the claim, the verdict is ``"contested"``
       (whatever else supports it).
    3. If at least two ``"confirmed"`` studies *support* the claim, or one
       ``"confirmed"`` meta-analysis does, the verdict is ``"supported"``.
    4. Otherwise (only partial relations, partly confirmed support, or a single
       supporting study) the verdict is ``"weak"``.

    Parameters
    ----------
    claim : Claim
        The claim to judge.
    studies_by_id : mapping of str to Publication
        Every publication the links may name.

    Returns
    -------
    str
        One of :data:`VERDICTS`.

    Raises
    ------
    InputError
        When a link names a publication that ``studies_by_id`` lacks.
    """
    linked: list[tuple[Publication, str]] = []
    for link in claim.links:
        if link.study not in studies_by_id:
            raise InputError(f"claim {claim.id!r} links unknown study {link.study!r}")
        linked.append((studies_by_id[link.study], link.relation))
    rest = [(s, rel) for s, rel in linked if s.is_resting_state]
    if not rest:
        return "no resting-state evidence"
    counted = [(s, rel) for s, rel in rest if s.confirmation != "unconfirmed"]
    if any(rel == "contradicts" for _, rel in counted):
        return "contested"
    support = [s for s, rel in counted if rel == "supports" and s.confirmation == "confirmed"]
    if len(support) >= 2 or any(s.design == "meta-analysis" for s in support):
        return "supported"
    return "weak"
