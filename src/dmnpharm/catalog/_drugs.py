"""The evidence catalog's drug records: drug classes, agents and their targets.

Every record is a frozen dataclass so that a loaded catalog is hashable and can
be stored in provenance. The controlled vocabularies live in ``_vocabulary``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Agent", "DrugClass", "Target"]


@dataclass(frozen=True)
class DrugClass:
    """A pharmacological class of drugs.

    Parameters
    ----------
    id : str
        Short lowercase identifier, e.g. ``"ssri_snri"``.
    name : str
        Human-readable name.
    description : str
        One sentence on what the class is.
    """

    id: str
    name: str
    description: str


@dataclass(frozen=True)
class Target:
    """One molecular target of an agent.

    Parameters
    ----------
    target : str
        Target name; where a PET map exists the name of Hansen et al. (2022) is
        used (``"5HTT"``, ``"5HT2a"``, ``"D2"``, ``"GABAa"``, ``"NMDA"``, ...).
    mode : str
        One of :data:`MODES`.
    """

    target: str
    mode: str


@dataclass(frozen=True)
class Agent:
    """A drug (or a mixture such as ayahuasca) named by the publications.

    Parameters
    ----------
    id : str
        Lowercase identifier, e.g. ``"escitalopram"``.
    name : str
        Display name.
    drug_class : str
        Id of its :class:`DrugClass`.
    targets : tuple of Target
        Main molecular targets and how the agent acts on them.
    """

    id: str
    name: str
    drug_class: str
    targets: tuple[Target, ...]
