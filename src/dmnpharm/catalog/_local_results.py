"""A ``dmnpharm run`` or ``stats`` results table as a study of the evidence catalog.

:func:`study_from_results` makes one ``[[studies]]`` table, with a numeric
finding per measure, from a group results table and its provenance; the
``dmnpharm catalog add-result`` command appends it to the local catalog with
:func:`~dmnpharm.catalog.add_studies`, which validates it like any study.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from dmnpharm.catalog._model import Catalog
from dmnpharm.catalog._results import ALPHA, check_columns, is_normalization, pick_contrast
from dmnpharm.catalog._select import PATIENTS, resolve_drug
from dmnpharm.catalog._vocabulary import DESIGNS, VOCABULARY
from dmnpharm.exceptions import InputError

__all__ = ["RESULT_FIELDS", "study_from_results"]

#: Study fields :func:`study_from_results` takes from the caller.
RESULT_FIELDS: tuple[str, ...] = (
    "id",
    "first_author",
    "year",
    "journal",
    "doi",
    "drug",
    "population",
    "design",
    "dose",
    "n",
    "modality",
    "note",
)

# Effect-size kinds of a dmnpharm results table and their catalog names.
_KINDS = {"d_z": "d_z", "hedges_g": "hedges_g", "pearson_r": "r"}


def _number(row: pd.Series, column: str) -> float:
    value = row.get(column, math.nan)
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _rounded(value: float) -> float:
    return float(f"{value:.6g}")


def _direction(row: pd.Series, normalization: bool, source: str) -> str:
    """Return the catalog direction of one result: by p_fwer, else by its CI."""
    estimate, p = _number(row, "estimate"), _number(row, "p_fwer")
    low, high = _number(row, "ci_low"), _number(row, "ci_high")
    if math.isfinite(p) and math.isfinite(estimate):
        changed = p < ALPHA and estimate != 0
    elif math.isfinite(low) and math.isfinite(high):
        changed, estimate = low > 0 or high < 0, (low + high) / 2
    else:
        raise InputError(
            f"results table '{source}': measure {row['measure']!r} has neither an estimate "
            "with p_fwer nor a CI, so its direction is unknown; leave the row out"
        )
    if not changed:
        return "no change"
    if not normalization:
        return "increase" if estimate > 0 else "decrease"
    if estimate < 0:
        return "normalization"
    raise InputError(
        f"results table '{source}': measure {row['measure']!r} moved away from controls, "
        "which no catalog direction describes; add this study by hand with "
        "'dmnpharm catalog add' and the direction of the measure itself"
    )


def _effect_text(row: pd.Series, confidence: float) -> str:
    contrast = row.get("contrast")
    parts = [f"estimate {_number(row, 'estimate'):.4g}"]
    low, high = _number(row, "ci_low"), _number(row, "ci_high")
    if math.isfinite(low) and math.isfinite(high):
        parts.append(f"{confidence:.0%} CI [{low:.4g}, {high:.4g}]")
    p = _number(row, "p_fwer")
    if math.isfinite(p):
        parts.append(f"p_fwer = {p:.3g}")
    text = ", ".join(parts)
    return f"{contrast}: {text}" if isinstance(contrast, str) and contrast else text


def _effect(row: pd.Series, confidence: float, source: str) -> dict[str, Any]:
    """Return the numeric-effect fields of one result (direction_only without a number)."""
    kind = row.get("effect_size_kind")
    kind = kind if isinstance(kind, str) else ""
    size = _number(row, "effect_size")
    low, high = _number(row, "effect_size_ci_low"), _number(row, "effect_size_ci_high")
    if (kind not in _KINDS or not math.isfinite(size)) and math.isfinite(
        _number(row, "effect_size_dz")
    ):
        kind, size, low, high = "d_z", _number(row, "effect_size_dz"), math.nan, math.nan
    if kind not in _KINDS or not math.isfinite(size):
        of_kind = f" of a kind the catalog has ({kind!r} is not one)" if kind else ""
        reason = f"the results table gives no standardized effect{of_kind} for this measure"
        return {"direction_only": True, "direction_only_reason": reason}
    out: dict[str, Any] = {"effect_size": _rounded(size), "effect_kind": _KINDS[kind]}
    n = _number(row, "n")
    if math.isfinite(n) and n >= 2:
        out["effect_n"] = int(n)
    ci = (_rounded(low), _rounded(high)) if math.isfinite(low + high) else None
    if ci is not None and math.isclose(confidence, 0.95) and ci[0] <= out["effect_size"] <= ci[1]:
        out["ci_low"], out["ci_high"] = ci
    out["effect_source"] = f"dmnpharm results {source}"
    out["effect_confidence"] = "verified"
    return out


def _design(table: pd.DataFrame, provenance: Mapping[str, Any], source: str) -> str:
    """Return ``crossover`` for a paired analysis; anything else must be given."""
    models = set(table["model"].dropna().astype(str)) if "model" in table.columns else set()
    config = provenance.get("config") or {}
    spec = provenance.get("model") or {}
    paired = models == {"paired"} or (
        not models
        and (
            (provenance.get("command") == "run" and config.get("between") is None)
            or (
                provenance.get("command") == "stats"
                and bool(spec.get("within"))
                and not any(spec.get(k) for k in ("between", "trend", "test_covariate"))
            )
        )
    )
    if paired:
        return "crossover"
    model = ", ".join(sorted(models)) or "not recorded"
    raise InputError(
        f"cannot tell the design of '{source}' (model: {model}): only a paired analysis is "
        f"taken to be a crossover; give the design (one of {', '.join(DESIGNS)})"
    )


def _population(given: Mapping[str, Any], config: Mapping[str, Any], source: str) -> str:
    population = given.get("population") or config.get("population")
    if not population:
        raise InputError(
            f"the provenance of '{source}' names no population; give one (healthy, mdd, ...)"
        )
    if str(population).strip().lower() == PATIENTS:
        raise InputError(
            "population 'patients' stands for every patient population; give the population "
            "id of this study (mdd, schizophrenia, ...)"
        )
    return str(population)


def _confidence(provenance: Mapping[str, Any]) -> float:
    from dmnpharm.config import Inference  # 'dmnpharm stats' records none: its default

    config = provenance.get("config") or {}
    level = config.get("confidence", provenance.get("confidence"))
    return float(level) if isinstance(level, int | float) else Inference().confidence


def _checked_table(results: pd.DataFrame, contrast: str | None, source: str) -> pd.DataFrame:
    check_columns(results, source)
    table = pick_contrast(results, contrast, source)
    if table.empty:
        raise InputError(f"results table '{source}' has no rows")
    unknown = sorted(set(table["measure"].astype(str)) - set(VOCABULARY))
    if unknown:
        raise InputError(
            f"results table '{source}' has measure(s) {', '.join(map(repr, unknown))} that the "
            "catalog vocabulary lacks (see dmnpharm.catalog.VOCABULARY); leave those rows out"
        )
    return table


def _given(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Return the fields the caller gave (None left out), checked."""
    given = {k: v for k, v in fields.items() if v is not None}
    unknown = sorted(set(given) - set(RESULT_FIELDS))
    if unknown:
        raise InputError(
            f"unknown study field(s) {', '.join(map(repr, unknown))}; "
            f"the fields are {', '.join(RESULT_FIELDS)}"
        )
    missing = [k for k in ("id", "first_author") if k not in given]
    if missing:
        raise InputError(f"the study needs {' and '.join(missing)} (e.g. id 'smith2026')")
    return given


def _largest_n(table: pd.DataFrame) -> str:
    """Return the largest ``n`` of the table as text ("" when there is none)."""
    if "n" not in table.columns:
        return ""
    largest = float(pd.to_numeric(table["n"], errors="coerce").max())
    return str(int(largest)) if math.isfinite(largest) else ""


def study_from_results(
    results: pd.DataFrame,
    provenance: Mapping[str, Any],
    fields: Mapping[str, Any],
    catalog: Catalog,
    source: str,
    contrast: str | None = None,
) -> dict[str, Any]:
    """Turn a group results table into a catalog study with one finding per measure.

    Each measure becomes a finding: its direction is ``increase`` or
    ``decrease`` (``normalization`` in a normalization analysis) by the sign
    of the estimate when ``p_fwer`` < 0.05, else ``no change`` (by the CI when
    there is no ``p_fwer``); its number is the table's standardized effect
    (``d_z``, ``hedges_g``, or ``pearson_r`` as ``r``) with ``effect_n`` from
    ``n``, its 95% CI when the analysis used 95% intervals, ``effect_source``
    ``"dmnpharm results SOURCE"`` and ``effect_confidence`` ``verified``; a
    measure without one is ``direction_only``.

    Parameters
    ----------
    results : pandas.DataFrame
        A results table of ``dmnpharm run`` or ``stats`` (see
        :func:`~dmnpharm.catalog.read_results`).
    provenance : mapping
        The analysis's provenance record (empty when there is none): the
        drug, population and confidence level of ``config``, and the model,
        are read from it.
    fields : mapping
        Study fields given by the caller, keys of :data:`RESULT_FIELDS`
        (None values ignored). ``id`` and ``first_author`` are required;
        ``drug`` (agent or class), ``population`` and ``design`` override the
        provenance (design: a paired analysis is a ``crossover``, anything
        else must be given); ``year`` and ``doi`` default to a reason saying
        the analysis is not published; ``modality`` to ``rest``; ``n`` to the
        largest ``n`` of the table.
    catalog : Catalog
        The catalog that resolves the drug.
    source : str
        The results table's path, quoted in messages and ``effect_source``.
    contrast : str, optional
        Which contrast of the table, when it has several.

    Returns
    -------
    dict
        One ``[[studies]]`` table, ready for :func:`add_studies`.

    Raises
    ------
    InputError
        An unknown field, a missing id, author, drug, population or design,
        a measure outside the catalog vocabulary, or a result whose direction
        cannot be told.
    """
    given = _given(fields)
    table = _checked_table(results, contrast, source)
    config = provenance.get("config") or {}
    drug = given.get("drug") or config.get("drug")
    if not drug:
        raise InputError(f"the provenance of '{source}' names no drug; give the drug (agent id)")
    selection = resolve_drug(catalog, str(drug))
    population = _population(given, config, source)
    design = given.get("design") or _design(table, provenance, source)
    confidence = _confidence(provenance)
    normalization = is_normalization(table)
    findings = [
        {
            "measure": str(row["measure"]),
            "direction": _direction(row, normalization, source),
            "effect": _effect_text(row, confidence),
            **_effect(row, confidence, source),
        }
        for _, row in table.iterrows()
    ]
    unpublished = "own analysis, not published"
    denoise = config.get("denoise") or {}
    gsr = denoise.get("gsr")
    return {
        "id": str(given["id"]),
        "first_author": str(given["first_author"]),
        **({"year": given["year"]} if "year" in given else {"year_reason": unpublished}),
        "journal": str(given.get("journal", "")),
        **({"doi": given["doi"]} if "doi" in given else {"doi_reason": unpublished}),
        "agents": [selection.agent.id] if selection.agent is not None else [],
        "drug_class": selection.drug_class.id,
        "dose": str(given.get("dose", "")),
        "design": design,
        "population": population,
        "n": str(given.get("n") or _largest_n(table)),
        "modality": given.get("modality", "rest"),
        "findings": findings,
        **({"gsr": gsr} if isinstance(gsr, bool) else {}),
        "confirmation": "confirmed",
        "note": given.get("note")
        or f"Own analysis, added by 'dmnpharm catalog add-result' from {source}.",
    }
