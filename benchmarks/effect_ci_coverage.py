"""Coverage of the two d_z intervals: noncentral t (the default) and the percentile bootstrap.

For each number of subjects, distribution of the paired differences (normal;
Student t with 5 df, heavy tails; centred chi-square with 4 df, skewed) and
true d_z, ``--studies`` simulated studies are drawn at once (one study per
column, so one call of each interval method covers them all) and the share of
95 % intervals containing the true d_z is printed beside the mean width. The
choice of the default in ``dmnpharm.stats.EFFECT_CI`` rests on these numbers.

Example, from the repository root::

    PYTHONPATH=src python benchmarks/effect_ci_coverage.py --studies 2000
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import numpy.typing as npt

from dmnpharm.stats import bootstrap_ci, dz_interval

Array = npt.NDArray[np.float64]


def draw(rng: np.random.Generator, shape: str, n: int, studies: int) -> Array:
    """Unit-variance, zero-mean errors: ``normal``, ``t5`` or ``chi2(4)`` (skewed)."""
    if shape == "normal":
        return rng.standard_normal((n, studies))
    if shape == "t5":
        scaled: Array = rng.standard_t(5, (n, studies)) / np.sqrt(5 / 3)
        return scaled
    skewed: Array = (rng.chisquare(4, (n, studies)) - 4) / np.sqrt(8)
    return skewed


def main() -> None:
    """Print the coverage table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--studies", type=int, default=2000)
    parser.add_argument("--bootstrap", type=int, default=2000, help="resamples per study")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    print(f"{args.studies} studies per row, 95 % intervals, {args.bootstrap} bootstrap resamples")
    print(f"{'n':>4} {'errors':<8} {'d_z':>4}   bootstrap (width)   noncentral t (width)")
    start = time.perf_counter()
    for n in (12, 20, 40):
        for shape in ("normal", "t5", "chi2(4)"):
            for delta in (0.0, 0.5, 1.0):
                d = draw(rng, shape, n, args.studies) + delta
                low_b, high_b = bootstrap_ci("dz", d, n_bootstrap=args.bootstrap, seed=1)
                low_t, high_t = dz_interval(d)
                cover_b = np.mean((low_b <= delta) & (delta <= high_b))
                cover_t = np.mean((low_t <= delta) & (delta <= high_t))
                width_b, width_t = np.mean(high_b - low_b), np.mean(high_t - low_t)
                print(
                    f"{n:>4} {shape:<8} {delta:>4.1f}   {cover_b:.3f} ({width_b:.2f})"
                    f"        {cover_t:.3f} ({width_t:.2f})"
                )
    print(f"{time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
