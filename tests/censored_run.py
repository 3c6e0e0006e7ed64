"""One simulated run with a few high-motion volumes, for the cleaning tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from dmnpharm.simulate import SignalSpec, load_preset, simulate_study

#: Repetition time of the simulated run, seconds.
RUN_TR = 2.0
#: Its volumes: odd, and unlike the 300 regions, so axis mix-ups fail.
RUN_VOLUMES = 97


def censored_run(seed: int, high: Sequence[int]) -> tuple[np.ndarray, pd.DataFrame]:
    """Return one simulated run's signals and confounds, with FD 2 mm at the volumes ``high``.

    Every other volume has FD 0.1 mm and the first n/a, as fMRIPrep writes it.
    """
    preset = load_preset("demo-crossover", seed=seed)
    spec = replace(
        preset,
        design=replace(preset.design, n_subjects=2),
        signal=SignalSpec(n_volumes=RUN_VOLUMES, repetition_time=RUN_TR, mean_fd=0.3),
    )
    signals = simulate_study(spec).runs[0].signals
    confounds = signals.confounds.copy()
    fd = np.full(RUN_VOLUMES, 0.1)
    fd[0] = np.nan
    fd[list(high)] = 2.0
    confounds["framewise_displacement"] = fd
    return signals.data, confounds
