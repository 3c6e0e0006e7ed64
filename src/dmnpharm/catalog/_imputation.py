"""The smallest effect a reported significance implies: conservative imputation.

Many pharmaco-fMRI papers report a finding as significant ("p < 0.05, FWE")
without the statistic behind it. A meta-analysis then either drops the finding
or imputes the effect at the significance threshold: the test statistic that
just reaches the reported two-sided p with the study's degrees of freedom,
turned into a standardized effect (Lipsey & Wilson, *Practical Meta-Analysis*,
2001, ch. 3; Borenstein et al., *Introduction to Meta-Analysis*, 2009, ch. 7).
The imputed value is a lower bound on the size of the sample effect: a study
that reached p < 0.05 had at least that effect (more under a corrected
threshold, because the per-test p was smaller). Pooled with reported numbers it
pulls the estimate towards zero, which is why the catalog marks these findings
``effect_confidence = "imputed"`` and :func:`~dmnpharm.catalog.pool_literature`
reports the pool with and without them.

A sample size larger than the analysed one keeps the bound valid (the threshold
effect shrinks as n grows), so a study's scanned n may stand in for an unknown
analysed n.
"""

from __future__ import annotations

import math
from typing import NamedTuple

__all__ = ["IMPUTABLE_KINDS", "ImputedEffect", "impute_from_significance"]

#: Effect kinds a significance threshold can be turned into: ``d_z`` for a
#: within-subject contrast of ``n`` subjects (paired t, n - 1 df) and
#: ``hedges_g`` for two independent groups (Student t, n1 + n2 - 2 df).
IMPUTABLE_KINDS: tuple[str, ...] = ("d_z", "hedges_g")


class ImputedEffect(NamedTuple):
    """An effect imputed from a significance threshold.

    Parameters
    ----------
    value : float
        The signed effect (negative for a decrease).
    t : float
        The two-sided critical t at the threshold.
    df : int
        Its degrees of freedom.
    derivation : str
        One sentence that says how ``value`` was obtained.
    """

    value: float
    t: float
    df: int
    derivation: str


def impute_from_significance(
    p: float,
    kind: str,
    direction: str,
    n: int | None = None,
    group_sizes: tuple[int, ...] = (),
) -> ImputedEffect:
    """Return the smallest effect that reaches a two-sided ``p`` in its design.

    Parameters
    ----------
    p : float
        The two-sided significance threshold the source reports the finding
        at, in (0, 0.5], e.g. 0.05.
    kind : {"d_z", "hedges_g"}
        ``d_z``: a within-subject contrast of ``n`` subjects; ``hedges_g``: two
        independent groups of ``group_sizes``.
    direction : {"increase", "decrease"}
        The finding's direction, which gives the sign.
    n : int, optional
        Subjects of a within-subject contrast (``d_z``), at least 3.
    group_sizes : tuple of int, optional
        The two group sizes (``hedges_g``), each at least 2.

    Returns
    -------
    ImputedEffect
        ``d_z = t / sqrt(n)`` with ``t`` the critical t on ``n - 1`` df, or
        ``g = J t sqrt(1/n1 + 1/n2)`` on ``n1 + n2 - 2`` df with Hedges'
        small-sample factor ``J = 1 - 3 / (4 df - 1)``.

    Raises
    ------
    ValueError
        When ``p``, ``kind``, ``direction`` or the sample sizes do not allow an
        imputation; the message names the field.

    Examples
    --------
    >>> round(impute_from_significance(0.05, "d_z", "decrease", n=20).value, 3)
    -0.468
    """
    from dmnpharm.stats import t_ppf

    if not 0.0 < p <= 0.5:
        raise ValueError(f"significance_p must be in (0, 0.5], got {p!r}")
    sign = {"increase": 1.0, "decrease": -1.0}.get(direction)
    if sign is None:
        raise ValueError(
            f"an effect can be imputed only for an increase or a decrease, not {direction!r}"
        )
    if kind == "d_z":
        if n is None or n < 3:
            raise ValueError("an imputed d_z needs effect_n of at least 3 subjects")
        df = n - 1
        t = float(t_ppf(1.0 - p / 2.0, df))
        value = t / math.sqrt(n)
        how = f"d_z = t / sqrt(n) = {t:.3f} / sqrt({n})"
    elif kind == "hedges_g":
        if len(group_sizes) != 2 or min(group_sizes) < 2:
            raise ValueError("an imputed hedges_g needs effect_group_sizes = [n1, n2], each >= 2")
        n1, n2 = group_sizes
        df = n1 + n2 - 2
        t = float(t_ppf(1.0 - p / 2.0, df))
        j = 1.0 - 3.0 / (4.0 * df - 1.0)
        value = j * t * math.sqrt(1.0 / n1 + 1.0 / n2)
        how = f"g = J t sqrt(1/n1 + 1/n2) with t = {t:.3f}, n1 = {n1}, n2 = {n2}, J = {j:.4f}"
    else:
        raise ValueError(
            f"an effect can be imputed as {' or '.join(IMPUTABLE_KINDS)}, not {kind!r}"
        )
    derivation = (
        f"imputed at the reported threshold (two-sided p = {p:g}, {df} df): {how}; "
        "the smallest effect that reaches it, so a lower bound on the reported effect "
        "(conservative imputation, Lipsey & Wilson 2001)"
    )
    return ImputedEffect(sign * value, t, df, derivation)
