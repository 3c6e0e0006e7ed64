"""The data-driven predictor: an observed effect map explained by receptor maps, with nulls."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from dmnpharm.exceptions import InputError
from dmnpharm.predict._explain import (
    DominanceResult,
    adjusted_r2_null,
    dominance_analysis,
    receptor_correlations,
)
from dmnpharm.predict._observed import RegionalMap
from dmnpharm.predict._receptors import ReceptorMaps, align_regions
from dmnpharm.predict._surrogates import euclidean_distance, variogram_surrogates

__all__ = ["DEFAULT_N_NULL", "MapExplanation", "explain_map"]

FloatArray = npt.NDArray[np.float64]

#: Null maps by default: 10,000, as Hansen et al. (2022) used for their spin tests.
DEFAULT_N_NULL = 10_000

#: Fewest regions shared by the observed map and the receptor maps.
MIN_REGIONS = 20

_NULL_METHOD = "variogram-matched surrogates (Burt et al. 2020)"


@dataclass(frozen=True, eq=False)
class MapExplanation:
    """An observed regional map explained by receptor maps.

    Parameters
    ----------
    correlations : pandas.DataFrame
        One row per target (see :func:`receptor_correlations`), sorted by
        ``|r_pearson|``, with ``rank``.
    dominance : DominanceResult or None
        The multiple regression with dominance analysis (None when there are
        too few regions for all targets).
    p_r2_adjusted : float
        Spatial-null p of the full model's adjusted R^2 (NaN without dominance).
    null_r : numpy.ndarray
        Null correlations, n_null x targets, for figures.
    observed : RegionalMap
        The map, restricted to the regions with receptor maps.
    maps : ReceptorMaps
        The receptor maps, aligned to those regions.
    details : dict
        What was done: regions used and left out, distance source, nulls.
    also : pandas.DataFrame
        The same correlation table for the extra maps given as ``also`` (a
        predicted map), outside the regression; empty when none.
    """

    correlations: pd.DataFrame
    dominance: DominanceResult | None
    p_r2_adjusted: float
    null_r: FloatArray
    observed: RegionalMap
    maps: ReceptorMaps
    details: dict[str, Any] = field(default_factory=dict)
    also: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def dominant(self) -> str:
        """The target with the largest total dominance (else the largest |r|).

        Returns
        -------
        str
            A target name.
        """
        if self.dominance is not None:
            table = self.dominance.table
            best = int(np.argmax(table["total_dominance"].to_numpy()))
            return str(table["target"].iloc[best])
        return str(self.correlations.iloc[0]["target"])

    def dominance_table(self) -> pd.DataFrame:
        """Return the dominance table with the model fit in every row, for a TSV.

        Returns
        -------
        pandas.DataFrame
            ``target``, ``total_dominance``, ``relative_dominance``, ``r2``,
            ``r2_adjusted``, ``p_spatial_r2_adjusted``, ``n_regions``,
            sorted by total dominance (empty without dominance).
        """
        if self.dominance is None:
            return pd.DataFrame(columns=["target", "total_dominance", "relative_dominance"])
        table = self.dominance.table.copy()
        table["r2"] = self.dominance.r2
        table["r2_adjusted"] = self.dominance.r2_adjusted
        table["p_spatial_r2_adjusted"] = self.p_r2_adjusted
        table["n_regions"] = self.dominance.n_regions
        return table.sort_values("total_dominance", ascending=False).reset_index(drop=True)


def _shared(
    observed: RegionalMap, maps: ReceptorMaps
) -> tuple[RegionalMap, list[str], npt.NDArray[np.intp]]:
    known = set(maps.regions)
    keep = [i for i, r in enumerate(observed.regions) if r in known]
    dropped = [r for r in observed.regions if r not in known]
    if len(keep) < MIN_REGIONS:
        raise InputError(
            f"only {len(keep)} region(s) of the observed map ({observed.source}) have receptor "
            f"maps in {maps.source} (at least {MIN_REGIONS} needed); the map's regions look "
            f"like {observed.regions[0]!r}, the receptor maps' like {maps.regions[0]!r}: give "
            "maps in the study's atlas"
        )
    index = np.array(keep, dtype=np.intp)
    return (
        RegionalMap(
            tuple(observed.regions[i] for i in keep),
            np.take(observed.values, index),
            observed.source,
            observed.description,
            observed.measure,
            observed.statistic,
            observed.n,
        ),
        dropped,
        index,
    )


def _distance(
    maps: ReceptorMaps,
    distance: npt.ArrayLike | None,
    where: str,
    kept: npt.NDArray[np.intp],
    n_observed: int,
) -> tuple[FloatArray, str]:
    if distance is not None:
        values = np.asarray(distance, dtype=np.float64)
        if values.shape != (n_observed, n_observed):
            raise InputError(
                f"the distance matrix has shape {values.shape}; the observed map has "
                f"{n_observed} regions (give it for those regions, in the map's order)"
            )
        return values[np.ix_(kept, kept)], where or "user-supplied distance matrix"
    if maps.coords is None:
        raise InputError(
            "no region coordinates are known for the spatial nulls: give a region x region "
            "distance matrix (--distance FILE, geodesic or Euclidean) or maps with centroids"
        )
    return euclidean_distance(maps.coords), f"Euclidean distance between centroids ({maps.source})"


def explain_map(
    observed: RegionalMap,
    maps: ReceptorMaps,
    *,
    distance: npt.ArrayLike | None = None,
    distance_source: str = "",
    n_null: int = DEFAULT_N_NULL,
    seed: int = 0,
    also: Mapping[str, RegionalMap] | None = None,
) -> MapExplanation:
    """Explain an observed regional map by receptor maps, against spatial nulls.

    Regions of the map without a receptor map (subcortex for cortical PET
    maps) are left out and listed in ``details``. The null maps are
    variogram-matched surrogates of the observed map (Burt et al. 2020),
    which keep its spatial autocorrelation; each target's correlation and the
    full regression's adjusted R^2 are tested against them.

    Parameters
    ----------
    observed : RegionalMap
        The effect map (see :func:`regional_effect_map`, :func:`read_regional_map`).
    maps : ReceptorMaps
        Receptor maps with the same region labels.
    distance : array_like or None
        Region x region distances for the observed map's regions, in its
        order (those without receptor maps are dropped from it); None uses
        the maps' centroids.
    distance_source : str
        What ``distance`` is, for the record.
    n_null : int
        Surrogate maps.
    seed : int
        Seed of the surrogates.
    also : mapping of str to RegionalMap, or None
        Further maps (e.g. a drug's predicted map) to correlate with the
        observed map against the same nulls (restricted to the regions they
        share, at least 20), outside the regression.

    Returns
    -------
    MapExplanation
        Correlations, dominance, null p-values and the record.

    Raises
    ------
    InputError
        For fewer than 20 shared regions, a wrong distance matrix, or no
        way to compute distances.
    """
    if n_null < 100:
        raise InputError(f"n_null {n_null} is too few for a p-value; use at least 1000")
    used, dropped, kept = _shared(observed, maps)
    aligned = align_regions(maps, used.regions)
    dist, where = _distance(aligned, distance, distance_source, kept, len(observed.regions))
    nulls = variogram_surrogates(used.values, dist, n_null, seed=seed)
    table = receptor_correlations(used.as_series(), aligned, nulls=nulls, null_method=_NULL_METHOD)
    x = np.asarray(aligned.values, dtype=np.float64)
    x = x - x.mean(axis=0)
    x /= np.linalg.norm(x, axis=0)
    centred = nulls - nulls.mean(axis=1, keepdims=True)
    null_r = (centred / np.linalg.norm(centred, axis=1, keepdims=True)) @ x
    n, p = len(used.regions), len(aligned.targets)
    dominance: DominanceResult | None = None
    p_r2 = float("nan")
    if n > p + 2 and p <= 24:
        dominance = dominance_analysis(used.as_series(), aligned)
        null_r2 = adjusted_r2_null(nulls, aligned)
        p_r2 = float((np.sum(null_r2 >= dominance.r2_adjusted - 1e-12) + 1.0) / (n_null + 1.0))
    table = table.assign(abs_r=table["r_pearson"].abs()).sort_values("abs_r", ascending=False)
    table = table.drop(columns="abs_r").reset_index(drop=True)
    table.insert(1, "rank", np.arange(1, len(table) + 1))
    details = {
        "observed": used.record(),
        "receptors": {"source": maps.source, "reference": maps.reference, "targets": p},
        "regions_used": n,
        "regions_left_out": dropped,
        "null_method": _NULL_METHOD,
        "n_null": n_null,
        "seed": seed,
        "distance": where,
        "p_spatial": "two-sided, (count of |r_null| >= |r| + 1) / (n_null + 1)",
        "spin_test": "not run: needs surface coordinates of parcels, which dmnpharm does not hold",
    }
    extra = _also_table(used, nulls, also or {})
    return MapExplanation(table, dominance, p_r2, null_r, used, aligned, details, extra)


def _also_table(
    used: RegionalMap, nulls: FloatArray, also: Mapping[str, RegionalMap]
) -> pd.DataFrame:
    """Correlate extra maps with the observed map on the regions they share, same nulls."""
    tables = []
    for name, values in also.items():
        position = {r: i for i, r in enumerate(values.regions)}
        keep = np.array([i for i, r in enumerate(used.regions) if r in position], dtype=np.intp)
        if keep.size < MIN_REGIONS:
            continue
        regions = tuple(used.regions[i] for i in keep)
        column = np.take(values.values, [position[r] for r in regions])[:, None]
        single = ReceptorMaps(regions, (name,), column, column, False, values.source)
        observed = pd.Series(np.take(used.values, keep), index=regions)
        table = receptor_correlations(
            observed, single, nulls=nulls[:, keep], null_method=_NULL_METHOD
        )
        tables.append(table.assign(n_regions=keep.size))
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
