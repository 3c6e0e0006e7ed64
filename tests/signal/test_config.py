"""DenoiseConfig: named strategies, validation and the methods text."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from dmnpharm.exceptions import InputError
from dmnpharm.signal import STRATEGIES, DenoiseConfig


def test_gsr_suffix_is_folded_into_the_flag() -> None:
    """'acompcor+gsr' and ('acompcor', gsr=True) are one configuration."""
    spelled = DenoiseConfig("acompcor+gsr")
    flagged = DenoiseConfig("acompcor", gsr=True)
    assert spelled == flagged
    assert hash(spelled) == hash(flagged)
    assert spelled.strategy == "acompcor"
    assert spelled.name == "acompcor+gsr"
    assert replace(spelled, gsr=False).name == "acompcor"


def test_36p_always_includes_the_global_signal() -> None:
    """36p is defined with the global signal; its name carries no suffix."""
    config = DenoiseConfig("36p")
    assert config.gsr is True
    assert config.name == "36p"


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_strategy_builds_and_describes_itself(strategy: str) -> None:
    """All accepted spellings build, and the name round-trips."""
    config = DenoiseConfig(strategy)
    assert DenoiseConfig(config.name) == config
    assert config.describe().startswith(f"Denoising strategy '{config.name}'.")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"strategy": "36P"}, "did you mean '36p'"),
        ({"strategy": "compcor"}, "did you mean 'acompcor'"),
        ({"strategy": "24p", "n_compcor": 5}, "acompcor strategy only"),
        ({"strategy": "acompcor", "n_compcor": 0}, "positive integer"),
        ({"strategy": "6p", "fd_threshold": -0.2}, "fd_threshold"),
        ({"strategy": "6p", "high_pass": 0.1, "low_pass": 0.08}, "must be below low_pass"),
        ({"strategy": "6p", "min_remaining": 1.5}, "fraction must be in (0, 1]"),
        ({"strategy": "6p", "min_remaining": 0}, "must be >= 1"),
        ({"strategy": "6p", "min_remaining": "half"}, "min_remaining must be"),
        ({"strategy": "6p", "min_segment": -1}, "min_segment"),
        ({"strategy": "6p", "gsr": "yes"}, "gsr must be True or False"),
    ],
)
def test_invalid_values_are_refused_with_the_reason(
    kwargs: dict[str, object], message: str
) -> None:
    """Every wrong value names the parameter and what is allowed."""
    with pytest.raises(InputError, match=re.escape(message)):
        DenoiseConfig(**kwargs)


def test_min_volumes_from_fraction_or_count() -> None:
    """A float is a fraction of the run (rounded up), an int a count."""
    assert DenoiseConfig("6p", min_remaining=0.5).min_volumes(157) == 79
    assert DenoiseConfig("6p", min_remaining=1.0).min_volumes(157) == 157
    assert DenoiseConfig("6p", min_remaining=120).min_volumes(157) == 120
    assert DenoiseConfig("6p").min_volumes(157) == 0


def test_describe_renders_every_choice() -> None:
    """The methods text names regressors, censoring, exclusion and filter with sources."""
    config = DenoiseConfig(
        "24p+gsr",
        fd_threshold=0.5,
        std_dvars_threshold=1.5,
        min_segment=5,
        min_remaining=0.5,
        high_pass=0.01,
        low_pass=0.08,
    )
    text = config.describe()
    for phrase in (
        "Denoising strategy '24p+gsr'.",
        "24 head-motion parameters",
        "Satterthwaite et al. 2013",
        "the global signal with its temporal derivative and the squares of both",
        "non-steady-state were dropped",
        "framewise displacement above 0.5 mm or standardised DVARS above 1.5",
        "fewer than 5 consecutive kept volumes (Power et al. 2014)",
        "left out of the nuisance regression and, for the filter only, replaced by a "
        "cubic-spline interpolation",
        "Runs with fewer than 50% of their volumes remaining were excluded.",
        "The signals and the nuisance regressors were linearly detrended and band-pass "
        "filtered (0.01-0.08 Hz",
        "Butterworth of order 5",
        "Lindquist et al. 2019",
    ):
        assert phrase in text, phrase


def test_describe_of_minimal_configurations() -> None:
    """Doing nothing, or only aCompCor, is said plainly."""
    bare = DenoiseConfig("none", detrend=False, drop_nonsteady=False).describe()
    assert "No nuisance regressors were used." in bare
    assert "No volumes were censored for motion." in bare
    assert "neither detrended nor filtered" in bare
    assert "non-steady-state were kept" in bare
    compcor = DenoiseConfig("acompcor", n_compcor=6).describe()
    assert "the first 6 aCompCor components of the combined white-matter and CSF mask" in compcor
    assert "cosine" in compcor
    aroma = DenoiseConfig("aroma+gsr", min_remaining=100).describe()
    assert "ICA-AROMA non-aggressively denoised" in aroma
    assert "and the global signal" in aroma
    assert "fewer than 100 volumes remaining" in aroma


def test_to_dict_is_json_ready() -> None:
    """The provenance dict holds the name and every field."""
    record = DenoiseConfig("aroma+gsr", fd_threshold=0.3).to_dict()
    assert record["name"] == "aroma+gsr"
    assert record["strategy"] == "aroma"
    assert record["gsr"] is True
    assert record["fd_threshold"] == 0.3
