"""Errors raised by dmnpharm.

Every error derives from :class:`DmnpharmError` and from the builtin it refines,
so callers can catch either (``except ValueError`` still works for bad input).
"""

from __future__ import annotations

__all__ = [
    "DmnpharmError",
    "InputError",
    "MotionImbalanceWarning",
    "OutputExistsError",
    "OutputLockedError",
    "RunFailuresError",
    "StudyValidationError",
    "UsageError",
]


class DmnpharmError(Exception):
    """Base class of every error raised on purpose by dmnpharm."""


class InputError(DmnpharmError, ValueError):
    """An argument, file or value given by the user is not usable."""


class OutputExistsError(DmnpharmError, FileExistsError):
    """The output folder exists and overwriting it was not asked for."""


class OutputLockedError(DmnpharmError):
    """Another dmnpharm process is writing the same output folder."""


class RunFailuresError(DmnpharmError):
    """Some runs failed while computing; no group result was written.

    Parameters
    ----------
    out : str
        The output folder that was not written (left as it was).
    failures : list of str
        One message per failed run, naming its file and the reason.
    """

    def __init__(self, out: str, failures: list[str]) -> None:
        self.out = out
        self.failures = list(failures)
        lines = "\n".join(f"  - {f}" for f in self.failures)
        super().__init__(
            f"{len(self.failures)} run(s) failed, so no group results, report or store entry "
            f"were written ('{out}' is left as it was):\n{lines}\n"
            "The other runs' results are cached: fix or remove the inputs named and run again "
            "(finished runs come from the cache), or pass --allow-failures to analyse the "
            "study without them (they are then listed in the results, report and provenance)."
        )


class UsageError(InputError):
    """A command-line option has a value that cannot be used (exit status 2).

    Parameters
    ----------
    message : str
        Names the option, the value and what would be accepted.
    """


class StudyValidationError(InputError):
    """A study folder has one or more problems, all listed at once.

    Parameters
    ----------
    study : str
        The study folder that was checked.
    problems : list of str
        One human-readable line per problem, each naming the file, row or value.
    design : object
        The design rows that could be read despite the problems (a pandas
        DataFrame), so that checks of the design can still list theirs; None
        when there are none.
    """

    def __init__(self, study: str, problems: list[str], design: object = None) -> None:
        self.study = study
        self.problems = list(problems)
        self.design = design
        lines = "\n".join(f"  - {p}" for p in self.problems)
        n = len(self.problems)
        plural = "s" if n != 1 else ""
        super().__init__(
            f"study '{study}' has {n} problem{plural}; nothing was computed:\n{lines}"
        )


class MotionImbalanceWarning(UserWarning):
    """Head motion or censoring differs between the conditions or groups compared.

    Differences in motion bias connectivity (Power et al. 2012), so a drug effect
    on FC may be a motion effect; the warning names the measure and the test.
    """
