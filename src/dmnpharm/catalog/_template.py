"""Write catalog studies as TOML, and the commented template of one study.

:mod:`tomllib` only reads TOML, so the local catalog is written here: basic
strings (quotes, backslashes and control characters escaped), integers,
floats (``nan`` and ``inf`` as TOML spells them), booleans, arrays and inline
tables. A ``None`` value has no TOML form and its key is left out, as the
catalog schema reads a missing optional key.
"""

from __future__ import annotations

import math
import re
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from dmnpharm.catalog._model import Catalog
from dmnpharm.catalog._publications import EFFECT_CONFIDENCE, EFFECT_KINDS
from dmnpharm.catalog._vocabulary import (
    ANY,
    CONFIRMATION,
    DESIGNS,
    DIRECTIONS,
    MODALITIES,
    VOCABULARY,
)
from dmnpharm.exceptions import InputError

__all__ = ["studies_toml", "template_text", "toml_value"]

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")

# The escapes TOML defines; any other control character is written as \uXXXX.
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f"}
_ESCAPES["\r"] = "\\r"


def _string(text: str) -> str:
    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _string(key)


def _float(value: float) -> str:
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return repr(float(value))  # always has a '.' or an exponent: a TOML float


def toml_value(value: Any) -> str:
    """Return the TOML text of one value.

    Parameters
    ----------
    value : str, int, float, bool, sequence or mapping
        A string, number or boolean; a list or tuple of values (an array);
        a mapping with string keys (an inline table, its ``None`` values left
        out).

    Returns
    -------
    str
        The value as TOML writes it on one line.

    Raises
    ------
    InputError
        For a value TOML cannot hold (None inside an array, another type).
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, Mapping):
        items = [f"{_key(str(k))} = {toml_value(v)}" for k, v in value.items() if v is not None]
        return "{ " + ", ".join(items) + " }" if items else "{}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise InputError(f"cannot write {value!r} ({type(value).__name__}) as a TOML value")


def _table(header: str, row: Mapping[str, Any]) -> str:
    """Return one ``[[header]]`` table; lists of tables as one inline table per line."""
    lines = [f"[[{header}]]"]
    for key, value in row.items():
        if value is None:
            continue
        if (
            isinstance(value, list | tuple)
            and value
            and all(isinstance(v, Mapping) for v in value)
        ):
            lines.append(f"{_key(key)} = [")
            lines += [f"    {toml_value(v)}," for v in value]
            lines.append("]")
        else:
            lines.append(f"{_key(key)} = {toml_value(value)}")
    return "\n".join(lines) + "\n"


def studies_toml(rows: Iterable[Mapping[str, Any]]) -> str:
    """Return ``[[studies]]`` tables in the schema of the catalog file.

    Parameters
    ----------
    rows : iterable of mapping
        One mapping per study, as :func:`tomllib.loads` reads a ``[[studies]]``
        table (``findings`` a list of mappings).

    Returns
    -------
    str
        The tables, separated by blank lines; :func:`tomllib.loads` reads them
        back as ``{"studies": rows}`` (keys whose value is None left out).

    Raises
    ------
    InputError
        For a value TOML cannot hold.
    """
    return "\n".join(_table("studies", row) for row in rows)


def _wrapped(label: str, values: Sequence[str]) -> list[str]:
    text = f"{label}: " + ", ".join(values)
    return textwrap.wrap(text, width=88, initial_indent="# ", subsequent_indent="#     ")


def _listed(values: Iterable[str]) -> str:
    return " | ".join(values)


_STUDY = """\
[[studies]]
# id: unique, lowercase letters and digits, first author + year: "smith2026" (fill it in)
id = ""
first_author = "Smith"                  # surname; "" when not known
year = 2026                             # or delete it and give year_reason = "why"
journal = "unpublished"                 # journal, volume and pages
doi_reason = "not published yet"        # why there is no DOI; or delete and give:
# doi = "10.1234/abcd.5678"
agents = ["escitalopram"]               # agent ids: 'dmnpharm catalog drugs'; [] for none
drug_class = "ssri_snri"                # the agents' class id ("none", "multiple")
dose = "20 mg oral, single dose"        # dose, route, duration; "" when not reported
design = "crossover"                    # {designs}
population = "healthy"                  # a population id (listed above)
n = "24"                                # sample size as text: "24" or "20 MDD, 22 HC"
modality = "rest"                       # {modalities}
gsr = false                             # global signal regression; delete when unknown
confirmation = "confirmed"              # {confirmation}
note = "Own study: 10-minute resting state 3 h after the dose, drug versus placebo."

# One [[studies.findings]] table per result on one measure (add more as needed).
[[studies.findings]]
measure = "dmn_within_fc"               # a measure (listed above)
direction = "decrease"                  # {directions}
effect = "d_z = -0.62, 95% CI [-1.05, -0.18]"   # the statistic as text; "" when none
# The number, when there is one (else delete these lines and give
# direction_only = true with direction_only_reason = "why there is no number"):
effect_size = -0.62                     # sign as in the source
effect_kind = "d_z"                     # {kinds}
effect_n = 24                           # subjects behind the effect (both groups together)
ci_low = -1.05                          # 95% CI on the scale of effect_size (optional;
ci_high = -0.18                         # give both or neither)
# se = 0.22                             # standard error (optional)
# effect_group_sizes = [12, 12]         # the two group sizes of a d, hedges_g or two-sample t
effect_source = "Table 2"               # where the number is (page, table, figure, file)
effect_confidence = "verified"          # {confidence}
# effect_derivation = "d_z = t / sqrt(n) from t(23) = -3.0"   # with effect_confidence = "derived"
"""


def template_text(catalog: Catalog) -> str:
    """Return a commented TOML template of one study with one finding.

    Every field of a ``[[studies]]`` table and of a finding is shown with an
    example value and a comment; optional fields are commented out. Filled
    in (``id`` is empty and must be given), it is a file that ``dmnpharm
    catalog add`` accepts.

    Parameters
    ----------
    catalog : Catalog
        The catalog whose populations and drug classes the comments list.

    Returns
    -------
    str
        The template, ending with a newline.
    """
    head = [
        "# A study for your local dmnpharm evidence catalog.",
        "# Fill it in, then: dmnpharm catalog add THIS_FILE.toml",
        "# Several studies: repeat the [[studies]] table (each with its findings).",
        "# Strings are in double quotes; a '#' starts a comment.",
        "#",
        *_wrapped("population ids", [p.id for p in catalog.populations if p.id != ANY]),
        *_wrapped("drug class ids", [c.id for c in catalog.drug_classes if c.id != ANY]),
        *_wrapped("measures", list(VOCABULARY)),
        "",
    ]
    body = _STUDY.format(
        designs=_listed(DESIGNS),
        modalities=_listed(MODALITIES),
        confirmation=_listed(CONFIRMATION),
        directions=_listed(DIRECTIONS),
        kinds=_listed(EFFECT_KINDS),
        confidence=_listed(EFFECT_CONFIDENCE),
    )
    return "\n".join(head) + "\n" + body
