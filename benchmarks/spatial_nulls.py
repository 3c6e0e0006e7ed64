"""Spatial null maps: dmnpharm's variogram surrogates vs BrainSMASH, and their calibration.

1. **Time and fit.** Surrogates of one 400-parcel map (a Gaussian random field
   on the Schaefer-400 centroids when the coordinate file is found under
   ``--data``, else on a synthetic 3-D point cloud) with the Euclidean distance
   matrix, made by ``dmnpharm.predict.variogram_surrogates`` and by BrainSMASH's
   ``Base`` with the same settings (neighbour fractions 0.1..0.9, exponential
   smoothing kernel, pairs below the 25th distance percentile, 25 distance
   bins, default bandwidth, rank-matched values). Times, their ratio, and the
   fit of the surrogates' variograms to the map's (relative RMSE of each
   surrogate's variogram, median over surrogates) are printed.
2. **Calibration.** For ``--pairs`` pairs of independent smooth maps, the share
   of pairs whose correlation is called significant at 0.05 by the spatial null
   and by the parametric Pearson p-value.

Run from the repository root (needs ``pip install -e .[bench]`` for BrainSMASH)::

    PYTHONPATH=src python benchmarks/spatial_nulls.py               # 10,000 surrogates each
    PYTHONPATH=src python benchmarks/spatial_nulls.py --quick       # a smaller run, seconds

BrainSMASH makes its surrogates one at a time in Python; ``--brainsmash-surrogates``
times it on fewer surrogates and the ratio is then computed per surrogate.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
from scipy import stats

from dmnpharm.predict import (
    empirical_variogram,
    euclidean_distance,
    spatial_p,
    variogram_surrogates,
)

CENTRES = "receptors_hansen2022/data/schaefer/coordinates/Schaefer_400_centres.txt"


def load_coordinates(data: Path, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """Return 400 region centroids (mm) and where they came from."""
    path = data / CENTRES
    if path.is_file():
        return np.loadtxt(path, usecols=(1, 2, 3)), f"Schaefer-400 centroids ({path.name})"
    cloud = rng.normal(scale=(35.0, 45.0, 30.0), size=(400, 3))
    return cloud, "synthetic 3-D point cloud (Schaefer centroids not found)"


def random_fields(
    dist: np.ndarray, n_maps: int, length: float, rng: np.random.Generator
) -> np.ndarray:
    """Return ``n_maps`` Gaussian random fields with covariance ``exp(-d / length)``."""
    factor = np.linalg.cholesky(np.exp(-dist / length) + 1e-9 * np.eye(len(dist)))
    return (factor @ rng.standard_normal((len(dist), n_maps))).T


def fit_error(surrogates: np.ndarray, x: np.ndarray, dist: np.ndarray) -> tuple[float, float]:
    """Return the median relative RMSE of surrogate variograms, and of their median."""
    _, target = empirical_variogram(x, dist)
    _, gamma = empirical_variogram(surrogates, dist)
    each = np.sqrt(np.mean((gamma - target) ** 2, axis=1)) / target.mean()
    pooled = np.sqrt(np.mean((np.median(gamma, axis=0) - target) ** 2)) / target.mean()
    return float(np.median(each)), float(pooled)


def time_and_fit(args: argparse.Namespace, dist: np.ndarray, x: np.ndarray) -> None:
    """Time both tools on one map and compare the fit of their variograms."""
    from brainsmash.mapgen.base import Base

    start = time.perf_counter()
    ours = variogram_surrogates(x, dist, args.surrogates, seed=args.seed)
    ours_s = time.perf_counter() - start

    start = time.perf_counter()
    generator = Base(x, dist, kernel="exp", pv=25, nh=25, resample=True, seed=args.seed)
    theirs = np.atleast_2d(generator(n=args.brainsmash_surrogates))
    theirs_s = time.perf_counter() - start

    per_ours = ours_s / args.surrogates
    per_theirs = theirs_s / args.brainsmash_surrogates
    n_fit = min(args.fit_surrogates, len(ours), len(theirs))
    rows = [
        ("dmnpharm `variogram_surrogates`", args.surrogates, ours_s, per_ours, ours[:n_fit]),
        ("BrainSMASH `Base`", args.brainsmash_surrogates, theirs_s, per_theirs, theirs[:n_fit]),
    ]
    print("\n## Time and variogram fit (400 regions)\n")
    print(f"1-min load average: {os.getloadavg()[0]:.2f}; fit over {n_fit} surrogates each\n")
    print("| tool | surrogates | seconds | ms / surrogate | fit RMSE (median) | fit of median |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, count, seconds, per, maps in rows:
        each, pooled = fit_error(maps, x, dist)
        print(
            f"| {name} | {count} | {seconds:.2f} | {1e3 * per:.2f} | {each:.3f} | {pooled:.3f} |"
        )
    print(f"\n**Ratio BrainSMASH / dmnpharm (per surrogate): {per_theirs / per_ours:.1f}**")


def calibration(args: argparse.Namespace, dist: np.ndarray, rng: np.random.Generator) -> None:
    """Print the false-positive rates of the spatial null and the parametric test."""
    print(f"\n## False-positive rate at alpha = 0.05 ({args.pairs} independent map pairs)\n")
    print(
        f"{args.fpr_surrogates} surrogates per pair; binomial SE of a 0.05 rate: "
        f"{np.sqrt(0.05 * 0.95 / args.pairs):.3f}\n"
    )
    print("| smoothness (exp covariance length, mm) | spatial null FPR | naive Pearson FPR |")
    print("|---:|---:|---:|")
    for length in args.lengths:
        maps_x = random_fields(dist, args.pairs, length, rng)
        maps_y = random_fields(dist, args.pairs, length, rng)
        spatial = naive = 0
        for x, y in zip(maps_x, maps_y, strict=True):
            observed, p_naive = stats.pearsonr(x, y)
            null = variogram_surrogates(x, dist, args.fpr_surrogates, seed=rng)
            null_r = np.corrcoef(np.vstack([y, null]))[0, 1:]
            spatial += spatial_p(float(observed), null_r) <= 0.05
            naive += p_naive <= 0.05
        print(f"| {length:g} | {spatial / args.pairs:.3f} | {naive / args.pairs:.3f} |")


def main() -> None:
    """Parse the options and run both parts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--surrogates", type=int, default=10_000)
    parser.add_argument("--brainsmash-surrogates", type=int, default=10_000)
    parser.add_argument("--fit-surrogates", type=int, default=1_000)
    parser.add_argument("--pairs", type=int, default=500)
    parser.add_argument("--fpr-surrogates", type=int, default=500)
    parser.add_argument("--lengths", type=float, nargs="+", default=[10.0, 25.0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="1000/100 surrogates, 100 pairs")
    parser.add_argument("--skip-calibration", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.surrogates, args.brainsmash_surrogates = 1000, 100
        args.pairs, args.fpr_surrogates = 100, 200
    rng = np.random.default_rng(args.seed)
    coords, source = load_coordinates(args.data, rng)
    dist = euclidean_distance(coords)
    print(f"# Spatial null maps\n\nRegions: {source}; Euclidean distances.")
    x = random_fields(dist, 1, 25.0, rng)[0]
    time_and_fit(args, dist, x)
    if not args.skip_calibration:
        calibration(args, dist, rng)


if __name__ == "__main__":
    main()
