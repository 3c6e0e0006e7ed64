"""Render the HTML report from a template shipped as package data."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd

from dmnpharm.report._summary import Summary

__all__ = ["ReportContent", "Section", "render_report", "section_items", "write_report"]

#: The data URIs a section's figures may be: embedded PNG (matplotlib) or SVG (drawn directly).
FIGURE_URIS = ("data:image/png;base64,", "data:image/svg+xml;base64,")

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("dmnpharm.report", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _fmt(value: Any, digits: int = 3) -> str:
    if isinstance(value, float | int) and not isinstance(value, bool):
        number = float(value)
        if math.isnan(number):
            return "n/a"
        if number != 0 and abs(number) < 10 ** (-digits):
            return f"{number:.{digits - 1}e}"
        return f"{number:.{digits}f}" if not float(number).is_integer() else f"{int(number)}"
    return str(value)


_ENV.filters["fmt"] = _fmt


@dataclass(frozen=True, eq=False)
class Section:
    """A titled part of a report: a note, tables and figures, all escaped when rendered.

    Parameters
    ----------
    anchor : str
        HTML id of the section (letters, digits and hyphens).
    title : str
        Heading.
    note : str
        A paragraph under the heading ("" for none).
    tables : list of tuple
        ``(caption, DataFrame)`` pairs, shown with their column names.
    figures : list of tuple
        ``(data URI, caption)`` pairs: an embedded PNG or SVG (:data:`FIGURE_URIS`).
    details : list of tuple
        ``(caption, DataFrame)`` pairs shown collapsed (``<details>``): full
        tables behind the short ones above.
    """

    anchor: str
    title: str
    note: str = ""
    tables: list[tuple[str, pd.DataFrame]] = field(default_factory=list)
    figures: list[tuple[str, str]] = field(default_factory=list)
    details: list[tuple[str, pd.DataFrame]] = field(default_factory=list)

    def __post_init__(self) -> None:
        """Check the anchor is a plain HTML id."""
        if not self.anchor or not all(ch.isalnum() or ch == "-" for ch in self.anchor):
            raise ValueError(
                f"section anchor must be letters, digits and hyphens: {self.anchor!r}"
            )
        for uri, _ in self.figures:
            if not uri.startswith(FIGURE_URIS):
                raise ValueError("section figures must be embedded PNG or SVG data URIs")


@dataclass(frozen=True, eq=False)
class ReportContent:
    """Everything a report shows; every string is escaped when rendered.

    Parameters
    ----------
    title : str
        Page title.
    design : dict
        Name to value lines of the design summary.
    results : pandas.DataFrame
        Group result table (one row per measure), or its strongest rows when
        the analysis has many measures (``n_measures`` says how many).
    methods : str
        Methods paragraph built from the actual configuration.
    provenance : dict
        Configuration, versions and input hashes.
    exclusions : list of str
        Subjects or runs left out, with reasons; empty when none.
    ground_truth : list of dict
        Planted effects of a simulated study (``measure``, ``value``), if any.
    sections : list of Section
        Further parts (QC, connectivity, ...) shown after the group results.
    statistic_name : str
        The test statistic in the results table (``t`` or ``F``).
    fwer_method : str
        How ``p_fwer`` controls the family-wise error, for the note under the
        results table.
    summary : Summary or None
        The answer, shown first: the primary contrast in one sentence, the
        other measures, literature, prediction, sample and QC warnings.
    n_measures : int or None
        Measures in the analysis when ``results`` holds only some of them.
    results_note : str
        What the results table shows when it is not every measure, and where
        the full table is.
    """

    title: str
    design: dict[str, str]
    results: pd.DataFrame
    methods: str
    provenance: dict[str, Any]
    exclusions: list[str] = field(default_factory=list)
    ground_truth: list[dict[str, Any]] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    statistic_name: str = "t"
    fwer_method: str = "maximum |t| over measures"
    summary: Summary | None = None
    n_measures: int | None = None
    results_note: str = ""


def _effect_rows(results: pd.DataFrame) -> tuple[list[dict[str, Any]], str]:
    """Return result records with the effect size to show, and its kind if all rows share one.

    Rows with ``effect_size_kind`` show ``effect_size``; others ``effect_size_dz``.
    """
    rows = [{str(k): v for k, v in record.items()} for record in results.to_dict("records")]
    for row in rows:
        kind = row.get("effect_size_kind")
        if isinstance(kind, str) and kind:
            row["effect_shown"], row["effect_kind_shown"] = row.get("effect_size"), kind
        else:
            dz = row.get("effect_size_dz", math.nan)
            finite = isinstance(dz, float | int) and math.isfinite(float(dz))
            row["effect_shown"], row["effect_kind_shown"] = dz, "d_z" if finite else ""
    kinds = {str(row["effect_kind_shown"]) for row in rows} - {""}
    return rows, kinds.pop() if len(kinds) == 1 else ""


def _one_contrast(rows: list[dict[str, Any]]) -> str:
    """Return the contrast every row shares ("" when rows differ or have none)."""
    contrasts = {str(row.get("contrast", "")) for row in rows}
    return contrasts.pop() if len(contrasts) == 1 else ""


def section_items(sections: list[Section]) -> list[dict[str, Any]]:
    """Return sections as the templates render them: tables as columns and records.

    Parameters
    ----------
    sections : list of Section
        The sections.

    Returns
    -------
    list of dict
        ``{"s": section, "tables": [(caption, columns, records), ...],
        "details": [...]}`` each.
    """
    return [
        {
            "s": section,
            "tables": [
                (caption, list(table.columns), table.to_dict(orient="records"))
                for caption, table in section.tables
            ],
            "details": [
                (caption, list(table.columns), table.to_dict(orient="records"))
                for caption, table in section.details
            ],
        }
        for section in sections
    ]


def render_report(content: ReportContent) -> str:
    """Render a report to an HTML string.

    Parameters
    ----------
    content : ReportContent
        What to show.

    Returns
    -------
    str
        One self-contained HTML document (figures embedded, no external links).
    """
    template = _ENV.get_template("report.html.j2")
    rows, effect_kind = _effect_rows(content.results)
    return template.render(
        c=content,
        sections=section_items(content.sections),
        rows=rows,
        n_measures=content.n_measures or len(rows),
        one_contrast=_one_contrast(rows),
        effect_kind=effect_kind,
        provenance_json=json.dumps(content.provenance, indent=2, sort_keys=True),
    )


def write_report(content: ReportContent, path: str | Path) -> Path:
    """Render a report and write it to a file.

    Parameters
    ----------
    content : ReportContent
        What to show.
    path : str or Path
        Destination ``.html`` file.

    Returns
    -------
    Path
        The written file.
    """
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(render_report(content), encoding="utf-8")
    return dest
