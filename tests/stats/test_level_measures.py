"""Region and edge measure names, the one-row-per-run check and the fast results TSV."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dmnpharm.exceptions import InputError
from dmnpharm.io import write_tsv
from dmnpharm.pipeline import analyse_table, read_metrics_table
from dmnpharm.report._stats_views import edge_section
from dmnpharm.stats import (
    ModelSpec,
    analyse,
    check_unique_runs,
    measure_name,
    name_measures,
    split_measure_name,
)

PAIRED = ModelSpec(within="condition", contrast=("drug", "placebo"))


def _levels_table(rng: np.random.Generator, n_subjects: int = 5) -> pd.DataFrame:
    """Make a run-like tidy table: network, region, edge rows; two analyses and sessions."""
    regions = ["PCC", "mPFC", "AG_l", "AG_r"]
    edges = [(a, b) for i, a in enumerate(regions) for b in regions[i + 1 :]]
    rows = []
    for s in range(n_subjects):
        for k, condition in enumerate(("placebo", "drug")):
            design = {
                "participant_id": f"sub-{s + 1:02d}",
                "session_id": f"ses-{k + 1}",
                "condition": condition,
                "run": "",
            }
            for analysis in ("primary", "gsr_sensitivity"):
                at = {**design, "analysis": analysis}
                rows.append(
                    {**at, "measure": "dmn_within_fc", "level": "network", "region_a": ""}
                    | {"region_b": "", "value": rng.normal()}
                )
                for region in regions:
                    for measure in ("gbc", "dmn_fc"):
                        rows.append(
                            {**at, "measure": measure, "level": "region", "region_a": region}
                            | {"region_b": "", "value": rng.normal()}
                        )
                for a, b in edges:
                    rows.append(
                        {**at, "measure": "edge_fc", "level": "edge", "region_a": a}
                        | {"region_b": b, "value": rng.normal() + 0.5 * k * (a == "PCC")}
                    )
    table = pd.DataFrame(rows)
    table["network_a"] = table["network_b"] = "DMN"
    return table


def test_names_are_readable_and_split_back() -> None:
    """``measure[A]``, ``measure[A--B]``; plain names and odd brackets stay whole."""
    assert measure_name("gbc", ("PCC",)) == "gbc[PCC]"
    assert measure_name("edge_fc", ["PCC", "mPFC"]) == "edge_fc[PCC--mPFC]"
    assert measure_name("dmn_within_fc") == "dmn_within_fc"
    assert split_measure_name("edge_fc[PCC--mPFC]") == ("edge_fc", ("PCC", "mPFC"))
    assert split_measure_name("gbc[7Networks_LH_Default_1]") == (
        "gbc",
        ("7Networks_LH_Default_1",),
    )
    for plain in ("dmn_within_fc", "x[]", "a[b]c", "[a]"):
        assert split_measure_name(plain) == (plain, ())


def test_each_region_and_edge_gets_its_own_stable_name(rng: np.random.Generator) -> None:
    """Names depend on each row alone: the same from text or categoricals, in any row order."""
    table = _levels_table(rng)
    named = name_measures(table)
    edges = named[named["level"] == "edge"]
    assert isinstance(named["measure"].dtype, pd.CategoricalDtype)
    pairs = zip(edges["region_a"], edges["region_b"], strict=True)
    expected = [measure_name("edge_fc", (a, b)) for a, b in pairs]
    assert list(edges["measure"].astype(str)) == expected
    regions = named[named["level"] == "region"]
    assert set(regions["measure"].astype(str)) >= {"gbc[PCC]", "dmn_fc[AG_r]"}
    network = named[named["level"] == "network"]
    assert set(network["measure"].astype(str)) == {"dmn_within_fc"}
    # the same names from categoricals, from missing (not empty) region_b, and shuffled rows
    as_categories = table.astype(dict.fromkeys(("measure", "region_a", "region_b"), "category"))
    with_missing = table.assign(region_b=table["region_b"].replace("", np.nan))
    shuffled = table.sample(frac=1.0, random_state=3)
    for variant in (as_categories, with_missing, shuffled):
        again = name_measures(variant)
        assert (
            again["measure"].astype(str) == named["measure"].astype(str).loc[again.index]
        ).all()
    assert name_measures(table.drop(columns=["region_a", "region_b"])) is not None
    plain = table[table["level"] == "network"]
    assert name_measures(plain) is plain  # nothing to name: returned as given


def test_repeated_measures_within_a_run_are_refused_with_the_fix(
    rng: np.random.Generator,
) -> None:
    """Rows telling edges apart in another column: error names the key, the column, the fix."""
    table = _levels_table(rng)
    table = table[(table["analysis"] == "primary") & (table["level"] == "edge")]
    check_unique_runs(name_measures(table), within="condition")  # one row per run and edge
    unnamed = table.rename(columns={"region_a": "roi_1", "region_b": "roi_2"})
    with pytest.raises(InputError) as caught:
        check_unique_runs(name_measures(unnamed), within="condition", source="table 'x.tsv'")
    message = str(caught.value)
    for part in ("table 'x.tsv'", "measure 'edge_fc'", "participant_id 'sub-01'", "roi_2"):
        assert part in message
    assert "'mPFC' vs 'AG_l'" in message
    assert "Fix: put the column that tells these rows apart into the measure name" in message


def test_many_unused_labels_take_the_hashing_path(rng: np.random.Generator) -> None:
    """Categoricals with far more labels than rows: the same names and the same check."""
    table = _levels_table(rng, n_subjects=3)
    table = table[table["analysis"] == "primary"].reset_index(drop=True)
    many = [f"unused_{i}" for i in range(5_000)]
    wide = table.assign(
        region_a=pd.Categorical(
            table["region_a"], categories=[*dict.fromkeys(table["region_a"]), *many]
        ),
        participant_id=pd.Categorical(
            table["participant_id"], categories=[*dict.fromkeys(table["participant_id"]), *many]
        ),
    )
    assert (
        name_measures(wide)["measure"].astype(str) == name_measures(table)["measure"].astype(str)
    ).all()
    check_unique_runs(name_measures(wide), within="condition")
    with pytest.raises(InputError, match="repeat a measure within a run"):
        check_unique_runs(wide, within="condition")  # edges not named yet


def test_runs_told_apart_by_run_or_session_are_averaged(rng: np.random.Generator) -> None:
    """Two runs of one session (a run column) pass the check and count as their mean."""
    table = _levels_table(rng, n_subjects=4)
    table = table[(table["analysis"] == "primary") & (table["level"] == "network")]
    second = table.assign(run="2", value=table["value"] + 1.0)
    both = pd.concat([table.assign(run="1"), second], ignore_index=True)
    check_unique_runs(both, within="condition")
    mean = pd.concat([table, second]).groupby(["participant_id", "condition"])["value"].mean()
    change = (mean.xs("drug", level=1) - mean.xs("placebo", level=1)).mean()
    result = analyse(both, PAIRED, n_permutations=16)
    assert result.results["estimate"].iloc[0] == pytest.approx(change)
    with pytest.raises(InputError, match="repeat a measure within a run"):
        check_unique_runs(both.drop(columns=["run"]), within="condition")


def test_reading_chooses_analysis_and_level(rng: np.random.Generator, tmp_path: Path) -> None:
    """Primary by default, GSR on request; network rows unless the level is asked or alone."""
    table = _levels_table(rng)
    table.to_parquet(tmp_path / "all.parquet", index=False)
    table[table["level"] == "edge"].to_parquet(tmp_path / "edges.parquet", index=False)
    table.to_csv(tmp_path / "all.tsv", sep="\t", index=False, na_rep="n/a")
    default = read_metrics_table(tmp_path / "all.parquet")
    assert set(default["measure"].astype(str)) == {"dmn_within_fc"}
    assert list(default["analysis"].cat.categories) == ["primary"]
    edges = read_metrics_table(tmp_path / "edges.parquet")
    assert len(edges) == 5 * 2 * 6
    assert edges["measure"].nunique() == 6
    gsr = read_metrics_table(tmp_path / "edges.parquet", analysis="gsr_sensitivity")
    expected = table[(table["level"] == "edge") & (table["analysis"] == "gsr_sensitivity")]
    np.testing.assert_array_equal(gsr["value"], expected["value"])
    from_tsv = read_metrics_table(tmp_path / "all.tsv", level="region")
    from_parquet = read_metrics_table(tmp_path / "all.parquet", level="region")
    assert list(from_tsv["measure"].astype(str)) == list(from_parquet["measure"].astype(str))
    table[table["level"] != "network"].to_parquet(tmp_path / "two.parquet", index=False)
    with pytest.raises(InputError, match="edge, region: choose one with --level"):
        read_metrics_table(tmp_path / "two.parquet")
    table.drop(columns=["analysis"]).to_parquet(tmp_path / "none.parquet", index=False)
    with pytest.raises(InputError, match="no analysis column, so no 'gsr_sensitivity' rows"):
        read_metrics_table(tmp_path / "none.parquet", analysis="gsr_sensitivity")


def test_edge_table_round_trips_into_stats(rng: np.random.Generator, tmp_path: Path) -> None:
    """analyse_table on an edge table: one result per edge, named; a run repeating one refused."""
    table = _levels_table(rng, n_subjects=6)
    path = tmp_path / "metrics_edges.parquet"
    table[table["level"] == "edge"].to_parquet(path, index=False)
    result = analyse_table(path, tmp_path / "out", PAIRED, overwrite=True)
    assert result.results["measure"].tolist()[0] == "edge_fc[PCC--mPFC]"
    written = pd.read_csv(tmp_path / "out" / "results.tsv", sep="\t")
    assert written["measure"].tolist() == result.results["measure"].tolist()
    bad = table[table["level"] == "edge"].rename(columns={"region_b": "roi"})
    bad.to_parquet(tmp_path / "bad.parquet", index=False)
    with pytest.raises(InputError, match=r"bad.parquet.*differ in roi"):
        analyse_table(tmp_path / "bad.parquet", tmp_path / "out2", PAIRED)
    assert not (tmp_path / "out2").exists()


def test_measures_with_non_finite_values_are_left_out_and_named(
    rng: np.random.Generator, tmp_path: Path
) -> None:
    """An inf value leaves its measure out (model.txt, provenance, report); the rest is tested."""
    table = _levels_table(rng, n_subjects=6)
    table = table[table["level"] == "region"].reset_index(drop=True)
    first = table.index[(table["measure"] == "gbc") & (table["region_a"] == "AG_l")][2]
    table.loc[first, "value"] = np.inf
    table.to_parquet(tmp_path / "regions.parquet", index=False)
    result = analyse_table(tmp_path / "regions.parquet", tmp_path / "out", PAIRED)
    assert "gbc[AG_l]" not in set(result.results["measure"])
    assert len(result.results) == 7
    line = "left out: measure gbc[AG_l]: 1 run(s) with a missing or non-finite value"
    assert line in (tmp_path / "out" / "model.txt").read_text(encoding="utf-8")
    assert "measure gbc[AG_l]" in (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    kept = name_measures(table.drop(index=table.index[table["region_a"] == "AG_l"]))
    kept = kept[(kept["analysis"] == "primary") & (kept["measure"] != "dmn_fc[AG_l]")]
    direct = analyse(kept.reset_index(drop=True), PAIRED, n_permutations=10_000)
    expected = direct.results.set_index("measure")["statistic"]
    got = result.results.set_index("measure")["statistic"].loc[expected.index]
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_edge_matrix_from_names_alone(rng: np.random.Generator) -> None:
    """The report's edge matrix reads ``edge_fc[A--B]`` names when region columns are absent."""
    names = [
        measure_name("edge_fc", (f"r{i}", f"r{j}")) for i in range(4) for j in range(i + 1, 4)
    ]
    results = pd.DataFrame(
        {"measure": names, "statistic": rng.normal(size=6), "p_fwer": rng.random(6)}
    )
    table = pd.DataFrame({"participant_id": "s1", "measure": names, "value": 0.0})
    section = edge_section(table, table, results)
    assert section is not None
    assert "per region (4)" in section.figures[0][1]
    assert "of 6 edges" in section.figures[0][1]
    no_edges = results.assign(measure=[f"m{i}" for i in range(6)])
    assert edge_section(table, table, no_edges) is None


def _results_like(rng: np.random.Generator) -> pd.DataFrame:
    """Make a results-shaped table: floats of every magnitude, missing values, text."""
    n = 400
    floats = np.concatenate(
        [
            [0.0, -0.0, 1e-4, 9.99e-5, 1e10, 9999999999.5, 19.0, 1e16, 1e-300, np.inf, -np.inf],
            [np.nan, 0.1 + 0.2, 5e-324, 2.0 / 3.0, -123456.75, 1.0],
        ]
    )
    values = np.concatenate([floats, np.exp(rng.uniform(-30, 30, n - floats.size))])
    values *= np.where(rng.random(n) < 0.3, -1, 1)
    return pd.DataFrame(
        {
            "measure": [f"edge_fc[r{i}--r{i + 1}]" for i in range(n)],
            "estimate": values,
            "p": rng.random(n),
            "n": rng.integers(0, 50, n),
            "flag": rng.random(n) < 0.5,
            "note": pd.Series(["", "a b", None, "ünï"] * (n // 4), dtype=object),
            "kind": pd.Categorical(["d_z", "g"] * (n // 2)),
            "text": pd.Series(["x", None] * (n // 2), dtype="str"),
        }
    )


def test_results_tsv_is_byte_for_byte_pandas(rng: np.random.Generator, tmp_path: Path) -> None:
    """io.write_tsv's bytes equal to_csv's, for tables it builds and tables it hands to to_csv."""
    table = _results_like(rng)
    cases = {
        "results": table,
        "quoted": table.assign(note=["a\tb", 'say "x"'] * (len(table) // 2)),
        "one column": table[["note"]],
        "empty": table.iloc[:0],
        "float32": table.assign(p=table["p"].astype(np.float32)),
        "participants": pd.DataFrame(
            {"participant_id": ["sub-01", "sub-02"], "age": [31, 45], "group": ["a", None]}
        ),
        "extremes": pd.DataFrame({"x": [-0.0, 1e-5, 1e12, np.inf, -np.inf], "y": ["q"] * 5}),
        "nullable integers": pd.DataFrame(
            {"a": pd.array([1, None], dtype="Int64"), "b": ["x", ""]}
        ),
        "mixed objects": pd.DataFrame({"a": [1, "x"], "b": [True, None]}),
    }
    for name, frame in cases.items():
        ours, theirs = tmp_path / f"{name}.tsv", tmp_path / f"{name}-pandas.tsv"
        write_tsv(frame, ours)
        frame.to_csv(theirs, sep="\t", index=False, na_rep="n/a", lineterminator="\n")
        assert ours.read_bytes() == theirs.read_bytes(), name
