"""An fMRIPrep-style confounds table: DVARS, cosine drift basis, expansions.

Column names follow the ``desc-confounds_timeseries.tsv`` that fMRIPrep writes
(Esteban et al. 2019, Nat Methods 16:111-116, doi:10.1038/s41592-018-0235-4),
so simulated studies can be read by the same code as real ones.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from dmnpharm._utils import fill_doc
from dmnpharm.exceptions import InputError
from dmnpharm.simulate._motion import MOTION_COLUMNS, _as_array, framewise_displacement

__all__ = ["cosine_basis", "dvars", "fmriprep_confounds"]

#: IQR of a standard normal distribution: turns an IQR into a robust SD.
_IQR_TO_SD = 1.349


def dvars(
    data: npt.ArrayLike,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Compute DVARS and standardised DVARS of a set of signals.

    DVARS (Power et al. 2012, NeuroImage 59:2142-2154) is the root mean square,
    over signals, of each signal's backward temporal difference. Standardised
    DVARS (Nichols 2013, "Notes on creating a standardized version of DVARS",
    University of Warwick; used by Nipype's ``ComputeDVARS`` and so by fMRIPrep)
    divides it by its expectation if each signal were a stationary AR(1)
    process: for a signal with robust SD ``sd_i`` (interquartile range / 1.349,
    "lower" percentiles as in FSL) and Yule-Walker lag-1 autocorrelation
    ``ar1_i`` of the demeaned signal, the difference has SD
    ``sqrt(2 (1 - ar1_i)) sd_i``; the mean of that over signals is the divisor.
    Signals with zero robust SD (constant, e.g. outside the brain) are left
    out of both, as Nipype does. Values are in the data's own units: fMRIPrep
    first scales voxel data to a median of 1000, this function does not.

    Parameters
    ----------
    data : array_like
        ``n_volumes x n_signals`` (voxels or regions), at least 3 volumes.

    Returns
    -------
    dvars : numpy.ndarray
        ``n_volumes`` values; the first is NaN (fMRIPrep's ``n/a``).
    std_dvars : numpy.ndarray
        ``n_volumes`` values, about 1 on average for signals without motion
        or other artifacts; the first is NaN.
    """
    values = _as_array("data", data, 2)
    if values.shape[0] < 3:
        raise InputError(f"data must have at least 3 volumes; got {values.shape[0]}")
    # np.percentile(values, [75, 25], axis=0, method="lower") picks these order
    # statistics; a sort finds the same values several times faster
    ordered = np.sort(values, axis=0)
    n_volumes = values.shape[0]
    upper = ordered[int(np.floor((n_volumes - 1) * 0.75))]
    lower = ordered[int(np.floor((n_volumes - 1) * 0.25))]
    robust_sd = (upper - lower) / _IQR_TO_SD
    varies = robust_sd > 0
    if not varies.any():
        raise InputError(f"none of the {values.shape[1]} signals in data varies over time")
    values, robust_sd = values[:, varies], robust_sd[varies]
    centred = values - values.mean(axis=0)
    ar1 = (centred[1:] * centred[:-1]).sum(axis=0) / (centred**2).sum(axis=0)
    expected = float(np.mean(np.sqrt(2.0 * (1.0 - ar1)) * robust_sd))
    raw = np.concatenate([[np.nan], np.sqrt((np.diff(values, axis=0) ** 2).mean(axis=1))])
    return raw, raw / expected


@fill_doc
def cosine_basis(
    n_volumes: int, repetition_time: float, cutoff_s: float = 128.0
) -> npt.NDArray[np.float64]:
    """Discrete cosine drift regressors, as fMRIPrep's ``cosineXX`` columns.

    Column ``k`` (from 0) is ``sqrt(2 / n) cos(pi (k + 1) (t + 1/2) / n)`` for
    volumes ``t = 0 .. n - 1``: the DCT-II basis of frequency
    ``(k + 1) / (2 n TR)`` Hz. As in Nipype's CompCor high-pass filter (which
    fMRIPrep writes out) and nilearn's cosine drift model, the basis order is
    ``max(floor(2 n TR / cutoff_s), 1)`` counting the constant; fMRIPrep leaves
    the constant out, so there is one column fewer, all with frequencies below
    ``1 / cutoff_s``, and none for runs shorter than ``cutoff_s``. (The
    cosine of index ``order`` can also lie below the cutoff; Nipype omits it
    and so does this function, to give the same columns.)

    Parameters
    ----------
    %(n_volumes)s
    %(repetition_time)s
    cutoff_s : float
        High-pass cutoff period in seconds; fMRIPrep uses 128 s (1/128 Hz).

    Returns
    -------
    numpy.ndarray
        ``n_volumes x n_cosines``; columns are orthonormal and have zero mean.
    """
    if int(n_volumes) != n_volumes or n_volumes < 1:
        raise InputError(f"n_volumes must be a positive integer; got {n_volumes!r}")
    for name, value in (("repetition_time", repetition_time), ("cutoff_s", cutoff_s)):
        if not (value > 0 and np.isfinite(value)):
            raise InputError(f"{name} must be positive and finite; got {value!r}")
    n = int(n_volumes)
    order = max(int(np.floor(2.0 * n * repetition_time / cutoff_s)), 1)
    frequency_index = np.arange(1, order)
    volume = np.arange(n) + 0.5
    basis: npt.NDArray[np.float64] = np.sqrt(2.0 / n) * np.cos(
        np.pi / n * np.outer(volume, frequency_index)
    )
    return basis


def _backward_difference(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return np.concatenate([[np.nan], np.diff(values)])


def _expanded(name: str, values: npt.NDArray[np.float64]) -> dict[str, npt.NDArray[np.float64]]:
    """Return a regressor with fMRIPrep's derivative and quadratic expansions."""
    derivative = _backward_difference(values)
    return {
        name: values,
        f"{name}_derivative1": derivative,
        f"{name}_power2": values**2,
        f"{name}_derivative1_power2": derivative**2,
    }


@fill_doc
def fmriprep_confounds(
    motion_params: npt.ArrayLike,
    global_signal: npt.ArrayLike,
    csf: npt.ArrayLike,
    white_matter: npt.ArrayLike,
    data: npt.ArrayLike,
    acompcor: npt.ArrayLike,
    repetition_time: float,
) -> pd.DataFrame:
    """Assemble a confounds table with fMRIPrep's column names.

    Columns, in this order (``_derivative1`` is the backward difference
    ``x(t) - x(t-1)``, NaN in the first row, which fMRIPrep writes as ``n/a``;
    ``_power2`` is the square of the value, ``_derivative1_power2`` that of the
    derivative, also NaN in the first row):

    * ``global_signal``, ``csf``, ``white_matter``, each followed by its
      ``_derivative1``, ``_power2`` and ``_derivative1_power2``: mean signals of
      the whole brain, the CSF mask and the white-matter mask, as given.
    * ``dvars``, ``std_dvars``: see :func:`dvars`, computed from ``data``;
      first row NaN.
    * ``framewise_displacement``: Power et al. (2012) FD in mm with a 50 mm
      head radius, see :func:`framewise_displacement`; first row NaN.
    * ``trans_x, trans_y, trans_z`` (mm), ``rot_x, rot_y, rot_z`` (radians),
      each followed by the same three expansions: realignment parameters.
    * ``a_comp_cor_00``, ``a_comp_cor_01``, ...: anatomical CompCor
      components, one per column of ``acompcor``, as given.
    * ``cosine00``, ``cosine01``, ...: discrete cosine high-pass regressors for
      a 128 s cutoff, see :func:`cosine_basis`. fMRIPrep writes these names
      without an underscore (its documentation calls them ``cosine_XX``).

    Parameters
    ----------
    motion_params : array_like
        ``n_volumes x 6`` realignment parameters, fMRIPrep order and units.
    global_signal, csf, white_matter : array_like
        ``n_volumes`` values each.
    data : array_like
        ``n_volumes x n_signals`` signals (voxels or regions) for DVARS.
    acompcor : array_like
        ``n_volumes x n_components`` aCompCor components; may have 0 columns.
    %(repetition_time)s
        It sets the cosine regressors.

    Returns
    -------
    pandas.DataFrame
        One row per volume, float columns as listed above.
    """
    motion = _as_array("motion_params", motion_params, 2)
    n_volumes = motion.shape[0]
    if motion.shape[1] != len(MOTION_COLUMNS):
        raise InputError(f"motion_params must have 6 columns; got {motion.shape[1]}")
    tissues = {
        "global_signal": _as_array("global_signal", global_signal, 1),
        "csf": _as_array("csf", csf, 1),
        "white_matter": _as_array("white_matter", white_matter, 1),
    }
    signals = _as_array("data", data, 2)
    components = _as_array("acompcor", acompcor, 2)
    lengths = {name: values.shape[0] for name, values in tissues.items()}
    lengths |= {"data": signals.shape[0], "acompcor": components.shape[0]}
    for name, length in lengths.items():
        if length != n_volumes:
            raise InputError(f"{name} has {length} volumes but motion_params has {n_volumes}")
    columns: dict[str, npt.NDArray[np.float64]] = {}
    for name, values in tissues.items():
        columns |= _expanded(name, values)
    columns["dvars"], columns["std_dvars"] = dvars(signals)
    columns["framewise_displacement"] = framewise_displacement(motion)
    for index, name in enumerate(MOTION_COLUMNS):
        columns |= _expanded(name, motion[:, index])
    for index in range(components.shape[1]):
        columns[f"a_comp_cor_{index:02d}"] = components[:, index]
    cosines = cosine_basis(n_volumes, repetition_time)
    for index in range(cosines.shape[1]):
        columns[f"cosine{index:02d}"] = cosines[:, index]
    # one columns x volumes block, as pandas would consolidate the columns into
    # (the same table and memory layout, without building it column by column)
    block = np.empty((len(columns), n_volumes))
    for row, values in enumerate(columns.values()):
        block[row] = values
    return pd.DataFrame(block.T, columns=list(columns))
