"""Self-contained HTML reports and their figures."""

from dmnpharm.report._figures import paired_condition_figure, power_curve_figure
from dmnpharm.report._html import ReportContent, render_report, write_report

__all__ = [
    "ReportContent",
    "paired_condition_figure",
    "power_curve_figure",
    "render_report",
    "write_report",
]
