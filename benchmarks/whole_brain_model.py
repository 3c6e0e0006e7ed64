"""Whole-brain Hopf model: time to fit G and predict one drug, at 100 and 400 regions.

For each size the script times

1. ``fit_coupling``: the linear-noise FC on the default grid (52 values of G) and
   the Pearson fit to a placebo-like FC;
2. ``predict_fc_change``: the fit again, the analytic placebo/drug FC and the
   band: ``--n-seeds`` placebo and drug runs of ``--n-volumes`` volumes at
   ``--tr`` s for every G of the fit's near-optimal set (at least
   ``--min-couplings`` of them: the tolerance is widened until there are);
3. optionally (``--neurolib``) neurolib's ``HopfModel`` for the same
   integration (same regions, same number of steps of the same dt), one run
   at a time as neurolib runs them, against ``simulate_hopf`` per run.

Inputs, from ``--data`` (default ``$DMNPHARM_DATA`` or ``/work/shared/data``):
at 100 regions the Hansen et al. (2022) consensus connectome
(``receptors_hansen2022/data/schaefer/sc_weighted.npy``) and FC
(``fc_weighted.npy``); at 400 regions there is no structural connectome there,
so the exponential-distance-rule fallback on the Schaefer-400 centroids is used
and the target FC is the model's own at a known G plus noise. The drug map is
the 5-HT2A map (z-scored, x 0.7 occupancy, agonist) when the Hansen receptor
table is there. Without the data, synthetic connectomes and maps are used.

Run from the repository root::

    PYTHONPATH=src python benchmarks/whole_brain_model.py             # N = 100 and 400
    PYTHONPATH=src python benchmarks/whole_brain_model.py --sizes 100 --neurolib
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

from dmnpharm.exceptions import InputError
from dmnpharm.predict import CouplingFit, fit_coupling, load_hansen2022, predict_fc_change

# Until dmnpharm.predict exports the model, import it from its modules.
from dmnpharm.predict._hopf import (
    Connectome,
    distance_connectome,
    linear_noise_fc,
    simulate_hopf,
)

SCHAEFER = "receptors_hansen2022/data/schaefer"


def inputs(
    data: Path, n: int, rng: np.random.Generator
) -> tuple[Connectome | np.ndarray, np.ndarray, str]:
    """Return a connectome, a placebo-like target FC and a description of both."""
    sc_path, fc_path = data / SCHAEFER / "sc_weighted.npy", data / SCHAEFER / "fc_weighted.npy"
    centres = data / SCHAEFER / f"coordinates/Schaefer_{n}_centres.txt"
    if n == 100 and sc_path.is_file() and fc_path.is_file():
        sc, fc = np.load(sc_path), np.load(fc_path)
        if sc.shape == fc.shape == (n, n):
            return sc, fc, "Hansen 2022 consensus SC and FC (Schaefer-100)"
    if centres.is_file():
        coords, where = np.loadtxt(centres, usecols=(1, 2, 3)), f"Schaefer-{n} centroids"
    else:
        coords, where = rng.normal(scale=(35.0, 45.0, 30.0), size=(n, 3)), "synthetic points"
    connectome = distance_connectome(coords)
    truth = linear_noise_fc(connectome, 0.05)
    noisy = np.tanh(np.arctanh(np.clip(truth, -0.99, 0.99)) + 0.1 * rng.normal(size=(n, n)))
    target = (noisy + noisy.T) / 2
    np.fill_diagonal(target, 1.0)
    return connectome, target, f"distance-rule fallback on {where}; target = model FC + noise"


def drug_map(data: Path, n: int, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """Return the drug's regional perturbation and what it is."""
    folder = data / "receptors_hansen2022"
    try:
        maps = load_hansen2022(folder, n, labels=[f"r{i}" for i in range(n)])
        column = maps.targets.index("5HT2a")
        return 0.7 * maps.values[:, column], "5-HT2A z-score x 0.7 occupancy"
    except (InputError, OSError, ValueError):  # no Hansen table: a synthetic map
        values = rng.normal(size=n)
        return 0.7 * (values - values.mean()) / values.std(), "synthetic z-map x 0.7"


def band_tolerance(fit: CouplingFit, minimum: int) -> float:
    """Return the smallest tolerance giving at least ``minimum`` near-optimal G values."""
    fits = np.asarray(fit.fit)
    gaps = np.sort(np.nanmax(fits) - fits[np.isfinite(fits)])
    return float(max(0.01, gaps[min(minimum, gaps.size) - 1] + 1e-9))


def neurolib_per_run(
    connectome: Connectome | np.ndarray, n: int, steps: int, dt: float, runs: int
) -> float | None:
    """Return neurolib HopfModel's seconds per run of ``steps`` steps, or None."""
    # benchmarks/coverage.py would shadow the coverage package that numba imports.
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    try:
        from neurolib.models.hopf import HopfModel
    except ImportError:
        return None
    raw = connectome.weights if isinstance(connectome, Connectome) else connectome
    weights = np.asarray(raw, dtype=float)
    model = HopfModel(Cmat=weights / weights.max() * 0.2, Dmat=np.zeros((n, n)))
    model.params["dt"] = dt
    model.params["duration"] = steps * dt
    model.params["sigma_ou"] = 0.002
    model.run()  # numba compiles on the first run: not timed
    start = time.perf_counter()
    for _ in range(runs):
        model.run()
    return (time.perf_counter() - start) / runs


def bench(args: argparse.Namespace, n: int) -> None:
    """Time fit and prediction at ``n`` regions and print a table row set."""
    rng = np.random.default_rng(args.seed)
    connectome, target, source = inputs(args.data, n, rng)
    perturbation, drug = drug_map(args.data, n, rng)
    start = time.perf_counter()
    fit = fit_coupling(connectome, target)
    fit_s = time.perf_counter() - start
    tolerance = band_tolerance(fit, args.min_couplings)
    start = time.perf_counter()
    result = predict_fc_change(
        connectome,
        target,
        perturbation,
        n_volumes=args.n_volumes,
        repetition_time=args.tr,
        dt=args.dt,
        tolerance=tolerance,
        n_seeds=args.n_seeds,
        seed=args.seed,
    )
    predict_s = time.perf_counter() - start
    n_g = len(set(result.fit.coupling_set))
    runs = 2 * n_g * args.n_seeds
    rows = np.triu_indices(n, k=1)
    width = float(np.mean(result.band_high[rows] - result.band_low[rows]))
    print(
        f"\n## {n} regions: {source}\n\ndrug map: {drug}; load average {os.getloadavg()[0]:.2f}\n"
    )
    print("| step | seconds | detail |\n|---|---:|---|")
    print(
        f"| fit_coupling | {fit_s:.2f} | {len(fit.couplings)} G; best G {fit.best_coupling:.4g}, "
        f"r = {fit.best_fit:.3f} |"
    )
    print(
        f"| predict_fc_change | {predict_s:.2f} | {n_g} G x {args.n_seeds} seeds x 2 = {runs} "
        f"runs of {args.n_volumes} vols (TR {args.tr} s, dt {args.dt} s); mean band width "
        f"{width:.3f} z; max analytic |delta| {np.abs(result.delta_fc).max():.4f} z |"
    )
    if args.neurolib:
        compare_neurolib(args, connectome, n, fit.best_coupling)


def compare_neurolib(
    args: argparse.Namespace, connectome: Connectome | np.ndarray, n: int, coupling: float
) -> None:
    """Print simulate_hopf's and neurolib's seconds per run of the same integration."""
    steps = round((60.0 + args.n_volumes * args.tr) / args.dt)
    batch = 2 * args.n_seeds
    start = time.perf_counter()
    simulate_hopf(connectome, coupling, args.n_volumes, args.tr, dt=args.dt, n_seeds=batch)
    ours = (time.perf_counter() - start) / batch
    theirs = neurolib_per_run(connectome, n, steps, args.dt, args.neurolib_runs)
    if theirs is None:
        print("| neurolib HopfModel | - | not installed |")
        return
    print(
        f"| dmnpharm simulate_hopf, per run ({batch} runs batched) | {ours:.3f} | {steps} steps |"
    )
    print(
        f"| neurolib HopfModel, per run ({args.neurolib_runs} runs) | {theirs:.3f} | "
        f"{steps} steps, Euler, numba |"
    )
    print(f"\n**Ratio neurolib / dmnpharm per run at {n} regions: {theirs / ours:.1f}**")


def main() -> None:
    """Parse the options and time each size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(os.environ.get("DMNPHARM_DATA", "/work/shared/data"))
    parser.add_argument("--data", type=Path, default=default)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 400])
    parser.add_argument("--n-seeds", type=int, default=10)
    parser.add_argument("--n-volumes", type=int, default=300)
    parser.add_argument("--tr", type=float, default=2.0)
    parser.add_argument("--dt", type=float, default=0.1)
    parser.add_argument("--min-couplings", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--neurolib", action="store_true", help="also time neurolib's Hopf")
    parser.add_argument("--neurolib-runs", type=int, default=5)
    args = parser.parse_args()
    print("# Whole-brain Hopf model: fit G + predict one drug")
    for n in args.sizes:
        bench(args, n)


if __name__ == "__main__":
    main()
