"""Subject-level DMN measures, one tidy row per run and measure."""

from dmnpharm.metrics._fc import (
    MEASURES,
    MeasureSpec,
    fisher_z_connectivity,
    network_mean_fc,
    run_fc_metrics,
)

__all__ = [
    "MEASURES",
    "MeasureSpec",
    "fisher_z_connectivity",
    "network_mean_fc",
    "run_fc_metrics",
]
