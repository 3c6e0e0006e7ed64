"""``dmnpharm power``: power analysis outputs (table, per-study tests, curve, provenance)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dmnpharm._utils import get_logger, staged_output_dir, versions
from dmnpharm.io import OutputLayout
from dmnpharm.report._figures import power_curve_figure
from dmnpharm.simulate import PowerResult, json_file, spec_to_dict

__all__ = ["PowerOutputs", "write_power"]

_LOG = get_logger("report")


@dataclass(frozen=True)
class PowerOutputs:
    """Where a power analysis was written.

    Parameters
    ----------
    out : Path
        The output folder.
    table : Path
        ``power.tsv``: one row per sample size.
    figure : Path
        ``power.png``: the power curve.
    """

    out: Path
    table: Path
    figure: Path


def write_power(result: PowerResult, out: str | Path, overwrite: bool = False) -> PowerOutputs:
    """Write a power analysis atomically: all files appear together or none do.

    Parameters
    ----------
    result : PowerResult
        From :func:`dmnpharm.simulate.power_analysis`.
    out : str or Path
        Output folder: ``power.tsv``, ``power_studies.tsv`` (every simulated
        study's test), ``power.png`` and ``power.json`` (spec, contrast, seed,
        versions).
    overwrite : bool
        Replace a non-empty ``out``.

    Returns
    -------
    PowerOutputs
        Final paths.
    """
    final = Path(out)
    contrast = result.contrast
    with staged_output_dir(final, overwrite=overwrite) as staging:
        layout = OutputLayout(staging)
        result.table.to_csv(layout.power_table, sep="\t", index=False, float_format="%.6g")
        result.studies.to_csv(layout.power_studies, sep="\t", index=False, float_format="%.6g")
        title = f"{result.spec.name}: {contrast.description} ({contrast.test})"
        layout.power_figure.write_bytes(power_curve_figure(result.table, title))
        json_file(
            layout.power_record,
            {
                "generator": "dmnpharm.simulate.power_analysis",
                "contrast": {
                    "measure": contrast.target.name,
                    "test": contrast.test,
                    "condition_a": contrast.condition_a,
                    "condition_b": contrast.condition_b,
                    "description": contrast.description,
                },
                "seed": result.seed,
                "spec": spec_to_dict(result.spec),
                "versions": versions(),
            },
        )
    _LOG.info("power analysis written to %s", final)
    done = OutputLayout(final)
    return PowerOutputs(final, done.power_table, done.power_figure)
