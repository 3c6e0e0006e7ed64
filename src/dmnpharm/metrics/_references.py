"""Short citations of the network measures and connectivity estimators, for methods text.

Each citation is the source named in the docstring of the function that computes
the measure (e.g. :func:`dmnpharm.metrics.system_segregation`). The plain network
averages of connectivity (within the DMN, DMN to salience, frontoparietal and
dorsal attention regions) are definitions without a single source; they map to
an empty string.
"""

from __future__ import annotations

__all__ = ["ESTIMATOR_REFERENCES", "MEASURE_CAVEATS", "MEASURE_REFERENCES"]

_ANDREWS_HANNA = "Andrews-Hanna et al. 2010, Neuron 65:550-562"
_CHAN = "Chan et al. 2014, PNAS 111:E4997-E5006"
_ALLEN = "Allen et al. 2014, Cereb Cortex 24:663-676"
_ZANG = "Zang et al. 2007, Brain Dev 29:83-91"
_ZOU = "Zou et al. 2008, J Neurosci Methods 172:137-141"

#: Network-level measure (a key of ``NETWORK_MEASURES``) to its short citation;
#: "" for plain averages of connectivity, which have no single source.
MEASURE_REFERENCES: dict[str, str] = {
    "dmn_within_fc": "",
    "dmn_core_within_fc": _ANDREWS_HANNA,
    "dmn_dmpfc_within_fc": _ANDREWS_HANNA,
    "dmn_mtl_within_fc": _ANDREWS_HANNA,
    "dmn_salience_fc": "",
    "dmn_fpn_fc": "",
    "dmn_dan_fc": "",
    "dmn_anticorrelation": "Fox et al. 2005, PNAS 102:9673-9678",
    "dmn_segregation": _CHAN,
    "system_segregation": _CHAN,
    "dmn_gbc": "Cole et al. 2010, NeuroImage 49:3132-3148",
    "dmn_degree": "proportional threshold of Rubinov & Sporns 2010, NeuroImage 52:1059",
    "dmn_participation": "Guimera & Amaral 2005, Nature 433:895-900",
    "dmn_swfc_mean": _ALLEN,
    "dmn_swfc_sd": _ALLEN,
    "dmn_sample_entropy": "Richman & Moorman 2000, Am J Physiol Heart Circ Physiol "
    "278:H2039-H2049",
    "dmn_lz_complexity": "Lempel & Ziv 1976, IEEE Trans Inf Theory 22:75-81",
    "dmn_alff": _ZANG,
    "dmn_falff": _ZOU,
    "dmn_zalff": _ZANG,
    "dmn_zfalff": f"{_ZOU} (z form as in {_ZANG})",
}

#: Connectivity estimator (a key of ``ESTIMATORS``) to its short citation.
ESTIMATOR_REFERENCES: dict[str, str] = {
    "pearson": "",
    "partial": "Ledoit & Wolf 2004, J Multivar Anal 88:365-411 and Marrelec et al. 2006, "
    "NeuroImage 32:228-237",
    "tangent": "Varoquaux et al. 2010, MICCAI, LNCS 6361:200-208",
}

_SNR = (
    "depends on the signal-to-noise ratio: where a drug lowers BOLD amplitude, scanner "
    "noise takes a larger share of the signal and raises it without any change in neural "
    "dynamics (in the simulator's presets with a planted amplitude decrease, sample entropy "
    "rose with t 4.3-4.5 and no planted change); read it beside dmn_alff and tSNR"
)

#: Network-level measures whose meaning depends on signal quality or on global
#: signal regression, with the caveat the methods text and reports carry.
MEASURE_CAVEATS: dict[str, str] = {
    "dmn_sample_entropy": _SNR,
    "dmn_lz_complexity": _SNR,
    "dmn_gbc": "after global signal regression every region's mean connectivity is pushed "
    "toward zero, so GBC is not comparable between cleanings with and without GSR "
    "(Murphy & Fox 2017, NeuroImage 154:169-173)",
    "dmn_anticorrelation": "negative DMN correlations are partly produced by global signal "
    "regression (Murphy et al. 2009, NeuroImage 44:893-905); compare with the analysis "
    "without GSR",
    "dmn_alff": "in the image's signal units, which depend on scanner and scaling; fALFF and "
    "the z forms are comparable across sessions",
}
