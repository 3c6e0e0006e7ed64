"""Fit the Hopf model's global coupling to an FC and predict a drug's change in FC.

:func:`fit_coupling` grid-searches ``G`` for the smallest RMS difference between
the upper triangles of the linear-noise model FC and a target FC, level and
pattern together, with a bootstrap over subjects (or the near-optimal set for
one FC).
``predict_fc_change`` (in ``_hopf_predict``) shifts regional excitability,
``a_j + scale * perturbation_j`` (a receptor-informed map; after Deco et al.
2018, Curr Biol 28:3065, who scaled regional gain by 5-HT2A density). Raising ``a_j`` towards 0
raises region ``j``'s FC: most among the perturbed regions, less between them
and the rest, least elsewhere.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt

from dmnpharm.exceptions import InputError
from dmnpharm.predict import _hopf as hopf
from dmnpharm.predict._hopf import DEFAULT_A, DEFAULT_OMEGA, Connectome

__all__ = ["CouplingFit", "fit_coupling"]

FloatArray = npt.NDArray[np.float64]


#: Dimensionless couplings ``G * mean strength / |mean a|`` of the default grid.
_GRID_KAPPA = np.concatenate([[0.0], np.geomspace(0.01, 1000.0, 51)])


#: Correlations are clipped to +-(1 - this) before the Fisher transform.
_CLIP = 1e-7


@dataclass(frozen=True)
class CouplingFit:
    """The grid search for the global coupling ``G`` and its uncertainty.

    Parameters
    ----------
    couplings : tuple of float
        The grid of ``G``.
    fit : tuple of float
        Minus the root mean squared difference between the upper triangles
        of model and target FC (r), per
        ``G`` (NaN where the model FC is constant, at ``G = 0``, or unstable).
    model_mean_fc : tuple of float
        Mean off-diagonal model FC per ``G`` (NaN where unstable).
    target_mean_fc : float
        Mean off-diagonal target FC (the group FC for a stack).
    best_coupling : float
        The ``G`` with the largest fit.
    best_fit : float
        The fit at ``best_coupling``.
    coupling_set : tuple of float
        The plausible ``G``: the best ``G`` of each bootstrap resample of the
        subjects (``set_method="bootstrap"``), or every ``G`` whose fit is
        within ``tolerance`` of the best (``"near-optimal"``, one FC).
    set_method : str
        ``"bootstrap"`` or ``"near-optimal"``.
    tolerance : float
        Fit tolerance of the near-optimal set.
    n_subjects : int
        FC matrices in the target (1 for one matrix).
    seed : int or None
        The seed given (None also when a Generator was given).
    pattern_r : tuple of float
        Pearson r of the upper triangles per ``G`` (the pattern alone).
    """

    couplings: tuple[float, ...]
    fit: tuple[float, ...]
    model_mean_fc: tuple[float, ...]
    target_mean_fc: float
    best_coupling: float
    best_fit: float
    coupling_set: tuple[float, ...]
    set_method: str
    tolerance: float
    n_subjects: int
    seed: int | None = None
    pattern_r: tuple[float, ...] = ()

    def record(self) -> dict[str, object]:
        """Return every field (tuples as lists) and the fit measure, as a JSON-ready dict."""
        out = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}
        return {**out, "fit_measure": _FIT_MEASURE}


_FIT_MEASURE = (
    "minus the RMS difference of upper-triangle FC (r), linear-noise model vs target: it "
    "matches the level of FC as well as its pattern (the pattern's Pearson r alone picks a "
    "nearly uncoupled model on the Hansen 2022 consensus data); pattern r kept in pattern_r"
)


def _score(model: FloatArray, targets: FloatArray) -> FloatArray:
    """Minus the RMS difference of each target row (t, E) from each model row (g, E): (t, g)."""
    m2 = np.sum(model * model, axis=1)
    t2 = np.sum(targets * targets, axis=1)
    sq = (t2[:, None] - 2.0 * targets @ np.nan_to_num(model).T + m2[None, :]) / model.shape[1]
    return np.asarray(-np.sqrt(np.maximum(sq, 0.0)), dtype=np.float64)


def _upper(matrices: FloatArray) -> FloatArray:
    """Return the upper triangles (k = 1) of one matrix or a stack, last axis the edges."""
    rows, cols = np.triu_indices(matrices.shape[-1], k=1)
    return np.asarray(matrices[..., rows, cols], dtype=np.float64)


def _fisher(r: FloatArray) -> FloatArray:
    return np.asarray(np.arctanh(np.clip(r, -1.0 + _CLIP, 1.0 - _CLIP)), dtype=np.float64)


def _target(target_fc: npt.ArrayLike, n: int) -> FloatArray:
    """Return the target as a stack (subjects, N, N) of correlations after checking it."""
    fc = np.asarray(target_fc, dtype=np.float64)
    stack = fc[None] if fc.ndim == 2 else fc
    if stack.ndim != 3 or stack.shape[1:] != (n, n) or stack.shape[0] < 1:
        raise InputError(
            f"target_fc must be one ({n}, {n}) FC matrix or a stack (subjects, {n}, {n}) in "
            f"the connectome's region order; got shape {fc.shape}"
        )
    upper = _upper(stack)
    if not np.all(np.isfinite(upper)):
        raise InputError("target_fc has NaN or infinite values above the diagonal")
    if np.any(np.abs(upper) > 1.0 + 1e-9):
        raise InputError(
            f"target_fc has values beyond +-1 (largest |value| {np.abs(upper).max():.3g}): it "
            "must hold correlations r; convert Fisher z with numpy.tanh(z)"
        )
    return stack


def _standardise(rows: FloatArray) -> FloatArray:
    centred = rows - rows.mean(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(centred / centred.std(axis=-1, keepdims=True), dtype=np.float64)


def _model_upper(c: FloatArray, grid: FloatArray, a: FloatArray, omega: FloatArray) -> FloatArray:
    """Return the model FC's upper triangle per ``G`` (NaN rows where unstable)."""
    n = a.size
    out = np.full((grid.size, n * (n - 1) // 2), np.nan)
    error: InputError | None = None
    for i, g in enumerate(grid):
        try:
            out[i] = _upper(hopf.correlation(hopf.covariance(c, float(g), a, omega)[:n, :n]))
        except InputError as exc:
            error = exc
    if error is not None and np.all(np.isnan(out)):
        raise InputError(f"the model is unstable at every coupling of the grid: {error}")
    return out


def _grid(c: FloatArray, a: FloatArray, couplings: npt.ArrayLike | None) -> FloatArray:
    """Return the coupling grid: the caller's, or G = 0 and 51 geometric values."""
    if couplings is None:
        scale = max(abs(float(a.mean())), 1e-3) / float(c.sum(axis=1).mean())
        return np.asarray(_GRID_KAPPA * scale, dtype=np.float64)
    grid = np.asarray(couplings, dtype=np.float64)
    if grid.ndim != 1 or grid.size < 2 or not np.all(np.isfinite(grid) & (grid >= 0)):
        raise InputError(f"couplings must be >= 2 finite values >= 0, increasing; got {grid}")
    if np.any(np.diff(grid) <= 0):
        raise InputError(f"couplings must be strictly increasing; got {grid}")
    return grid


def fit_coupling(
    connectome: npt.ArrayLike | Connectome,
    target_fc: npt.ArrayLike,
    *,
    a: npt.ArrayLike = DEFAULT_A,
    omega: npt.ArrayLike = DEFAULT_OMEGA,
    couplings: npt.ArrayLike | None = None,
    n_bootstrap: int = 50,
    tolerance: float = 0.01,
    seed: int | np.random.Generator | None = None,
) -> CouplingFit:
    """Fit the global coupling ``G`` to a target FC by grid search.

    For each ``G`` the linear-noise model FC (:func:`linear_noise_fc`) is
    compared with the target by the RMS difference of their upper triangles
    (r); the best ``G`` minimises it. A stack of subjects is averaged in
    Fisher z (then back to r) and its best ``G`` bootstrapped over subjects.

    Parameters
    ----------
    connectome : array-like or Connectome, shape (n_regions, n_regions)
        Structural connectome (see :func:`hopf_jacobian`).
    target_fc : array-like, shape (n_regions, n_regions) or (subjects, n, n)
        Target FC as Pearson correlations r (not Fisher z: pass ``tanh(z)``),
        in the connectome's region order; only the upper triangle is read.
    a : float or array-like, shape (n_regions,)
        Bifurcation parameter(s).
    omega : float or array-like, shape (n_regions,)
        Angular frequency (rad/s).
    couplings : array-like or None
        Increasing grid of ``G >= 0``; None: 0 and 51 geometric values with
        ``G * mean strength / |mean a|`` from 0.01 (nearly uncoupled) to 1000
        (nearly synchronised). Unstable ``G`` (only if some ``a >= 0``) get NaN.
    n_bootstrap : int
        Resamples of the subjects for a stack (at least 2 subjects).
    tolerance : float
        For one FC, the near-optimal set is every ``G`` with a fit at least
        ``best_fit - tolerance``.
    seed : int, numpy.random.Generator or None
        Seed of the bootstrap.

    Returns
    -------
    CouplingFit
        The grid, the fit per ``G``, the best ``G`` and the plausible set.

    Raises
    ------
    InputError
        When an input is not usable or the model is unstable on the whole grid.
    """
    c = hopf.normalised_weights(connectome)
    n = c.shape[0]
    a_vec, omega_vec = hopf.regional(a, n, "a"), hopf.regional(omega, n, "omega")
    stack = _target(target_fc, n)
    grid = _grid(c, a_vec, couplings)
    if int(n_bootstrap) != n_bootstrap or n_bootstrap < 1:
        raise InputError(f"n_bootstrap must be a whole number >= 1; got {n_bootstrap}")
    hopf.positive(tolerance, "tolerance", "a fit tolerance in RMS r, e.g. 0.01")
    model = _model_upper(c, grid, a_vec, omega_vec)
    z = _fisher(_upper(stack))
    group = np.tanh(z.mean(axis=0))
    fits = _score(model, group[None])[0]
    pattern = _standardise(model) @ _standardise(group) / group.size
    if np.all(np.isnan(fits)):
        raise InputError("the fit is undefined at every coupling (constant model or target FC)")
    best = int(np.nanargmax(fits))
    n_subjects = stack.shape[0]
    if n_subjects >= 2:
        rng = np.random.default_rng(seed)
        picks = rng.integers(0, n_subjects, size=(int(n_bootstrap), n_subjects))
        counts = np.stack([np.bincount(p, minlength=n_subjects) for p in picks])
        resampled = np.tanh(counts @ z / n_subjects)
        boot = _score(model, resampled)
        chosen = grid[np.nanargmax(np.where(np.isnan(boot), -np.inf, boot), axis=1)]
        method = "bootstrap"
    else:
        chosen = grid[np.flatnonzero(fits >= fits[best] - tolerance)]
        method = "near-optimal"
    return CouplingFit(
        couplings=tuple(grid.tolist()),
        fit=tuple(fits.tolist()),
        model_mean_fc=tuple(model.mean(axis=1).tolist()),
        target_mean_fc=float(group.mean()),
        best_coupling=float(grid[best]),
        best_fit=float(fits[best]),
        coupling_set=tuple(chosen.tolist()),
        set_method=method,
        tolerance=float(tolerance),
        n_subjects=n_subjects,
        seed=int(seed) if isinstance(seed, int | np.integer) else None,
        pattern_r=tuple(pattern.tolist()),
    )
