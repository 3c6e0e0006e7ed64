"""Regional effects: a planted drug effect whose size per region follows a map.

A receptor-explanation method (does the drug's change follow the density of
its target receptor?) is tested on known truth by planting an effect that
follows such a map. Region ``i`` is scaled by ``f_i = 1 + size x m x w_i``,
with ``m`` the run's multiplier (exposure, or patient shift) and ``w`` the
effect's weights (:class:`~dmnpharm.simulate.Effect`):

* ``regional_amplitude`` multiplies the region's amplitude factor by ``f_i``:
  its BOLD signal SD, and so its ALFF, scales by ``f_i`` (scanner noise,
  which the drug does not scale, dilutes the measured ratio a little, and
  raises or lowers the region's correlations a little with its SNR);
* ``regional_coupling`` amplifies the region's shared signals (its network
  source, the global signal and the local signal) by ``f_i`` relative to its
  private noise, at constant BOLD variance: its loadings become
  ``g_i f_i`` times, and its noise variance ``g_i^2`` times, what they were,
  with ``g_i = sqrt(v_i / (f_i^2 s_i + n_i))`` (``s_i`` the shared variance,
  ``n_i`` the noise variance, ``v_i = s_i + n_i``). Its correlation with
  region ``j`` scales by ``g_i f_i g_j f_j`` (about ``1 + size x m x w_i x
  n_i / v_i`` for a small effect), so its GBC and seed connectivity change
  roughly in proportion to ``w_i``, and its ALFF does not change: amplitude
  and coupling maps can be planted independently. As with network-level
  effects, loadings change and variances do not.

Any positive ``f_i`` gives a valid model (variances positive, correlations
within [-1, 1]), so the only refusal is a non-positive ``f_i``, named by
region. The per-run simulator and the batch simulator both apply regional
effects through :func:`scale_regions`, on a run's arrays or on a batch's
runs x regions arrays, so the two paths change the same numbers in the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
import pandas as pd

from dmnpharm.atlases import Atlas
from dmnpharm.exceptions import InputError
from dmnpharm.simulate._model import RunModel
from dmnpharm.simulate._spec import Effect
from dmnpharm.simulate._weights import REGIONAL_MEASURES

__all__ = [
    "RegionParts",
    "apply_regional",
    "check_regional_weights",
    "regional_effect",
    "regional_factor",
    "scale_regions",
]

Array = npt.NDArray[np.float64]


def _region_labels(regions: Atlas | Sequence[str]) -> list[str]:
    labels = list(regions.labels) if isinstance(regions, Atlas) else list(regions)
    if isinstance(regions, str) or not labels or len(set(labels)) != len(labels):
        raise InputError(
            "regions must be an Atlas or a list of unique region labels, in atlas order; "
            f"got {regions!r}"
        )
    return labels


def _aligned(values: pd.Series | npt.ArrayLike, labels: list[str]) -> Array:
    if isinstance(values, pd.Series):
        index = [str(i) for i in values.index]
        missing = [lab for lab in labels if lab not in set(index)]
        if missing:
            raise InputError(
                f"the map has no value for {len(missing)} of the {len(labels)} regions, e.g. "
                f"{missing[:3]}; index the Series by the atlas's region labels (e.g. "
                f"{labels[:2]}) and fill the regions it lacks"
            )
        if len(set(index)) != len(index):
            raise InputError("the map's index repeats region labels; give one value per region")
        values = pd.Series(values.to_numpy(), index=index).loc[labels]
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"the map must hold numbers; got {values!r}") from None
    if array.ndim != 1 or array.size != len(labels):
        raise InputError(
            f"the map must have one value per region ({len(labels)}, in atlas order); got an "
            f"array of shape {array.shape}"
        )
    bad = np.flatnonzero(~np.isfinite(array))
    if bad.size:
        raise InputError(
            f"the map is not finite at {bad.size} regions, e.g. {labels[int(bad[0])]!r} "
            f"({array[bad[0]]}); fill them (e.g. with 0) before building the effect"
        )
    return array


def regional_effect(
    measure: str,
    size: float,
    values: pd.Series | npt.ArrayLike,
    regions: Atlas | Sequence[str],
    *,
    label: str = "",
) -> Effect:
    """Build a regional effect whose size per region follows a map.

    Parameters
    ----------
    measure : str
        ``"regional_amplitude"`` or ``"regional_coupling"`` (see
        :data:`~dmnpharm.simulate.EFFECT_MEASURES`).
    size : float
        Fractional change of the region with the largest ``|value|``, at
        full exposure; region ``i`` changes by ``size x w_i``.
    values : pandas.Series or array-like
        The map: a Series indexed by region label (labels the atlas lacks are
        ignored, regions the Series lacks are an error) or one value per
        region in atlas order. A z-scored map gives weights in [-1, 1], so
        regions below the map's mean change in the opposite direction; a map
        of densities (all positive) gives weights in [0, 1].
    regions : Atlas or sequence of str
        The simulated atlas (``SignalSpec.atlas_object()``) or its region
        labels, in atlas order.
    label : str
        What the map is, e.g. ``"5-HT2A (Hansen 2022)"``; kept in the ground truth.

    Returns
    -------
    Effect
        With ``weights = values / max |values|``, in atlas order.

    Raises
    ------
    InputError
        An unknown measure, a map without a value for some region, a value
        that is not finite, an all-zero map, or a size that would scale a
        region by a non-positive factor.
    """
    if measure not in REGIONAL_MEASURES:
        raise InputError(
            f"regional_effect builds {' or '.join(REGIONAL_MEASURES)} effects; got {measure!r}"
        )
    array = _aligned(values, _region_labels(regions))
    peak = float(np.abs(array).max())
    if peak == 0:
        name = f" {label!r}" if label else ""
        raise InputError(f"the map{name} is 0 at every region: it would plant nothing")
    return Effect(measure, size, weights=tuple(float(w) for w in array / peak), label=label)


def check_regional_weights(effects: Iterable[Effect], atlas: Atlas) -> None:
    """Check that every regional effect has one weight per region of the atlas.

    Parameters
    ----------
    effects : iterable of Effect
        The spec's drug and patient effects.
    atlas : Atlas
        The simulated atlas.

    Raises
    ------
    InputError
        Naming the effect, its weight count and the atlas's region count.
    """
    for effect in effects:
        if effect.measure in REGIONAL_MEASURES and len(effect.weights) != atlas.n_regions:
            name = f" ({effect.label})" if effect.label else ""
            raise InputError(
                f"the {effect.measure} effect{name} has {len(effect.weights)} weights, but atlas "
                f"{atlas.name!r} has {atlas.n_regions} regions; give one weight per region in "
                "the atlas's order (see dmnpharm.simulate.regional_effect)"
            )


@dataclass(frozen=True, eq=False)
class RegionParts:
    """What a regional effect changes: per region (or runs x regions) arrays.

    Parameters
    ----------
    a, b, local : numpy.ndarray
        Loadings on the network source, the global signal and the local signal.
    noise : numpy.ndarray
        Private noise variance.
    amp : numpy.ndarray
        Amplitude factor.
    s_kk : numpy.ndarray
        Variance of the region's network source (0 for a region in none).
    """

    a: Array
    b: Array
    local: Array
    noise: Array
    amp: Array
    s_kk: Array


def regional_factor(
    effect: Effect, weights: Array, mult: float | Array, names: Sequence[str], label: str
) -> Array:
    """Return each region's scaling ``1 + size x mult x w_i``, checked positive.

    Parameters
    ----------
    effect : Effect
        A regional effect.
    weights : numpy.ndarray
        Its weights of the regions simulated (all, or a batch's selection).
    mult : float or numpy.ndarray
        The run's multiplier, or one per run of a batch.
    names : sequence of str
        Labels of those regions, for errors.
    label : str
        Names the run in an error.

    Returns
    -------
    numpy.ndarray
        Regions, or runs x regions.

    Raises
    ------
    InputError
        If a region's scaling is not positive (a multiplier far above 1).
    """
    scale = np.asarray(mult, dtype=float)[..., None]
    factor: Array = 1.0 + effect.size * scale * weights
    if factor.min() <= 0:
        where = np.unravel_index(int(np.argmin(factor)), factor.shape)
        raise InputError(
            f"{label + ': ' if label else ''}the {effect.measure} effect at a multiplier of "
            f"{float(np.broadcast_to(scale, factor.shape)[where]):.3g} scales region "
            f"{names[int(where[-1])]!r} by {float(factor[where]):.3g}, which must be positive; "
            "plant a smaller effect or lower heterogeneity_sd"
        )
    return factor


def scale_regions(
    parts: RegionParts,
    effect: Effect,
    weights: Array,
    mult: float | Array,
    names: Sequence[str],
    label: str,
) -> RegionParts:
    """Apply a regional effect to one run's or a batch's regions.

    Parameters
    ----------
    parts : RegionParts
        Loadings, noise and amplitude factors before the effect: per region,
        or runs x regions.
    effect : Effect
        A regional effect.
    weights : numpy.ndarray
        Its weights of these regions.
    mult : float or numpy.ndarray
        The run's multiplier, or one per run.
    names : sequence of str
        Labels of these regions, for errors.
    label : str
        Names the run in an error.

    Returns
    -------
    RegionParts
        After the effect.

    Raises
    ------
    InputError
        If a region's scaling is not positive (:func:`regional_factor`).
    """
    factor = regional_factor(effect, weights, mult, names, label)
    if effect.measure == "regional_amplitude":
        return replace(parts, amp=parts.amp * factor)
    shared = parts.a**2 * parts.s_kk + parts.b**2 + parts.local**2
    gain = factor * np.sqrt((shared + parts.noise) / (factor**2 * shared + parts.noise))
    noise = parts.noise * (gain / factor) ** 2
    return RegionParts(
        parts.a * gain, parts.b * gain, parts.local * gain, noise, parts.amp, parts.s_kk
    )


def apply_regional(
    model: RunModel, effect: Effect, mult: float, names: Sequence[str], label: str
) -> RunModel:
    """Return one run's model with a regional effect applied.

    Parameters
    ----------
    model : RunModel
        The run's parameters.
    effect : Effect
        A regional effect, with one weight per region of the model.
    mult : float
        The run's multiplier (exposure or patient shift).
    names : sequence of str
        Region labels, for errors.
    label : str
        Names the run in an error.

    Returns
    -------
    RunModel
        A new model.
    """
    s_kk = np.where(model.column >= 0, np.diag(model.sources)[np.maximum(model.column, 0)], 0.0)
    parts = RegionParts(model.a, model.b, model.local, model.noise, model.amp, s_kk)
    scaled = scale_regions(parts, effect, np.asarray(effect.weights), mult, names, label)
    return replace(
        model, a=scaled.a, b=scaled.b, local=scaled.local, noise=scaled.noise, amp=scaled.amp
    )
