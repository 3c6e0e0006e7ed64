"""A two-condition placebo/drug crossover study at the level of region signals.

Generative model, per subject, session and region ``i`` of network ``k(i)``::

    x_i(t) = a_i s_k(i)(t) + b_i g(t) + sqrt(1 - a_i^2 - b_i^2) e_i(t)

``s_k`` are unit-variance network sources with a fixed between-network
correlation matrix, ``g`` a global signal and ``e_i`` region noise (part BOLD-like,
part white). Every term has unit variance, so the population correlation of two
DMN regions is ``a_i a_j + b_i b_j`` and that of a DMN and a salience region is
``a_i a_j C[DMN, SN] + b_i b_j``.

The drug scales the DMN loadings of the drug session by a factor ``k`` solved so
that the population mean Fisher z over DMN pairs falls by exactly the planted
amount, and divides the DMN rows of the source correlation by ``k``, so every
DMN-to-other-network correlation (DMN-salience among them) is unchanged.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import brentq

from dmnpharm import __version__
from dmnpharm.atlases import Atlas, load_atlas
from dmnpharm.exceptions import InputError
from dmnpharm.metrics import MEASURES
from dmnpharm.simulate._signals import bold_like_noise

__all__ = ["CrossoverSpec", "SimulatedRun", "SimulatedStudy", "simulate_crossover"]

_NOISE_FLOOR = 0.05

_DEFAULT_COUPLING: tuple[tuple[str, str, float], ...] = (
    ("DMN", "DAN", -0.3),
    ("DMN", "SN", -0.2),
    ("DMN", "CON", -0.2),
    ("DMN", "FPN", 0.1),
    ("DAN", "FPN", 0.3),
    ("SN", "CON", 0.4),
    ("SN", "VAN", 0.3),
    ("VIS", "SMN", 0.2),
    ("SMN", "AUD", 0.3),
)


@dataclass(frozen=True)
class CrossoverSpec:
    """Specification of a simulated placebo/drug crossover study.

    Parameters
    ----------
    n_subjects : int
        Subjects; each is scanned once per condition, order counterbalanced.
    dmn_fc_decrease : float
        Planted drop of within-DMN connectivity under drug (mean Fisher z over
        DMN region pairs, population value, the same for every subject).
        Negative values plant an increase.
    seed : int
        Seed of every random draw.
    n_volumes : int
        Volumes per run.
    repetition_time : float
        Seconds per volume.
    atlas : str
        Atlas whose regions and networks are simulated.
    conditions : tuple of str
        ``(placebo, drug)`` labels.
    network_loading : float
        Mean loading of a region on its network source.
    global_loading : float
        Mean loading of a region on the global signal.
    subject_loading_sd : float
        Between-subject SD of network loadings (per region) ...
    session_loading_sd : float
        ... and between-session SD within a subject (state changes).
    white_noise_fraction : float
        Share of region noise variance that is white (thermal); the rest is
        BOLD-like.
    network_coupling : tuple of (str, str, float)
        Correlations between network sources; unlisted pairs are 0.
    """

    n_subjects: int = 24
    dmn_fc_decrease: float = 0.10
    seed: int = 0
    n_volumes: int = 200
    repetition_time: float = 2.0
    atlas: str = "seitzman300"
    conditions: tuple[str, str] = ("placebo", "drug")
    network_loading: float = 0.5
    global_loading: float = 0.3
    subject_loading_sd: float = 0.08
    session_loading_sd: float = 0.04
    white_noise_fraction: float = 0.3
    network_coupling: tuple[tuple[str, str, float], ...] = field(
        default=_DEFAULT_COUPLING
    )

    def __post_init__(self) -> None:
        """Validate ranges, naming the parameter and the value given."""
        checks = [
            (self.n_subjects >= 2, "n_subjects", "at least 2"),
            (self.n_volumes >= 20, "n_volumes", "at least 20"),
            (self.repetition_time > 0, "repetition_time", "positive"),
            (0 < self.network_loading < 1, "network_loading", "between 0 and 1"),
            (0 <= self.global_loading < 1, "global_loading", "between 0 and 1"),
            (self.subject_loading_sd >= 0, "subject_loading_sd", "non-negative"),
            (self.session_loading_sd >= 0, "session_loading_sd", "non-negative"),
            (0 <= self.white_noise_fraction <= 1, "white_noise_fraction", "between 0 and 1"),
            (abs(self.dmn_fc_decrease) < 1, "dmn_fc_decrease", "between -1 and 1 (Fisher z)"),
            (
                len(self.conditions) == 2 and len(set(self.conditions)) == 2,
                "conditions",
                "two different labels",
            ),
        ]
        for ok, name, rule in checks:
            if not ok:
                raise InputError(f"{name} must be {rule}; got {getattr(self, name)!r}")


@dataclass(frozen=True, eq=False)
class SimulatedRun:
    """One simulated run.

    Parameters
    ----------
    participant_id, session_id, condition : str
        Labels of the run.
    data : numpy.ndarray
        Volumes x regions, in BOLD-like units (mean 100).
    population_dmn_within_fc : float
        The model's population value of the within-DMN measure for this run.
    """

    participant_id: str
    session_id: str
    condition: str
    data: npt.NDArray[np.float64] = field(repr=False)
    population_dmn_within_fc: float


@dataclass(frozen=True, eq=False)
class SimulatedStudy:
    """A simulated study held in memory.

    Parameters
    ----------
    spec : CrossoverSpec
        What was simulated.
    atlas : Atlas
        Regions and networks of the columns.
    runs : tuple of SimulatedRun
        Every run, subject by subject, in session order.
    ground_truth : dict
        JSON-ready record of the spec and the planted effects.
    """

    spec: CrossoverSpec
    atlas: Atlas
    runs: tuple[SimulatedRun, ...]
    ground_truth: dict[str, Any]


def _source_correlation(
    networks: list[str], coupling: tuple[tuple[str, str, float], ...]
) -> npt.NDArray[np.float64]:
    index = {n: i for i, n in enumerate(networks)}
    corr = np.eye(len(networks))
    for a, b, value in coupling:
        if a in index and b in index:
            corr[index[a], index[b]] = corr[index[b], index[a]] = value
    return corr


def _mean_within_z(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> float:
    rho = np.outer(a, a) + np.outer(b, b)
    return float(np.arctanh(rho[np.triu_indices(a.size, k=1)]).mean())


def _solve_scale(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64], target: float) -> float:
    """Find k with mean_pairs atanh(k^2 a_i a_j + b_i b_j) == target."""
    k_max = float(np.sqrt(np.min((1 - _NOISE_FLOOR - b**2) / a**2)))
    low, high = _mean_within_z(1e-6 * a, b), _mean_within_z(k_max * a, b)
    if not low < target < high:
        raise InputError(
            f"dmn_fc_decrease leads to a within-DMN Fisher z of {target:.3f}, outside what the "
            f"model can reach ({low:.3f} to {high:.3f}); choose a smaller effect"
        )
    return float(brentq(lambda k: _mean_within_z(k * a, b) - target, 1e-6, k_max, xtol=1e-14))


def _draw_loadings(
    rng: np.random.Generator, mean: npt.NDArray[np.float64], sd: float, low: float, high: float
) -> npt.NDArray[np.float64]:
    return np.clip(mean + rng.normal(0.0, sd, size=mean.shape), low, high)


def simulate_crossover(spec: CrossoverSpec) -> SimulatedStudy:
    """Simulate a placebo/drug crossover study with a planted within-DMN effect.

    Parameters
    ----------
    spec : CrossoverSpec
        The study to simulate.

    Returns
    -------
    SimulatedStudy
        Runs in memory and the ground truth; write them with
        :func:`dmnpharm.simulate.write_simulated_study`.
    """
    atlas = load_atlas(spec.atlas)
    nets = np.asarray(atlas.networks)
    latent = sorted(set(atlas.networks) - {"NONE"})
    if "DMN" not in latent:
        raise InputError(f"atlas {spec.atlas!r} has no DMN region to simulate an effect in")
    column = np.array([latent.index(n) if n != "NONE" else -1 for n in nets])
    base_corr = _source_correlation(latent, spec.network_coupling)
    dmn = np.flatnonzero(nets == "DMN")
    dmn_src = latent.index("DMN")
    rng = np.random.default_rng(spec.seed)
    n_reg = atlas.n_regions
    width = max(2, len(str(spec.n_subjects)))
    placebo, drug = spec.conditions
    first_drug = rng.permutation(np.arange(spec.n_subjects) % 2 == 1)
    runs: list[SimulatedRun] = []
    subjects: list[dict[str, Any]] = []
    for s in range(spec.n_subjects):
        pid = f"sub-{s + 1:0{width}d}"
        net_scale = np.clip(rng.normal(1.0, 0.1, size=len(latent)), 0.5, 1.5)
        mean_a = np.where(column >= 0, spec.network_loading * net_scale[column], 0.0)
        a_subj = _draw_loadings(rng, mean_a, spec.subject_loading_sd, 0.05, 0.85)
        a_subj[column < 0] = 0.0
        b_subj = _draw_loadings(rng, np.full(n_reg, spec.global_loading), 0.05, 0.0, 0.6)
        order = (drug, placebo) if first_drug[s] else (placebo, drug)
        record: dict[str, Any] = {"participant_id": pid, "sequence": "-".join(order)}
        for ses_index, condition in enumerate(order, start=1):
            a = _draw_loadings(rng, a_subj, spec.session_loading_sd, 0.05, 0.85)
            a[column < 0] = 0.0
            b = b_subj
            corr = base_corr.copy()
            baseline = _mean_within_z(a[dmn], b[dmn])
            scale = 1.0
            if condition == drug and spec.dmn_fc_decrease != 0:
                scale = _solve_scale(a[dmn], b[dmn], baseline - spec.dmn_fc_decrease)
                a[dmn] *= scale
                corr[dmn_src, :] /= scale
                corr[:, dmn_src] /= scale
                corr[dmn_src, dmn_src] = 1.0
            noise_var = 1.0 - a**2 - b**2
            if noise_var.min() < _NOISE_FLOOR - 1e-12:
                raise InputError("loadings leave too little region noise; lower the loadings")
            try:
                chol = np.linalg.cholesky(corr)
            except np.linalg.LinAlgError:
                raise InputError(
                    "network_coupling with this drug effect is not a valid correlation "
                    "matrix; use weaker couplings or a smaller effect"
                ) from None
            sources = bold_like_noise(rng, spec.n_volumes, len(latent), spec.repetition_time)
            sources = sources @ chol.T
            glob = bold_like_noise(rng, spec.n_volumes, 1, spec.repetition_time)
            noise = np.sqrt(1 - spec.white_noise_fraction) * bold_like_noise(
                rng, spec.n_volumes, n_reg, spec.repetition_time
            ) + np.sqrt(spec.white_noise_fraction) * rng.standard_normal((spec.n_volumes, n_reg))
            signal = np.where(column >= 0, a, 0.0) * sources[:, np.maximum(column, 0)]
            data = 100.0 + signal + b * glob + np.sqrt(noise_var) * noise
            truth = _mean_within_z(a[dmn], b[dmn])
            runs.append(SimulatedRun(pid, f"ses-{ses_index}", condition, data, truth))
            record[f"population_dmn_within_fc_{condition}"] = truth
            if condition == drug:
                record["dmn_loading_scale_drug"] = scale
        subjects.append(record)
    truth_value = {"dmn_within_fc": -spec.dmn_fc_decrease, "dmn_salience_fc": 0.0}
    ground_truth: dict[str, Any] = {
        "generator": "dmnpharm.simulate.simulate_crossover",
        "dmnpharm_version": __version__,
        "spec": asdict(spec),
        "planted_effects": [
            {
                "measure": m.name,
                "contrast": f"{drug}-{placebo}",
                "value": truth_value[m.name],
                "scale": "population mean Fisher z, the same in every subject",
                "description": m.description,
            }
            for m in MEASURES
        ],
        "subjects": subjects,
    }
    return SimulatedStudy(spec=spec, atlas=atlas, runs=tuple(runs), ground_truth=ground_truth)
