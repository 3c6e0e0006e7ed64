"""Every renderer: study report, stats report, power outputs, forest plot, methods text."""

from typing import TYPE_CHECKING

from dmnpharm._utils._lazy import lazy_exports

if TYPE_CHECKING:
    from dmnpharm.report._figures import figure_uri, power_curve_figure
    from dmnpharm.report._forest import forest_figure, write_comparison
    from dmnpharm.report._glass_brain import connectome_figure
    from dmnpharm.report._html import ReportContent, Section, render_report, write_report
    from dmnpharm.report._matrix_figure import matrix_figure
    from dmnpharm.report._measure_figures import (
        covariate_figure,
        group_values_figure,
        paired_condition_figure,
    )
    from dmnpharm.report._methods import caveats_sentence, references_sentence
    from dmnpharm.report._nulls import max_null_figure, null_figure, null_section
    from dmnpharm.report._power import PowerOutputs, write_power
    from dmnpharm.report._predict import (
        CORRELATION_COLUMNS,
        PredictionOutputs,
        prediction_section,
        write_prediction,
    )
    from dmnpharm.report._predict_figures import (
        network_prediction_figure,
        receptor_null_figure,
        regional_map_figure,
    )
    from dmnpharm.report._qc import RunQC
    from dmnpharm.report._stats_report import build_stats_report, stats_methods_paragraph
    from dmnpharm.report._study_report import build_report, catalog_section, methods_paragraph
    from dmnpharm.report._summary import Summary

__all__ = [
    "CORRELATION_COLUMNS",
    "PowerOutputs",
    "PredictionOutputs",
    "ReportContent",
    "RunQC",
    "Section",
    "Summary",
    "build_report",
    "build_stats_report",
    "catalog_section",
    "caveats_sentence",
    "connectome_figure",
    "covariate_figure",
    "figure_uri",
    "forest_figure",
    "group_values_figure",
    "matrix_figure",
    "max_null_figure",
    "methods_paragraph",
    "network_prediction_figure",
    "null_figure",
    "null_section",
    "paired_condition_figure",
    "power_curve_figure",
    "prediction_section",
    "receptor_null_figure",
    "references_sentence",
    "regional_map_figure",
    "render_report",
    "stats_methods_paragraph",
    "write_comparison",
    "write_power",
    "write_prediction",
    "write_report",
]

__getattr__, __dir__ = lazy_exports(__name__, __file__)
