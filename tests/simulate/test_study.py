"""The study simulator: replayable, validated, and every planted property recoverable.

Planted properties are checked from the written files alone (time series,
confounds, participants and sessions tables), with the tolerance stated in each test.
"""

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dmnpharm.atlases import load_atlas
from dmnpharm.exceptions import InputError
from dmnpharm.io import load_roi_study
from dmnpharm.metrics import fisher_z_connectivity, network_mean_fc, run_fc_metrics
from dmnpharm.simulate import (
    Condition,
    DesignSpec,
    Effect,
    ResponseSpec,
    SignalSpec,
    StudySpec,
    load_preset,
    preset_names,
    simulate_study,
    spec_from_dict,
    spec_to_dict,
    williams_sequences,
    write_simulated_study,
)
from dmnpharm.stats import paired_test

ATLAS = load_atlas("seitzman300")
DMN, SN = ATLAS.network_indices("DMN"), ATLAS.network_indices("SN")


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _small(**design: object) -> StudySpec:
    base = load_preset("demo-crossover")
    return replace(
        base,
        design=replace(base.design, **design),  # type: ignore[arg-type]
        signal=SignalSpec(n_volumes=29),
    )


def test_same_seed_same_bytes_other_seed_other_numbers(tmp_path: Path) -> None:
    """Same spec and seed give byte-identical folders; another seed changes the data."""
    spec = replace(_small(n_subjects=4), seed=5)
    first = _files(write_simulated_study(simulate_study(spec), tmp_path / "a"))
    second = _files(write_simulated_study(simulate_study(spec), tmp_path / "b"))
    assert first == second
    other = _files(write_simulated_study(simulate_study(replace(spec, seed=6)), tmp_path / "c"))
    assert set(other) == set(first)
    run = "sub-01/ses-1/func/sub-01_ses-1_task-rest_atlas-seitzman300_timeseries.tsv"
    assert other[run] != first[run]


def _fail_writing(monkeypatch: pytest.MonkeyPatch, run: str) -> None:
    """Make writing the region signals of the run named ``run`` fail (a full disk)."""
    import dmnpharm.simulate._write as writing

    original = writing.write_roi_run

    def fail_on_one(path: Path, *args: object, **kwargs: object) -> object:
        if run in path.name:
            raise OSError(f"{path}: disk full")
        return original(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(writing, "write_roi_run", fail_on_one)


def test_runs_written_on_threads_are_those_written_one_after_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The runs' files are written on two threads: the same bytes, and a failure stops all.

    A run whose writing fails raises, and the destination is not created (the
    study is staged and moved into place only when complete).
    """
    import dmnpharm.simulate._write as writing

    study = simulate_study(_small(n_subjects=6))
    threaded = _files(write_simulated_study(study, tmp_path / "threads"))
    serial_root = tmp_path / "serial"
    for run in study.runs:
        writing._write_run(study.spec, study.atlas, run, serial_root)
    serial = _files(serial_root)
    assert len(serial) == 4 * len(study.runs)
    assert {name: threaded[name] for name in serial} == serial

    _fail_writing(monkeypatch, "sub-03_ses-2")
    with pytest.raises(OSError, match="disk full"):
        write_simulated_study(study, tmp_path / "broken")
    assert not (tmp_path / "broken").exists()


def test_runs_written_while_drawn_are_the_same_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """simulate_and_write_study: the same study and bytes as simulating, then writing.

    Each run is handed to the writer as soon as it is drawn (in order), and a
    failed write leaves no destination behind.
    """
    from dmnpharm.simulate import simulate_and_write_study

    spec = _small(n_subjects=6)
    reference = _files(write_simulated_study(simulate_study(spec), tmp_path / "after"))
    seen: list[str] = []
    drawn = simulate_study(spec, on_run=lambda run: seen.append(run.participant_id))
    assert seen == [run.participant_id for run in drawn.runs]
    study = simulate_and_write_study(spec, tmp_path / "while")
    assert _files(tmp_path / "while") == reference
    assert [r.data.tobytes() for r in study.runs] == [r.data.tobytes() for r in drawn.runs]

    _fail_writing(monkeypatch, "sub-02_ses-1")
    with pytest.raises(OSError, match="disk full"):
        simulate_and_write_study(spec, tmp_path / "broken")
    assert not (tmp_path / "broken").exists()


def test_layout_confounds_and_ground_truth(tmp_path: Path) -> None:
    """Tables, fMRIPrep-style confounds with sidecars, and the ground truth are written."""
    spec = replace(_small(n_subjects=4), signal=SignalSpec(n_volumes=80))
    root = write_simulated_study(simulate_study(spec), tmp_path / "s")
    participants = pd.read_csv(root / "participants.tsv", sep="\t")
    assert sorted(participants["sequence"]) == ["drug-placebo"] * 2 + ["placebo-drug"] * 2
    assert "response" not in participants  # ground truth stays out of the data
    sessions = pd.read_csv(root / "sub-01" / "sub-01_sessions.tsv", sep="\t")
    assert list(sessions.columns) == ["session_id", "condition", "dose_mg", "hours_since_dose"]
    func = root / "sub-01" / "ses-1" / "func"
    confounds = pd.read_csv(
        func / "sub-01_ses-1_task-rest_desc-confounds_timeseries.tsv", sep="\t"
    )
    for column in (
        "trans_x",
        "rot_z_derivative1_power2",
        "framewise_displacement",
        "dvars",
        "std_dvars",
        "global_signal",
        "csf",
        "white_matter",
        "a_comp_cor_00",
        "cosine00",  # fMRIPrep spelling
    ):
        assert column in confounds.columns, column
    assert len(confounds) == 80
    assert np.isnan(confounds["framewise_displacement"].iloc[0])
    side = json.loads((func / "sub-01_ses-1_task-rest_desc-confounds_timeseries.json").read_text())
    assert side["RepetitionTime"] == 2.0
    truth = json.loads((root / "ground_truth.json").read_text())
    assert truth["planted_effects"][0]["measure"] == "within_fc"
    assert truth["planted_effects"][0]["size"] == -0.10
    assert spec_from_dict(truth["spec"]) == spec
    assert len(truth["runs"]) == 8
    for run in truth["runs"]:
        change = run["within_fc_DMN"] - run["within_fc_DMN_without_effects"]
        assert change == pytest.approx(-0.10 * run["exposure"], abs=1e-9)


def test_spec_round_trip_and_strict_reading() -> None:
    """Specs round-trip through JSON; unknown fields and bad values are named."""
    for name in preset_names():
        spec = load_preset(name)
        assert spec_from_dict(json.loads(json.dumps(spec_to_dict(spec)))) == spec
    with pytest.raises(InputError, match=r"unknown field 'spec.design.n_subject'.*'n_subjects'"):
        spec_from_dict({"design": {"n_subject": 10}})
    with pytest.raises(InputError, match="size of the within_fc effect must be a finite number"):
        spec_from_dict({"effects": [{"measure": "within_fc", "size": float("nan")}]})
    with pytest.raises(InputError, match="hours_since_dose must be at least 0"):
        DesignSpec(hours_since_dose=-1.0)
    with pytest.raises(InputError, match="did you mean 'within_fc'"):
        Effect("within-fc", 0.1)
    with pytest.raises(InputError, match="cannot be counterbalanced over the 6 condition orders"):
        simulate_study(
            replace(
                _small(),
                design=DesignSpec(
                    n_subjects=8, conditions=(Condition("a"), Condition("b", 1), Condition("c", 2))
                ),
            )
        )
    with pytest.raises(InputError, match="names network 'SN', which atlas 'dosenbach160'"):
        simulate_study(
            StudySpec(
                signal=SignalSpec(atlas="dosenbach160", n_volumes=20),
                effects=(Effect("between_fc", 0.1, "DMN", "SN"),),
            )
        )


def test_williams_design_is_balanced() -> None:
    """Each condition appears equally often per period and follows every other equally often."""
    for k in (3, 4):
        rows = williams_sequences(k)
        for period in zip(*rows, strict=True):
            assert len(set(pd.Series(period).value_counts())) == 1
        pairs = [(r[i], r[i + 1]) for r in rows for i in range(k - 1)]
        counts = pd.Series(pairs).value_counts()
        assert counts.min() == counts.max()
        assert len(counts) == k * (k - 1)


def _denoised_runs(root: Path) -> tuple[pd.DataFrame, list[np.ndarray], list[pd.DataFrame]]:
    study = load_roi_study(root, "seitzman300", ATLAS.labels)
    cleaned, confounds = [], []
    for run in study.runs:
        stem = run.path.name.replace("_atlas-seitzman300_timeseries.tsv", "")
        table = pd.read_csv(run.path.parent / f"{stem}_desc-confounds_timeseries.tsv", sep="\t")
        names = [c for c in table.columns if c.startswith(("trans_", "rot_", "cosine", "a_comp"))]
        names = [c for c in names if "power2" not in c]
        x = np.column_stack([np.ones(len(table)), table[names].fillna(0.0).to_numpy()])
        beta, *_ = np.linalg.lstsq(x, run.data, rcond=None)
        cleaned.append(run.data - x @ beta)
        confounds.append(table)
    return study.design, cleaned, confounds


def test_planted_fc_amplitude_and_motion_recovered(tmp_path: Path) -> None:
    """Within-DMN, DMN-salience, DMN amplitude and motion differences come back.

    30 subjects, 150 volumes. Tolerances: FC differences within 0.03 Fisher z of
    the planted value (their standard errors are about 0.01); the DMN amplitude
    ratio within 0.05 of 0.8 (thermal noise, which the drug does not scale, pulls it
    toward 1 by about 0.02); mean FD difference within 0.03 mm of 0.10.
    """
    spec = StudySpec(
        design=DesignSpec(n_subjects=30),
        # no session-to-session states: the sample's change is then the planted one
        signal=SignalSpec(n_volumes=150, session_network_sd=0.0),
        effects=(
            Effect("within_fc", -0.10, "DMN"),
            Effect("between_fc", 0.05, "DMN", "SN"),
            Effect("amplitude", -0.20, "DMN"),
            Effect("motion", 0.10),
        ),
        seed=3,
    )
    root = write_simulated_study(simulate_study(spec), tmp_path / "s")
    design, cleaned, confounds = _denoised_runs(root)
    rows = []
    for (_, row), data, table in zip(design.iterrows(), cleaned, confounds, strict=True):
        z = fisher_z_connectivity(data)
        freqs = np.fft.rfftfreq(data.shape[0], 2.0)
        power = np.abs(np.fft.rfft(data[:, DMN], axis=0)) ** 2
        band = (freqs > 0.01) & (freqs < 0.08)
        rows.append(
            {
                "participant_id": row["participant_id"],
                "condition": row["condition"],
                "within": network_mean_fc(z, DMN, DMN),
                "between": network_mean_fc(z, DMN, SN),
                "alff": float(np.sqrt(power[band].sum(axis=0)).mean()),
                "fd": float(table["framewise_displacement"].mean()),
            }
        )
    by = pd.DataFrame(rows).pivot_table(index="participant_id", columns="condition")

    def diff(measure: str) -> float:
        return float((by[measure]["drug"] - by[measure]["placebo"]).mean())

    assert diff("within") == pytest.approx(-0.10, abs=0.03)
    assert diff("between") == pytest.approx(0.05, abs=0.03)
    assert float((by["alff"]["drug"] / by["alff"]["placebo"]).mean()) == pytest.approx(
        0.8, abs=0.05
    )
    assert diff("fd") == pytest.approx(0.10, abs=0.03)


def test_dose_response_shape(tmp_path: Path) -> None:
    """Four doses on an Emax curve (ED50 8 mg, 1 at 20 mg) give that shape.

    40 subjects x 4 doses. Planted change -0.15 x (0, 0.54, 0.78, 1) exactly in the
    ground truth; each measured mean change within 0.04 Fisher z of it (standard
    errors about 0.012).
    """
    spec = StudySpec(
        design=DesignSpec(
            n_subjects=40,
            conditions=(
                Condition("d0"),
                Condition("d5", 5),
                Condition("d10", 10),
                Condition("d20", 20),
            ),
        ),
        signal=SignalSpec(
            n_volumes=120, drift_sd=0.0, motion_artifact=0.0, session_network_sd=0.0
        ),
        effects=(Effect("within_fc", -0.15, "DMN"),),
        response=ResponseSpec(dose_response="emax", reference_dose_mg=20, ed50_mg=8),
        seed=4,
    )
    root = write_simulated_study(simulate_study(spec), tmp_path / "s")
    study = load_roi_study(root, "seitzman300", ATLAS.labels)
    values = pd.DataFrame(
        {
            "participant_id": study.design["participant_id"],
            "condition": study.design["condition"],
            "value": [run_fc_metrics(r.data, ATLAS)["dmn_within_fc"] for r in study.runs],
        }
    ).pivot_table(index="participant_id", columns="condition", values="value")
    shape = [(d / (d + 8)) / (20 / 28) for d in (5, 10, 20)]
    truth = pd.DataFrame(json.loads((root / "ground_truth.json").read_text())["runs"])
    truth["planted"] = truth["within_fc_DMN"] - truth["within_fc_DMN_without_effects"]
    planted = truth.groupby("condition")["planted"].mean()
    for label, relative in zip(("d5", "d10", "d20"), shape, strict=True):
        assert planted[label] == pytest.approx(-0.15 * relative, abs=1e-9), label
        change = float((values[label] - values["d0"]).mean())
        # SE of each change about 0.012 (raw 120-volume runs); 0.04 is 3.3 SE
        assert change == pytest.approx(-0.15 * relative, abs=0.04), label


def test_rating_correlates_with_brain_change(tmp_path: Path) -> None:
    """The rating's correlation with each subject's planted change is the set -0.6.

    120 subjects: the sampling SD of a correlation of -0.6 is about 0.06, so the
    tolerance is 0.2. The measured brain change (200 volumes, with sampling noise and
    motion) correlates in the same direction: -0.15 to -0.34 over seeds 1-5, and
    the test asks for below -0.1.
    """
    spec = StudySpec(
        design=DesignSpec(n_subjects=120),
        signal=SignalSpec(n_volumes=200),
        effects=(Effect("within_fc", -0.08, "DMN"),),
        response=ResponseSpec(
            heterogeneity_sd=0.3, rating="ego_dissolution", rating_correlation=-0.6
        ),
        seed=1,
    )
    root = write_simulated_study(simulate_study(spec), tmp_path / "s")
    participants = pd.read_csv(root / "participants.tsv", sep="\t").set_index("participant_id")
    truth = json.loads((root / "ground_truth.json").read_text())
    planted = pd.DataFrame(truth["subjects"]).set_index("participant_id")["planted_brain_change"]
    rating = participants["ego_dissolution"]
    assert np.corrcoef(rating, planted.loc[rating.index])[0, 1] == pytest.approx(-0.6, abs=0.2)
    study = load_roi_study(root, "seitzman300", ATLAS.labels)
    measured = pd.DataFrame(
        {
            "participant_id": study.design["participant_id"],
            "condition": study.design["condition"],
            "value": [run_fc_metrics(r.data, ATLAS)["dmn_within_fc"] for r in study.runs],
        }
    ).pivot_table(index="participant_id", columns="condition", values="value")
    change = measured["drug"] - measured["placebo"]
    assert np.corrcoef(rating, change.loc[rating.index])[0, 1] < -0.1


def test_trial_patient_shift_and_normalization() -> None:
    """Patients differ from controls at baseline; the drug arm normalizes more than placebo."""
    study = simulate_study(
        replace(load_preset("antipsychotic-trial"), signal=SignalSpec(n_volumes=20))
    )
    runs = pd.DataFrame(study.ground_truth["runs"])
    groups = study.participants.set_index("participant_id")
    runs["group"] = runs["participant_id"].map(groups["group"])
    runs["arm"] = runs["participant_id"].map(groups["arm"])
    base = runs[runs["session_id"] == "ses-1"]
    shift = base.groupby("group")["within_fc_DMN"].mean()
    assert shift["patient"] - shift["control"] == pytest.approx(0.06, abs=0.03)
    follow = runs[(runs["session_id"] == "ses-2") & (runs["group"] == "patient")]
    remaining = follow.groupby("arm")["patient_shift"].mean()
    assert remaining["risperidone"] < remaining["placebo"] < 1.0
    assert (base.loc[base["group"] == "patient", "patient_shift"] == 1.0).all()


def test_cohort_has_sites_and_medication() -> None:
    """The cohort preset spreads subjects over sites, with a medication column."""
    spec = load_preset("cohort-observational")
    small = replace(
        spec,
        design=replace(spec.design, n_subjects=20, n_controls=8),
        signal=SignalSpec(n_volumes=20),
    )
    study = simulate_study(small)
    table = study.participants
    assert set(table["site"]) == {"site1", "site2", "site3", "site4"}
    assert (table.loc[table["group"] == "control", "medication"] == "none").all()
    assert (table["medication"] == "ssri").sum() == 8


def _study_result(spec: StudySpec) -> pd.DataFrame:
    sim = simulate_study(spec)
    rows = [
        {"participant_id": r.participant_id, "condition": r.condition, "measure": k, "value": v}
        for r in sim.runs
        for k, v in run_fc_metrics(r.data, sim.atlas).items()
    ]
    return paired_test(pd.DataFrame(rows), ("drug", "placebo"), n_permutations=400, seed=1)


def test_end_to_end_null_is_calibrated_and_effect_is_found() -> None:
    """Simulate, measure and test 120 null and 20 planted-effect studies.

    Null: the rejection rate of each measure is near 5% (binomial 99.9% band for
    120 studies: about 0.008 to 0.12). Effect (-0.2 Fisher z, d_z about 1.5 with 10
    subjects and the default session-to-session noise): within-DMN is detected in
    most studies, while DMN-salience, which the drug leaves unchanged, stays near 5%.
    """
    signal = SignalSpec(n_volumes=60)
    null_hits, effect_hits, salience_hits, estimates = [], [], [], []
    for seed in range(120):
        spec = StudySpec(design=DesignSpec(n_subjects=10), signal=signal, effects=(), seed=seed)
        null_hits.append(_study_result(spec).set_index("measure")["p_uncorrected"] < 0.05)
    for seed in range(20):
        spec = StudySpec(
            design=DesignSpec(n_subjects=10),
            signal=signal,
            effects=(Effect("within_fc", -0.2, "DMN"),),
            seed=1000 + seed,
        )
        res = _study_result(spec).set_index("measure")
        effect_hits.append(res.loc["dmn_within_fc", "p_uncorrected"] < 0.05)
        salience_hits.append(res.loc["dmn_salience_fc", "p_uncorrected"] < 0.05)
        estimates.append(res.loc["dmn_within_fc", "estimate"])
    null_rate = pd.DataFrame(null_hits).mean()
    assert null_rate.max() < 0.12
    assert null_rate.min() > 0.008
    assert np.mean(effect_hits) > 0.7
    assert np.mean(salience_hits) < 0.2
    # raw signals keep drift and motion, which dilute correlations: attenuated, not inflated
    assert -0.21 < np.mean(estimates) < -0.12
