"""The group model and inference options of ``run``, ``validate`` and ``demo``."""

from __future__ import annotations

import argparse

from dmnpharm.cli._common import DeprecatedAlias, add_seed, contrast, positive_int
from dmnpharm.config import DEFAULT_CONTRAST
from dmnpharm.stats import N_PERMUTATIONS

__all__ = ["add_analysis"]


def add_analysis(
    sub: argparse.ArgumentParser, seed_help: str | None, designs: bool = True
) -> None:
    """Add the group model and inference options of ``run``, ``validate`` and ``demo``.

    Parameters
    ----------
    sub : argparse.ArgumentParser
        A command's parser.
    seed_help : str or None
        What ``--seed`` seeds in this command; None when the command adds
        ``--seed`` itself (then only the deprecated ``--perm-seed`` is added,
        stored as ``perm_seed``).
    designs : bool
        Also add the options of other designs than a complete paired
        contrast: the between-subject model (``--between``,
        ``--between-contrast``, ``--covariate``, ``--block``) and
        ``--drop-incomplete``. False for ``demo``, whose simulated crossover
        is complete and paired.
    """
    a, b = DEFAULT_CONTRAST
    sub.add_argument(
        "--contrast",
        type=contrast,
        default=DEFAULT_CONTRAST,
        help=f"within-subject contrast A-B (default: {a}-{b})",
    )
    sub.add_argument(
        "--permutations",
        type=positive_int,
        default=N_PERMUTATIONS,
        help=f"random sign flips (or permutations) for the p-values (default: {N_PERMUTATIONS})",
    )
    if seed_help is None:
        sub.add_argument(
            "--perm-seed", dest="perm_seed", type=int, action=DeprecatedAlias, new_name="--seed"
        )
    else:
        add_seed(sub, seed_help)
    if designs:
        _add_designs(sub)
    sub.add_argument(
        "--motion-covariate",
        action="store_true",
        help="paired contrast: adjust for each run's mean framewise displacement (its "
        "within-subject change, uncentred: the estimate is the change at equal motion). "
        "Without it the adjusted test is still written beside the primary one whenever "
        "motion differs between the conditions",
    )


def _add_designs(sub: argparse.ArgumentParser) -> None:
    """Add the between-subject model and ``--drop-incomplete``."""
    sub.add_argument(
        "--between",
        default=None,
        help="between-subject design instead of the paired contrast: the participants "
        "column compared, e.g. medication or group (observational cohorts)",
    )
    sub.add_argument(
        "--between-contrast",
        nargs=2,
        metavar=("A", "B"),
        default=None,
        help="levels of --between compared, A minus B (default: its two levels)",
    )
    sub.add_argument(
        "--covariate",
        action="append",
        default=[],
        help="subject-level covariate of the between-subject model (repeatable), e.g. age",
    )
    sub.add_argument(
        "--block", default=None, help="permute within these blocks (between design), e.g. site"
    )
    sub.add_argument(
        "--drop-incomplete",
        action="store_true",
        help="paired contrast: leave out participants lacking one of its conditions (listed "
        "in the results) instead of refusing the study",
    )
