"""Synthetic studies with known (planted) drug effects.

The generator that tests, the demo and users share: a frozen :class:`StudySpec`
(design, signal, effects, response) and a seed give byte-identical files.
"""

from typing import TYPE_CHECKING

from dmnpharm._utils._lazy import lazy_exports

if TYPE_CHECKING:
    from dmnpharm.simulate._batch import MeasureTarget, simulate_measure_runs
    from dmnpharm.simulate._confounds import cosine_basis, dvars, fmriprep_confounds
    from dmnpharm.simulate._design import (
        build_design,
        dose_response,
        time_course,
        williams_sequences,
    )
    from dmnpharm.simulate._model import RunModel, mean_fisher_z
    from dmnpharm.simulate._motion import (
        framewise_displacement,
        motion_artifact,
        simulate_motion,
        simulate_motion_batch,
    )
    from dmnpharm.simulate._power import (
        POWER_COLUMNS,
        PowerContrast,
        PowerResult,
        main_contrast,
        power_analysis,
    )
    from dmnpharm.simulate._presets import PRESETS, load_preset, preset_names
    from dmnpharm.simulate._regional import regional_effect
    from dmnpharm.simulate._run_signals import RunSignals, generate_run
    from dmnpharm.simulate._signals import bold_like_noise
    from dmnpharm.simulate._spec import (
        DESIGN_KINDS,
        EFFECT_MEASURES,
        Condition,
        DesignSpec,
        Effect,
        ResponseSpec,
        SignalSpec,
        StudySpec,
        spec_from_dict,
        spec_to_dict,
    )
    from dmnpharm.simulate._study import SimulatedRun, SimulatedStudy, simulate_study
    from dmnpharm.simulate._voxel import (
        MNI_RES2_AFFINE,
        MNI_RES2_SHAPE,
        brain_mask,
        region_label_volume,
        write_bold_run,
        write_mask,
    )
    from dmnpharm.simulate._write import (
        json_file,
        simulate_and_write_study,
        write_simulated_study,
    )
    from dmnpharm.simulate._write_cifti import (
        CIFTI_SPACE,
        fslr_brain_models,
        synthetic_parcellation,
        write_cifti_study,
        write_dtseries,
    )
    from dmnpharm.simulate._write_voxel import VOXEL_SPACE, write_voxel_study
    from dmnpharm.simulate._write_xcpd import XCPD_OUTPUT_TYPES, XCPD_SPACE, write_xcpd_study

__all__ = [
    "CIFTI_SPACE",
    "DESIGN_KINDS",
    "EFFECT_MEASURES",
    "MNI_RES2_AFFINE",
    "MNI_RES2_SHAPE",
    "POWER_COLUMNS",
    "PRESETS",
    "VOXEL_SPACE",
    "XCPD_OUTPUT_TYPES",
    "XCPD_SPACE",
    "Condition",
    "DesignSpec",
    "Effect",
    "MeasureTarget",
    "PowerContrast",
    "PowerResult",
    "ResponseSpec",
    "RunModel",
    "RunSignals",
    "SignalSpec",
    "SimulatedRun",
    "SimulatedStudy",
    "StudySpec",
    "bold_like_noise",
    "brain_mask",
    "build_design",
    "cosine_basis",
    "dose_response",
    "dvars",
    "fmriprep_confounds",
    "framewise_displacement",
    "fslr_brain_models",
    "generate_run",
    "json_file",
    "load_preset",
    "main_contrast",
    "mean_fisher_z",
    "motion_artifact",
    "power_analysis",
    "preset_names",
    "region_label_volume",
    "regional_effect",
    "simulate_and_write_study",
    "simulate_measure_runs",
    "simulate_motion",
    "simulate_motion_batch",
    "simulate_study",
    "spec_from_dict",
    "spec_to_dict",
    "synthetic_parcellation",
    "time_course",
    "williams_sequences",
    "write_bold_run",
    "write_cifti_study",
    "write_dtseries",
    "write_mask",
    "write_simulated_study",
    "write_voxel_study",
    "write_xcpd_study",
]

__getattr__, __dir__ = lazy_exports(__name__, __file__)
