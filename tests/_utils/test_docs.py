"""Shared parameter descriptions filled into docstrings by ``fill_doc``."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from collections.abc import Iterator

import pytest

import dmnpharm
from dmnpharm._utils import fill_doc
from dmnpharm._utils._docs import DOCDICT

#: The module that defines the placeholders documents their syntax literally.
_DOCS_MODULE = "dmnpharm._utils._docs"


def test_placeholders_are_filled_in_exported_functions() -> None:
    """Real public functions show the shared text, never a placeholder."""
    from dmnpharm.simulate import StudySpec, write_simulated_study
    from dmnpharm.stats import analyse, permutation_glm, sign_flip_test

    raw = sign_flip_test.__doc__ or ""
    assert "    seed : int\n        Seed of the random draws" in raw
    assert "%(" not in raw
    for obj, keys in [
        (sign_flip_test, ("seed", "n_permutations", "confidence")),
        (permutation_glm, ("seed", "n_permutations", "exchangeability", "design_matrix")),
        (analyse, ("seed", "n_permutations", "n_bootstrap", "confidence")),
        (StudySpec, ("seed",)),
        (write_simulated_study, ("simulated_study", "overwrite")),
    ]:
        doc = inspect.getdoc(obj) or ""
        assert "%(" not in doc
        for key in keys:
            assert DOCDICT[key] in doc, (obj, key)


def test_function_specific_text_follows_the_shared_entry() -> None:
    """A sentence added under a placeholder stays part of that parameter's description."""
    from dmnpharm.stats import sign_flip_test

    doc = inspect.getdoc(sign_flip_test) or ""
    assert DOCDICT["n_permutations"] + "\n    They are sign flips." in doc


def test_methods_are_filled_at_their_own_indentation() -> None:
    """A placeholder in a method's docstring gets the method's indentation."""
    from dmnpharm.stats import PermutationNull

    assert DOCDICT["alpha"] in (inspect.getdoc(PermutationNull.fwer_threshold) or "")


def test_defaults_come_from_the_shared_constants() -> None:
    """Signature defaults are the constants of ``dmnpharm.stats._defaults``."""
    from dmnpharm.stats import (
        CONFIDENCE,
        N_BOOTSTRAP,
        N_PERMUTATIONS,
        analyse,
        bootstrap_ci,
        sign_flip_test,
    )

    assert inspect.signature(sign_flip_test).parameters["n_permutations"].default == N_PERMUTATIONS
    assert inspect.signature(bootstrap_ci).parameters["n_bootstrap"].default == N_BOOTSTRAP
    assert inspect.signature(analyse).parameters["confidence"].default == CONFIDENCE


def test_fill_doc_indents_continuation_lines_and_keeps_other_percents() -> None:
    """Only ``%(key)s`` changes; "5 %" and the surrounding lines stay as written."""

    @fill_doc
    def documented(seed: int = 0) -> int:
        """Do nothing, 5 % of the time.

        Parameters
        ----------
        %(seed)s
            Extra words.

        Returns
        -------
        int
            ``seed``.
        """
        return seed

    header, *description = DOCDICT["seed"].split("\n")
    indented = "\n".join([f"        {header}", *(f"        {line}" for line in description)])
    assert documented.__doc__ is not None
    assert indented + "\n            Extra words." in documented.__doc__
    assert "5 % of the time" in documented.__doc__
    assert documented(3) == 3


def test_fill_doc_fills_a_class_and_returns_it() -> None:
    """Classes are decorated like functions; the same object comes back."""

    class Holder:
        """Hold a seed.

        Parameters
        ----------
        %(seed)s
        """

    assert fill_doc(Holder) is Holder
    assert DOCDICT["seed"] in (inspect.getdoc(Holder) or "")


def test_fill_doc_leaves_a_missing_docstring_alone() -> None:
    """Under ``python -OO`` there is no docstring to fill; that is not an error."""

    def bare() -> None:
        pass

    assert fill_doc(bare).__doc__ is None


def test_unknown_key_raises_when_decorating() -> None:
    """A misspelt placeholder fails at import time, naming the key and the function."""
    with pytest.raises(ValueError, match=r"%\(sede\)s.*known keys: .*seed"):

        @fill_doc
        def typo(seed: int = 0) -> None:
            """Use a seed.

            Parameters
            ----------
            %(sede)s
            """


@pytest.mark.parametrize("key", sorted(DOCDICT))
def test_entries_are_numpydoc_parameter_entries(key: str) -> None:
    """Each entry is a ``name : type`` line then its description indented by four spaces."""
    header, *description = DOCDICT[key].split("\n")
    assert re.fullmatch(r"[a-z_][a-z0-9_]* : \S.*", header)
    assert description
    for line in description:
        assert line.startswith("    ")
        assert not line[4:].startswith(" ")
        assert line == line.rstrip()
    assert "%(" not in DOCDICT[key]


def _docstrings() -> Iterator[tuple[str, str]]:
    """Yield (qualified name, docstring) of every module, class, function and method."""
    for info in pkgutil.walk_packages(dmnpharm.__path__, "dmnpharm."):
        if info.name.endswith("__main__") or info.name == _DOCS_MODULE:
            continue
        module = importlib.import_module(info.name)
        yield info.name, module.__doc__ or ""
        for name, obj in vars(module).items():
            if not (inspect.isfunction(obj) or inspect.isclass(obj)):
                continue
            if getattr(obj, "__module__", None) != module.__name__:
                continue
            yield f"{info.name}.{name}", obj.__doc__ or ""
            if inspect.isclass(obj):
                for member_name, member in vars(obj).items():
                    target = member.fget if isinstance(member, property) else member
                    target = getattr(target, "__func__", target)
                    if inspect.isfunction(target):
                        yield f"{info.name}.{name}.{member_name}", target.__doc__ or ""


def test_no_docstring_keeps_a_placeholder() -> None:
    """After importing every module, no docstring in dmnpharm still holds ``%(``."""
    found = list(_docstrings())
    assert len(found) > 100
    left = [name for name, doc in found if "%(" in doc]
    assert not left, "unfilled placeholders (missing @fill_doc?): " + ", ".join(left)
