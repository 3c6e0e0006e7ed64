"""A two-condition placebo/drug crossover study at the level of region signals.

Generative model, per subject, session and region ``i`` of network ``k(i)``::

    x_i(t) = a_i s_k(i)(t) + b_i g(t) + sqrt(1 - a_i^2 - b_i^2) e_i(t)

``s_k`` are unit-variance network sources with a fixed between-network
correlation matrix, ``g`` a global signal and ``e_i`` region noise (part BOLD-like,
part white). Every term has unit variance, so the population correlation of two
DMN regions is ``a_i a_j + b_i b_j`` and that of a DMN and a salience region is
``a_i a_j C[DMN, SN] + b_i b_j``.

The drug acts on the DMN source. Split it into the part predicted by the other
network sources and an independent residual, ``s_DMN = S_o beta + r``; under drug
the residual is scaled, ``s'_DMN = S_o beta + k r``. The covariance of the DMN
source with every other source is then unchanged (so is DMN-salience
connectivity), while its variance becomes ``v = R^2 + k^2 (1 - R^2)`` and the
population correlation of two DMN regions ``a_i a_j v + b_i b_j``. ``v`` is solved
per session so that the population mean Fisher z over DMN pairs moves by exactly
the planted amount; region noise takes up the variance the DMN source gives up.
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
    ("DMN", "DAN", -0.25),
    ("DMN", "SN", -0.15),
    ("DMN", "CON", -0.15),
    ("DMN", "FPN", 0.05),
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
        Negative values plant an increase. The model's reach depends on each
        subject's loadings: with the defaults, a decrease or increase of 0.10
        fits every one of 300 simulated subjects, larger effects may not; a
        session that cannot reach the planted value is an error, never
        silently clipped.
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
    global_loading: float = 0.25
    subject_loading_sd: float = 0.06
    session_loading_sd: float = 0.04
    white_noise_fraction: float = 0.3
    network_coupling: tuple[tuple[str, str, float], ...] = field(default=_DEFAULT_COUPLING)

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


def _mean_within_z(
    a: npt.NDArray[np.float64], b: npt.NDArray[np.float64], v: float = 1.0
) -> float:
    rho = v * np.outer(a, a) + np.outer(b, b)
    return float(np.arctanh(rho[np.triu_indices(a.size, k=1)]).mean())


def _solve_variance(
    a: npt.NDArray[np.float64], b: npt.NDArray[np.float64], r2: float, target: float
) -> float:
    """Find the DMN source variance v with mean_pairs atanh(v a_i a_j + b_i b_j) == target."""
    v_max = float(np.min((1 - _NOISE_FLOOR - b**2) / a**2))
    low, high = _mean_within_z(a, b, r2), _mean_within_z(a, b, v_max)
    if not low < target < high:
        raise InputError(
            f"dmn_fc_decrease leads to a within-DMN Fisher z of {target:.3f} in a session whose "
            f"model can reach only {low:.3f} to {high:.3f}; choose a smaller effect"
        )
    return float(brentq(lambda v: _mean_within_z(a, b, v) - target, r2, v_max, xtol=1e-14))


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
    try:
        chol = np.linalg.cholesky(base_corr)
    except np.linalg.LinAlgError:
        raise InputError(
            "network_coupling does not form a valid correlation matrix; use weaker couplings"
        ) from None
    others = [i for i in range(len(latent)) if i != dmn_src]
    beta = np.linalg.solve(base_corr[np.ix_(others, others)], base_corr[others, dmn_src])
    r2 = float(base_corr[others, dmn_src] @ beta)
    rng = np.random.default_rng(spec.seed)
    n_reg = atlas.n_regions
    width = max(2, len(str(spec.n_subjects)))
    placebo, drug = spec.conditions
    first_drug = rng.permutation(np.arange(spec.n_subjects) % 2 == 1)
    runs: list[SimulatedRun] = []
    subjects: list[dict[str, Any]] = []
    for s in range(spec.n_subjects):
        pid = f"sub-{s + 1:0{width}d}"
        net_scale = np.clip(rng.normal(1.0, 0.08, size=len(latent)), 0.6, 1.4)
        mean_a = np.where(column >= 0, spec.network_loading * net_scale[column], 0.0)
        a_subj = _draw_loadings(rng, mean_a, spec.subject_loading_sd, 0.05, 0.75)
        a_subj[column < 0] = 0.0
        b_subj = _draw_loadings(rng, np.full(n_reg, spec.global_loading), 0.05, 0.0, 0.6)
        order = (drug, placebo) if first_drug[s] else (placebo, drug)
        record: dict[str, Any] = {"participant_id": pid, "sequence": "-".join(order)}
        for ses_index, condition in enumerate(order, start=1):
            a = _draw_loadings(rng, a_subj, spec.session_loading_sd, 0.05, 0.75)
            a[column < 0] = 0.0
            b = b_subj
            baseline = _mean_within_z(a[dmn], b[dmn])
            variance = 1.0
            if condition == drug and spec.dmn_fc_decrease != 0:
                variance = _solve_variance(a[dmn], b[dmn], r2, baseline - spec.dmn_fc_decrease)
            noise_var = 1.0 - a**2 - b**2
            noise_var[dmn] -= a[dmn] ** 2 * (variance - 1.0)
            if noise_var.min() < _NOISE_FLOOR - 1e-9:
                raise InputError("loadings leave too little region noise; lower the loadings")
            sources = bold_like_noise(rng, spec.n_volumes, len(latent), spec.repetition_time)
            sources = sources @ chol.T
            if variance != 1.0:
                k = np.sqrt((variance - r2) / (1.0 - r2))
                predicted = sources[:, others] @ beta
                sources[:, dmn_src] = predicted + k * (sources[:, dmn_src] - predicted)
            glob = bold_like_noise(rng, spec.n_volumes, 1, spec.repetition_time)
            noise = np.sqrt(1 - spec.white_noise_fraction) * bold_like_noise(
                rng, spec.n_volumes, n_reg, spec.repetition_time
            ) + np.sqrt(spec.white_noise_fraction) * rng.standard_normal((spec.n_volumes, n_reg))
            signal = np.where(column >= 0, a, 0.0) * sources[:, np.maximum(column, 0)]
            data = 100.0 + signal + b * glob + np.sqrt(noise_var) * noise
            truth = _mean_within_z(a[dmn], b[dmn], variance)
            runs.append(SimulatedRun(pid, f"ses-{ses_index}", condition, data, truth))
            record[f"population_dmn_within_fc_{condition}"] = truth
            if condition == drug:
                record["dmn_source_variance_drug"] = variance
                record["population_dmn_within_fc_drug_session_without_drug"] = baseline
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
