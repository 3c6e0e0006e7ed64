"""The per-region weights of a regional effect: which measures take them, and their checks.

A regional effect (``regional_amplitude``, ``regional_coupling``) scales region
``i`` by ``1 + size x multiplier x w_i``, where ``w`` is a map over the atlas's
regions (a receptor density, a gene-expression map) given in atlas order. The
weights are used as given: :func:`dmnpharm.simulate.regional_effect` rescales a
map to ``max |w| = 1`` (a z-scored map then spans [-1, 1]), so that ``size`` is
the change of the region with the largest weight. Their count is checked against
the atlas when the spec meets it (:func:`dmnpharm.simulate._regional.check_regional_weights`).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable

import numpy as np

from dmnpharm.exceptions import InputError

__all__ = ["REGIONAL_MEASURES", "REGIONAL_UNITS", "check_weights", "weights_digest"]

#: The regional effect measures and the unit of their ``size`` (part of ``EFFECT_MEASURES``).
REGIONAL_UNITS: dict[str, str] = {
    "regional_amplitude": "fractional change of region i's BOLD signal SD per unit weight w_i: "
    "region i's SD (and ALFF) scales by 1 + size x w_i",
    "regional_coupling": "fractional change, per unit weight w_i, of the amplitude of region "
    "i's shared signals (network, global, local) relative to its private noise, at constant "
    "BOLD variance: its correlations scale by about 1 + size x w_i x (its noise share of "
    "variance); its ALFF stays",
}

#: Effect measures whose size per region follows a map of weights.
REGIONAL_MEASURES = tuple(REGIONAL_UNITS)


def _weight(measure: str, position: int, value: object) -> float:
    real = isinstance(value, int | float | np.integer | np.floating)
    if not real or isinstance(value, bool | np.bool_):
        raise InputError(
            f"weight {position} of the {measure} effect must be a number; got {value!r}"
        )
    number = float(value)  # type: ignore[arg-type]  # a real number, checked above
    if not math.isfinite(number):
        raise InputError(
            f"weight {position} of the {measure} effect is {number!r}; weights must be finite "
            "(fill the map's missing regions, e.g. with 0, before building the effect)"
        )
    return number


def check_weights(
    measure: str, size: float, weights: Iterable[object], label: object = ""
) -> tuple[float, ...]:
    """Check an effect's weights and label; return the weights as a tuple of floats.

    Parameters
    ----------
    measure : str
        The effect's measure; only :data:`REGIONAL_MEASURES` take weights.
    size : float
        The effect's size (checked finite already).
    weights : iterable of float
        One value per atlas region, in atlas order (empty for other measures).
    label : str
        What the weights are (checked to be text).

    Returns
    -------
    tuple of float
        The weights, as floats.

    Raises
    ------
    InputError
        Weights missing on a regional measure or given to another one, a value
        that is not a finite number, an all-zero map, a region whose scaling
        ``1 + size x w_i`` is not positive, or a label that is not text.
    """
    if not isinstance(label, str):
        raise InputError(f"the label of the {measure} effect must be text; got {label!r}")
    if isinstance(weights, str | bytes):
        raise InputError(f"weights of the {measure} effect must be numbers; got {weights!r}")
    values = tuple(_weight(measure, i, w) for i, w in enumerate(weights))
    if measure not in REGIONAL_MEASURES:
        if values:
            raise InputError(
                f"the {measure} effect got {len(values)} weights, but only the regional "
                f"measures ({', '.join(REGIONAL_MEASURES)}) take weights; drop them or use "
                "a regional measure"
            )
        return values
    if not values:
        raise InputError(
            f"a {measure} effect needs weights, one per atlas region in atlas order; build it "
            "with dmnpharm.simulate.regional_effect(measure, size, values, atlas)"
        )
    if not any(values):
        raise InputError(f"the weights of the {measure} effect are all 0: it would plant nothing")
    low = min(1.0 + size * w for w in values)
    if low <= 0:
        i = int(np.argmin([size * w for w in values]))
        raise InputError(
            f"the {measure} effect of size {size!r} scales region {i} (weight {values[i]!r}) "
            f"by 1 + size x weight = {1.0 + size * values[i]:.3g}, which must be positive; "
            "choose a smaller size"
        )
    return values


def weights_digest(weights: Iterable[float]) -> str:
    """Return a digest of a map of weights, as recorded in the ground truth.

    Parameters
    ----------
    weights : iterable of float
        The weights, in atlas order.

    Returns
    -------
    str
        ``"sha256:"`` and the hex digest of the weights as little-endian float64.
    """
    raw = np.asarray(tuple(weights), dtype="<f8").tobytes()
    return f"sha256:{hashlib.sha256(raw).hexdigest()}"
