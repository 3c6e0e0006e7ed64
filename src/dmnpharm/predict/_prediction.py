"""The result of ``dmnpharm predict``: a drug's prediction, an explained map, or both."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dmnpharm.atlases import Atlas
from dmnpharm.predict._drug import NETWORK_COLUMNS, DrugPrediction
from dmnpharm.predict._explain_map import MapExplanation
from dmnpharm.predict._receptors import ReceptorMaps

__all__ = ["Prediction", "observed_network_changes"]


@dataclass(frozen=True, eq=False)
class Prediction:
    """What ``dmnpharm predict`` found.

    Parameters
    ----------
    maps : ReceptorMaps
        The receptor maps used.
    atlas : Atlas or None
        The regions and networks (None for an explanation of a map whose
        regions belong to no known atlas).
    drug : DrugPrediction or None
        The drug's predicted change (None without ``--drug``).
    explanation : MapExplanation or None
        The observed map explained (None without ``--observed``).
    observed_networks : pandas.DataFrame
        The analysis's own network results, source ``"observed"`` (empty
        when the observed map is not an analysis folder).
    record : dict
        Inputs and every assumption, written as ``prediction.json``.
    """

    maps: ReceptorMaps
    atlas: Atlas | None
    drug: DrugPrediction | None
    explanation: MapExplanation | None
    observed_networks: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=list(NETWORK_COLUMNS))
    )
    record: dict[str, Any] = field(default_factory=dict)

    def network_table(self) -> pd.DataFrame:
        """Return predicted and observed network changes in one table.

        Returns
        -------
        pandas.DataFrame
            :data:`NETWORK_COLUMNS`, one row per measure and source; with a drug,
            observed rows only for the measures it predicts.
        """
        parts = [self.observed_networks]
        if self.drug is not None:
            predicted = set(self.drug.networks["measure"])
            observed = self.observed_networks
            parts = [self.drug.networks, observed[observed["measure"].isin(predicted)]]
        parts = [p for p in parts if not p.empty]
        if not parts:
            return pd.DataFrame(columns=list(NETWORK_COLUMNS))
        return pd.concat(parts, ignore_index=True)

    def agreement(self) -> pd.DataFrame:
        """Return, per measure, whether each prediction's direction matches the observed one.

        Returns
        -------
        pandas.DataFrame
            ``measure``, ``source``, ``predicted``, ``observed`` and
            ``agrees`` (observed = the sign of the estimate when its CI
            excludes 0, else "no change"); empty without both.
        """
        table = self.network_table()
        observed_rows = table[table["source"] == "observed"]
        seen = dict(zip(observed_rows["measure"], observed_rows["direction"], strict=True))
        rows = []
        for row in table[table["source"] != "observed"].to_dict(orient="records"):
            if row["measure"] in seen:
                found = str(seen[row["measure"]])
                predicted = str(row["direction"])
                rows.append((row["measure"], row["source"], predicted, found, predicted == found))
        return pd.DataFrame(rows, columns=["measure", "source", "predicted", "observed", "agrees"])


def observed_network_changes(folder: str | Path) -> pd.DataFrame:
    """Read an analysis's network results as observed changes (estimate and CI).

    Parameters
    ----------
    folder : str or Path
        The output folder of ``dmnpharm run``.

    Returns
    -------
    pandas.DataFrame
        :data:`NETWORK_COLUMNS`, source ``"observed"``; direction is
        "increase"/"decrease" when the CI excludes 0, else "no change".
    """
    path = Path(folder) / "group" / "results.parquet"
    if not path.is_file():
        return pd.DataFrame(columns=list(NETWORK_COLUMNS))
    results = pd.read_parquet(path)
    config = json.loads((Path(folder) / "provenance.json").read_text()).get("config", {})
    contrast = "-".join(config.get("between_contrast") or config.get("contrast") or ())
    rows = []
    for r in results.to_dict(orient="records"):
        low, high = float(r["ci_low"]), float(r["ci_high"])
        direction = "increase" if low > 0 else "decrease" if high < 0 else "no change"
        note = (
            f"this study's {contrast} estimate, {int(r['n'])} subjects, p_FWER {r['p_fwer']:.3g}"
        )
        rows.append(
            (str(r["measure"]), "observed", float(r["estimate"]), low, high, direction, note)
        )
    table = pd.DataFrame(rows, columns=list(NETWORK_COLUMNS))
    keep = np.isfinite(table["estimate"].to_numpy(dtype=float))
    out: pd.DataFrame = table[keep].reset_index(drop=True)
    return out
