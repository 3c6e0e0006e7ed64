"""Amplitude of low-frequency fluctuations per region and per network."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from dmnpharm._utils import fill_doc
from dmnpharm.exceptions import InputError
from dmnpharm.signal import ALFF_BAND, low_frequency_amplitude, zscore_finite

__all__ = ["RegionAmplitude", "region_amplitude"]

Array = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class RegionAmplitude:
    """ALFF and fALFF of each region, their z-scores over regions, and network means.

    Parameters
    ----------
    alff, falff : numpy.ndarray
        Per region (atlas order): mean amplitude over the band, in the signals'
        units, and the band's share of the amplitude of all frequencies.
    zalff, zfalff : numpy.ndarray
        The same standardised over the run's regions, ``(x - mean) / SD``
        (the region analogue of Zang et al. 2007's voxel z maps); comparable
        between runs whose signals are scaled differently.
    networks : dict of str to dict of str to float
        Network code to ``{"alff", "falff", "zalff", "zfalff"}`` means over
        the network's regions.
    method : str
        ``"fourier"`` or ``"lomb-scargle"`` (censored volumes).
    band : tuple of float
        The band in Hz.
    """

    alff: Array = field(repr=False)
    falff: Array = field(repr=False)
    zalff: Array = field(repr=False)
    zfalff: Array = field(repr=False)
    networks: dict[str, dict[str, float]]
    method: str
    band: tuple[float, float]


def _mean(values: Array) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else float("nan")


@fill_doc
def region_amplitude(
    data: npt.ArrayLike,
    repetition_time: float,
    networks: Sequence[str],
    *,
    kept: npt.ArrayLike | None = None,
    band: tuple[float, float] = ALFF_BAND,
) -> RegionAmplitude:
    """Compute ALFF and fALFF per region and average them per network.

    Definitions: :func:`dmnpharm.signal.low_frequency_amplitude` (ALFF, Zang
    et al. 2007 Brain Dev 29:83; fALFF, Zou et al. 2008 J Neurosci Methods
    172:137). The region signals should be cleaned but not band-pass
    filtered (a filter removes what fALFF compares the band with).

    Parameters
    ----------
    data : array_like
        ``volumes x regions``, the kept volumes of the run.
    %(repetition_time)s
    networks : sequence of str
        Network code of each region (``atlas.networks``).
    kept : array_like of bool or None
        One value per volume of the run, True where kept (Lomb-Scargle
        spectrum when some were censored); None when none was.
    band : tuple of float
        Low and high edge in Hz.

    Returns
    -------
    RegionAmplitude
        Per-region values, z-scores over regions, and network means.

    Raises
    ------
    InputError
        When ``networks`` does not give one code per region, or for the
        errors of :func:`dmnpharm.signal.low_frequency_amplitude`.
    """
    values = np.asarray(data, dtype=np.float64)
    codes = np.asarray(list(networks), dtype=str)
    if values.ndim != 2 or codes.size != values.shape[1]:
        raise InputError(
            f"need one network code per region: data has shape {values.shape}, "
            f"{codes.size} codes were given"
        )
    amplitude = low_frequency_amplitude(values, repetition_time, band=band, kept=kept)
    zalff, zfalff = zscore_finite(amplitude.alff), zscore_finite(amplitude.falff)
    per_network: dict[str, dict[str, float]] = {}
    for network in dict.fromkeys(codes.tolist()):
        members = codes == network
        per_network[network] = {
            "alff": _mean(amplitude.alff[members]),
            "falff": _mean(amplitude.falff[members]),
            "zalff": _mean(zalff[members]),
            "zfalff": _mean(zfalff[members]),
        }
    return RegionAmplitude(
        alff=amplitude.alff,
        falff=amplitude.falff,
        zalff=zalff,
        zfalff=zfalff,
        networks=per_network,
        method=amplitude.method,
        band=amplitude.band,
    )
