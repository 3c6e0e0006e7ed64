"""Self-contained HTML reports and their figures."""

from dmnpharm.report._figures import (
    connectome_figure,
    figure_uri,
    matrix_figure,
    paired_condition_figure,
    power_curve_figure,
)
from dmnpharm.report._html import ReportContent, Section, render_report, write_report

__all__ = [
    "ReportContent",
    "Section",
    "connectome_figure",
    "figure_uri",
    "matrix_figure",
    "paired_condition_figure",
    "power_curve_figure",
    "render_report",
    "write_report",
]
