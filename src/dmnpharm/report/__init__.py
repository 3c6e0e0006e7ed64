"""Self-contained HTML reports and their figures."""

from typing import TYPE_CHECKING

from dmnpharm._utils._lazy import lazy_exports

if TYPE_CHECKING:
    from dmnpharm.report._figures import (
        connectome_figure,
        covariate_figure,
        figure_uri,
        group_values_figure,
        matrix_figure,
        paired_condition_figure,
        power_curve_figure,
    )
    from dmnpharm.report._html import ReportContent, Section, render_report, write_report
    from dmnpharm.report._methods import references_sentence
    from dmnpharm.report._nulls import max_null_figure, null_figure, null_section

__all__ = [
    "ReportContent",
    "Section",
    "connectome_figure",
    "covariate_figure",
    "figure_uri",
    "group_values_figure",
    "matrix_figure",
    "max_null_figure",
    "null_figure",
    "null_section",
    "paired_condition_figure",
    "power_curve_figure",
    "references_sentence",
    "render_report",
    "write_report",
]

__getattr__, __dir__ = lazy_exports(__name__, __file__)
