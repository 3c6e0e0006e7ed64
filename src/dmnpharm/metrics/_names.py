"""The names of the bundle's network-level measures: a light module, free of heavy imports.

The command line builds its option choices from these names; keeping them here lets
``dmnpharm --help`` start without importing scikit-learn and nilearn.
"""

from __future__ import annotations

__all__ = ["NETWORK_MEASURES"]

#: Network-level measures of the bundle, with one line each for reports.
NETWORK_MEASURES: dict[str, str] = {
    "dmn_within_fc": "mean connectivity over all pairs of DMN regions",
    "dmn_core_within_fc": "mean connectivity within the DMN midline core subsystem",
    "dmn_dmpfc_within_fc": "mean connectivity within the DMN dorsomedial subsystem",
    "dmn_mtl_within_fc": "mean connectivity within the DMN medial temporal subsystem",
    "dmn_salience_fc": "mean connectivity between DMN and salience regions",
    "dmn_fpn_fc": "mean connectivity between DMN and frontoparietal control regions",
    "dmn_dan_fc": "mean connectivity between DMN and dorsal attention regions",
    "dmn_anticorrelation": "mean connectivity between DMN and the task-positive networks "
    "present (DAN, FPN, SN, VAN, CON; Fox et al. 2005)",
    "dmn_segregation": "(within-DMN - DMN-to-other) / within-DMN connectivity, negative "
    "edges as zero (Chan et al. 2014)",
    "system_segregation": "segregation of all networks together (Chan et al. 2014)",
    "dmn_gbc": "mean over DMN regions of their mean connectivity with every other region "
    "(global brain connectivity, Cole et al. 2010)",
    "dmn_degree": "mean degree of DMN nodes in the graph of the strongest positive edges",
    "dmn_participation": "mean participation coefficient of DMN nodes, networks as modules "
    "(Guimera & Amaral 2005)",
    "dmn_swfc_mean": "mean over sliding windows of within-DMN connectivity (Allen et al. 2014)",
    "dmn_swfc_sd": "standard deviation over sliding windows of within-DMN connectivity",
    "dmn_sample_entropy": "mean sample entropy of DMN region signals (Richman & Moorman 2000)",
    "dmn_lz_complexity": "mean Lempel-Ziv complexity of DMN region signals (Lempel & Ziv 1976)",
    "dmn_alff": "mean ALFF (0.01-0.08 Hz amplitude) of DMN regions (Zang et al. 2007)",
    "dmn_falff": "mean fALFF of DMN regions (Zou et al. 2008)",
    "dmn_zalff": "mean ALFF of DMN regions, z-scored over the run's regions",
    "dmn_zfalff": "mean fALFF of DMN regions, z-scored over the run's regions",
}
