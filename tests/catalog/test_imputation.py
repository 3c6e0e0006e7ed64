"""Effects imputed at a reported significance threshold: values, errors, catalog use."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest
from scipy import stats

from dmnpharm.catalog import load_catalog
from dmnpharm.catalog._imputation import impute_from_significance
from dmnpharm.catalog._schema import validate


@pytest.mark.parametrize("n", [8, 20, 45])
@pytest.mark.parametrize("p", [0.05, 0.01])
def test_an_imputed_dz_is_the_paired_t_test_at_its_threshold(n: int, p: float) -> None:
    """Data with exactly the imputed d_z give scipy's one-sample t-test p = threshold."""
    imputed = impute_from_significance(p, "d_z", "decrease", n=n)
    z = np.random.default_rng(n).standard_normal(n)
    z = (z - z.mean()) / z.std(ddof=1)  # mean 0, SD 1
    test = stats.ttest_1samp(z + imputed.value, 0.0)
    assert test.pvalue == pytest.approx(p, rel=1e-8)
    assert imputed.value < 0
    assert imputed.df == n - 1


def test_an_imputed_g_is_the_two_sample_t_test_at_its_threshold() -> None:
    """Two groups whose d is g / J give scipy's Student t-test p = 0.05."""
    n1, n2 = 17, 14
    imputed = impute_from_significance(0.05, "hedges_g", "increase", group_sizes=(n1, n2))
    j = 1 - 3 / (4 * (n1 + n2 - 2) - 1)
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal(n) for n in (n1, n2))
    a, b = ((x - x.mean()) / x.std(ddof=1) for x in (a, b))  # pooled SD 1
    test = stats.ttest_ind(a + imputed.value / j, b)
    assert test.pvalue == pytest.approx(0.05, rel=1e-8)
    assert imputed.value > 0
    assert "lower bound" in imputed.derivation


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((0.0, "d_z", "decrease"), "significance_p"),
        ((0.05, "d_z", "mixed"), "increase or a decrease"),
        ((0.05, "r", "decrease"), "d_z or hedges_g"),
        ((0.05, "d_z", "decrease"), "effect_n"),
        ((0.05, "hedges_g", "decrease"), "effect_group_sizes"),
    ],
)
def test_what_cannot_be_imputed_is_refused(args: tuple[Any, ...], message: str) -> None:
    """A bad threshold, direction, kind or missing n names the field."""
    with pytest.raises(ValueError, match=message):
        impute_from_significance(*args)


def _raw_with(finding: dict[str, Any]) -> dict[str, Any]:
    """Return the shipped catalog's raw data with one more finding on its first study."""
    import tomllib
    from importlib.resources import files

    raw = tomllib.loads(
        files("dmnpharm.catalog").joinpath("data/evidence.toml").read_text(encoding="utf-8")
    )
    raw = copy.deepcopy(raw)
    raw["studies"][0]["findings"].append(finding)
    return raw


_GOOD = {
    "measure": "dmn_within_fc",
    "direction": "decrease",
    "effect": "",
    "significance_p": 0.05,
    "effect_kind": "d_z",
    "effect_n": 20,
    "effect_source": "Abstract",
}


def test_the_schema_accepts_an_imputation_and_refuses_a_bad_one() -> None:
    """A significance_p needs a kind, n and source, and no number of its own."""
    assert validate(_raw_with(dict(_GOOD))) == []
    problems = validate(_raw_with({**_GOOD, "effect_size": -0.5}))
    assert any("effect_size cannot go with significance_p" in p for p in problems)
    problems = validate(_raw_with({k: v for k, v in _GOOD.items() if k != "effect_source"}))
    assert any("effect_source" in p for p in problems)
    problems = validate(_raw_with({**_GOOD, "effect_kind": "r"}))
    assert any("significance_p needs" in p for p in problems)
    problems = validate(_raw_with({**_GOOD, "effect_confidence": "verified"}))
    assert any('effect_confidence = "imputed"' in p for p in problems)
    problems = validate(_raw_with({k: v for k, v in _GOOD.items() if k != "effect_n"}))
    assert any("effect_n" in p for p in problems)


def test_shipped_imputed_findings_are_marked_and_reproducible() -> None:
    """Each imputed number re-derives from its threshold and n, and says it is a bound."""
    catalog = load_catalog()
    imputed = [
        (s, f) for s in catalog.studies for f in s.findings if f.effect_confidence == "imputed"
    ]
    assert len(imputed) >= 30
    for study, f in imputed:
        assert f.significance_p is not None, study.id
        again = impute_from_significance(
            f.significance_p, f.effect_kind, f.direction, f.effect_n, f.effect_group_sizes
        )
        assert f.effect_size == pytest.approx(again.value, abs=1e-4), study.id
        assert "lower bound" in f.effect_derivation, study.id
    lsd = catalog.study("muller2018").findings[0]
    assert (lsd.measure, lsd.effect_size) == ("dmn_within_fc", pytest.approx(-0.468, abs=1e-3))
