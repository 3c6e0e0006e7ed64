"""Named denoising strategies: the frozen configuration and its methods text.

The strategies follow the definitions used in the benchmarks of confound
regression for functional connectivity (Satterthwaite et al. 2013,
NeuroImage 64:240-256; Ciric et al. 2017, NeuroImage 154:174-187; Parkes et
al. 2018, NeuroImage 171:415-436), written for the columns of fMRIPrep's
``desc-confounds_timeseries.tsv``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from dmnpharm._utils import check_option
from dmnpharm.exceptions import InputError

__all__ = ["DEFAULT_DENOISE", "RECOMMENDED", "STRATEGIES", "DenoiseConfig"]

#: Base strategies; each may carry ``+gsr`` (36p includes the global signal already).
_BASES = ("none", "6p", "24p", "36p", "acompcor", "aroma")

#: Every accepted spelling of ``DenoiseConfig.strategy``.
STRATEGIES: tuple[str, ...] = (
    "none",
    "6p",
    "24p",
    "36p",
    "acompcor",
    "acompcor+gsr",
    "aroma",
    "aroma+gsr",
    "6p+gsr",
    "24p+gsr",
    "none+gsr",
)

#: The censoring and filtering that go with any nuisance strategy by default,
#: as the published benchmarks of denoising pipelines support them:
#:
#: * ``fd_threshold`` 0.5 mm and ``std_dvars_threshold`` 1.5: fMRIPrep's own
#:   motion-outlier thresholds (its ``--fd-spike-threshold`` and
#:   ``--dvars-spike-threshold`` defaults), after Power et al. 2012
#:   (NeuroImage 59:2142-2154); censoring with aCompCor reduces the motion
#:   artefact further (Ciric et al. 2017, NeuroImage 154:174-187; Parkes et al.
#:   2018, NeuroImage 171:415-436).
#: * ``min_segment`` 5: runs of fewer than 5 consecutive kept volumes are
#:   censored too (Power et al. 2014, NeuroImage 84:320-341).
#: * ``min_remaining`` 0.5: a run keeping less than half its volumes is
#:   excluded, so no estimate rests on a heavily censored run (Parkes et al.
#:   2018 excluded subjects far more strictly; this bound keeps short studies
#:   analysable and is recorded).
#: * ``high_pass``/``low_pass`` 0.01-0.08 Hz: the resting-state band (Biswal
#:   et al. 1995; the band of ALFF, Zang et al. 2007), applied to signals and
#:   regressors alike (Hallquist et al. 2013; Lindquist et al. 2019).
RECOMMENDED: dict[str, Any] = {
    "fd_threshold": 0.5,
    "std_dvars_threshold": 1.5,
    "min_segment": 5,
    "min_remaining": 0.5,
    "high_pass": 0.01,
    "low_pass": 0.08,
}

#: Order of the zero-phase Butterworth filter (per pass), as nilearn's default.
FILTER_ORDER = 5

#: Cumulative variance that fMRIPrep's aCompCor components are retained up to.
COMPCOR_VARIANCE = 0.5

_REGRESSION_WORDS = {
    "none": "",
    "6p": "the 6 realignment parameters (3 translations, 3 rotations)",
    "24p": (
        "24 head-motion parameters (the 6 realignment parameters, their temporal "
        "derivatives and the squares of both; Friston et al. 1996, Satterthwaite et al. 2013)"
    ),
    "36p": (
        "36 parameters (Satterthwaite et al. 2013): the 6 realignment parameters and the "
        "mean white-matter, CSF and global signals, their temporal derivatives and the "
        "squares of all 18"
    ),
    "acompcor": (
        "the 6 realignment parameters and their temporal derivatives, fMRIPrep's discrete "
        "cosine high-pass regressors and {compcor} (Behzadi et al. 2007; Muschelli et al. "
        "2014; Ciric et al. 2017)"
    ),
    "aroma": "the mean white-matter and CSF signals (Ciric et al. 2017)",
}

_AROMA_INPUT = (
    "The region signals were taken from fMRIPrep's ICA-AROMA non-aggressively denoised "
    "images (Pruim et al. 2015), so the AROMA noise components were not regressed again."
)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_positive(name: str, value: float | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"{name} must be a number or None; got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise InputError(f"{name} must be positive and finite, or None; got {value!r}")


def _number(value: float) -> str:
    return f"{value:g}"


@dataclass(frozen=True)
class DenoiseConfig:
    """A named denoising strategy with its censoring and filtering settings.

    ``strategy`` names the nuisance regressors; ``gsr`` adds the global signal.
    A ``+gsr`` suffix in ``strategy`` is the same as ``gsr=True`` and is
    folded into it, so ``DenoiseConfig("acompcor+gsr")`` equals
    ``DenoiseConfig("acompcor", gsr=True)`` (and both are named
    ``"acompcor+gsr"``). The regressors, by fMRIPrep column name:

    * ``none``: no nuisance regressors (detrending and filtering still apply).
    * ``6p``: ``trans_x, trans_y, trans_z, rot_x, rot_y, rot_z``.
    * ``24p``: 6p with ``*_derivative1``, ``*_power2`` and
      ``*_derivative1_power2`` (Friston et al. 1996).
    * ``36p``: 24p and ``csf``, ``white_matter``, ``global_signal`` with the
      same three expansions (Satterthwaite et al. 2013). It includes the global
      signal by definition, so ``gsr`` is always True for it.
    * ``acompcor``: 6p and their ``*_derivative1``, every ``cosine*`` column
      (fMRIPrep computes aCompCor on data high-passed with these, so they must
      be regressed too), and the ``a_comp_cor_XX`` components of the combined
      white-matter + CSF mask (see ``n_compcor``).
    * ``aroma``: ``csf`` and ``white_matter``. The region signals must come
      from fMRIPrep's ``desc-smoothAROMAnonaggr_bold`` image, where ICA-AROMA
      noise components were already removed non-aggressively (Pruim et al.
      2015); the table must list them (``aroma_motion_XX``) as evidence that
      ICA-AROMA ran, but they are not regressed again.

    With ``gsr``, 6p, acompcor, aroma and none add ``global_signal``; 24p adds
    it with its three expansions (4 regressors, as 36p does).

    Parameters
    ----------
    strategy : str
        One of :data:`STRATEGIES`: ``none``, ``6p``, ``24p``, ``36p``,
        ``acompcor``, ``aroma``, each optionally with ``+gsr``.
    gsr : bool
        Add the global signal (see above).
    n_compcor : int or None
        acompcor only. None: the combined-mask components up to 50 %
        cumulative variance, read from ``CumulativeVarianceExplained`` in the
        confounds JSON (fMRIPrep's own rule, so fMRIPrep's retained
        components); an int: that many components. Must be None for other
        strategies.
    fd_threshold : float or None
        Censor volumes whose framewise displacement exceeds this (mm). None:
        FD is not used.
    std_dvars_threshold : float or None
        Censor volumes whose standardised DVARS exceeds this. None: not used.
    min_segment : int
        After censoring, also censor runs of consecutive kept volumes shorter
        than this (Power et al. 2014 used 5); 0 turns it off.
    min_remaining : int, float or None
        Exclude the run when fewer volumes remain: an int is a number of
        volumes, a float in (0, 1] a fraction of all the run's volumes
        (non-steady-state ones included). None: only the volumes the
        regression itself needs are required.
    high_pass, low_pass : float or None
        Cut-off frequencies (Hz) of a zero-phase 5th-order Butterworth filter
        applied to the signals and the regressors alike; None: no cut-off on
        that side.
    detrend : bool
        Remove each signal's mean and linear trend (and the regressors').
    drop_nonsteady : bool
        Drop the volumes flagged in fMRIPrep's ``non_steady_state_outlier_XX``
        columns. When False they are kept and cleaned like the others.
    done_by : str
        The pipeline that denoised the signals before dmnpharm read them
        (e.g. ``"XCP-D 0.10.6"``); dmnpharm then cleans nothing itself, so
        only strategy ``none`` without censoring, filter, detrending or
        dropping goes with it. ``""``: dmnpharm does the cleaning.
    """

    strategy: str
    gsr: bool = False
    n_compcor: int | None = None
    fd_threshold: float | None = None
    std_dvars_threshold: float | None = None
    min_segment: int = 0
    min_remaining: int | float | None = None
    high_pass: float | None = None
    low_pass: float | None = None
    detrend: bool = True
    drop_nonsteady: bool = True
    done_by: str = ""

    @classmethod
    def external(cls, done_by: str) -> DenoiseConfig:
        """Return the configuration of signals another pipeline has already denoised.

        Parameters
        ----------
        done_by : str
            The pipeline and its version, e.g. ``"XCP-D 0.10.6"``.

        Returns
        -------
        DenoiseConfig
            Strategy ``none``: no regression, censoring, filter, detrending or
            dropping; :meth:`describe` says who denoised.
        """
        return cls("none", detrend=False, drop_nonsteady=False, done_by=done_by)

    def __post_init__(self) -> None:
        """Fold ``+gsr`` into ``gsr`` and check every value."""
        if not isinstance(self.strategy, str):
            raise InputError(f"strategy must be a string; got {self.strategy!r}")
        check_option("strategy", self.strategy, STRATEGIES)
        for name in ("gsr", "detrend", "drop_nonsteady"):
            if not isinstance(getattr(self, name), bool):
                raise InputError(f"{name} must be True or False; got {getattr(self, name)!r}")
        base, _, suffix = self.strategy.partition("+")
        if suffix or base == "36p":
            object.__setattr__(self, "gsr", True)
        object.__setattr__(self, "strategy", base)
        if self.n_compcor is not None:
            if base != "acompcor":
                raise InputError(
                    f"n_compcor applies to the acompcor strategy only; strategy is {base!r} "
                    "(leave n_compcor as None)"
                )
            if not _is_int(self.n_compcor) or self.n_compcor < 1:
                raise InputError(
                    f"n_compcor must be a positive integer or None; got {self.n_compcor!r}"
                )
        _check_positive("fd_threshold", self.fd_threshold)
        _check_positive("std_dvars_threshold", self.std_dvars_threshold)
        _check_positive("high_pass", self.high_pass)
        _check_positive("low_pass", self.low_pass)
        if (
            self.high_pass is not None
            and self.low_pass is not None
            and self.high_pass >= self.low_pass
        ):
            raise InputError(
                f"high_pass ({self.high_pass} Hz) must be below low_pass ({self.low_pass} Hz)"
            )
        if not _is_int(self.min_segment) or self.min_segment < 0:
            raise InputError(
                f"min_segment must be a non-negative integer; got {self.min_segment!r}"
            )
        self._check_min_remaining()
        cleaned = (
            self.strategy != "none"
            or self.gsr
            or self.detrend
            or self.drop_nonsteady
            or self.min_segment
            or any(
                v is not None
                for v in (
                    self.fd_threshold,
                    self.std_dvars_threshold,
                    self.min_remaining,
                    self.high_pass,
                    self.low_pass,
                )
            )
        )
        if self.done_by and cleaned:
            raise InputError(
                f"these signals were denoised by {self.done_by}; dmnpharm does not clean them "
                "again: leave the strategy, censoring and filter options at their defaults"
            )

    def _check_min_remaining(self) -> None:
        value = self.min_remaining
        if value is None:
            return
        if _is_int(value):
            if value < 1:
                raise InputError(f"min_remaining as a volume count must be >= 1; got {value}")
        elif isinstance(value, float):
            if not 0 < value <= 1:
                raise InputError(
                    f"min_remaining as a fraction must be in (0, 1]; got {value!r} "
                    "(give an int for a number of volumes)"
                )
        else:
            raise InputError(
                f"min_remaining must be an int (volumes), a float (fraction) or None; "
                f"got {value!r}"
            )

    @classmethod
    def recommended(cls, strategy: str = "acompcor") -> DenoiseConfig:
        """Return a strategy with the recommended censoring and band-pass filter.

        Parameters
        ----------
        strategy : str
            One of :data:`STRATEGIES`. The default, ``acompcor``, gives
            :data:`DEFAULT_DENOISE`: anatomical CompCor with the realignment
            parameters and their derivatives (Behzadi et al. 2007; Muschelli
            et al. 2014), among the best-performing pipelines of Ciric et al.
            2017 and Parkes et al. 2018, without global signal regression in
            the primary analysis (the pipeline repeats it with GSR as a
            sensitivity analysis).

        Returns
        -------
        DenoiseConfig
            ``strategy`` with every setting of :data:`RECOMMENDED`.

        Examples
        --------
        >>> DenoiseConfig.recommended().fd_threshold
        0.5
        >>> DenoiseConfig.recommended("24p").name
        '24p'
        """
        return cls(strategy, **RECOMMENDED)

    @property
    def is_default(self) -> bool:
        """Whether this is dmnpharm's default denoising, :data:`DEFAULT_DENOISE`."""
        return self == DEFAULT_DENOISE

    @property
    def name(self) -> str:
        """Short label of the regressors, e.g. ``"24p+gsr"`` or ``"36p"``."""
        if self.gsr and self.strategy != "36p":
            return f"{self.strategy}+gsr"
        return self.strategy

    @property
    def filters(self) -> bool:
        """Whether a Butterworth filter is applied."""
        return self.high_pass is not None or self.low_pass is not None

    def to_dict(self) -> dict[str, Any]:
        """Return the fields and the name, ready for JSON provenance.

        Returns
        -------
        dict
            Every field under its own name, plus ``name``.
        """
        fields = asdict(self)
        if not self.done_by:  # absent unless set: records made before it keep their ids
            del fields["done_by"]
        return {"name": self.name, **fields}

    def min_volumes(self, n_volumes: int) -> int:
        """Return the number of volumes a run of ``n_volumes`` must keep.

        Parameters
        ----------
        n_volumes : int
            All volumes of the run.

        Returns
        -------
        int
            ``min_remaining`` as a count (a fraction rounded up); 0 when None.
        """
        value = self.min_remaining
        if value is None:
            return 0
        if isinstance(value, float):
            return math.ceil(value * n_volumes - 1e-9)
        return value

    def describe(self) -> str:
        """Render the configuration as a methods paragraph.

        Returns
        -------
        str
            Sentences naming the regressors, censoring, exclusion and filter,
            with the choices' sources, for reports and provenance.
        """
        if self.done_by:
            return (
                f"The time series had been denoised by {self.done_by} before dmnpharm read "
                "them; the volumes it censored were left out, and dmnpharm applied no "
                "further regression, censoring, detrending or filtering."
            )
        sentences = [f"Denoising strategy '{self.name}'."]
        if self.is_default:
            sentences[0] = (
                f"Denoising strategy '{self.name}' with censoring and a band-pass filter: "
                "dmnpharm's default, chosen from the benchmarks of denoising pipelines "
                "(Ciric et al. 2017; Parkes et al. 2018)."
            )
        sentences.append(self._describe_regressors())
        if self.strategy == "aroma":
            sentences.append(_AROMA_INPUT)
        if self.drop_nonsteady:
            sentences.append("Volumes flagged by fMRIPrep as non-steady-state were dropped.")
        else:
            sentences.append("Volumes flagged by fMRIPrep as non-steady-state were kept.")
        sentences.extend(self._describe_censoring())
        sentences.append(self._describe_filter())
        return " ".join(s for s in sentences if s)

    def _describe_regressors(self) -> str:
        if self.strategy == "none" and not self.gsr:
            return "No nuisance regressors were used."
        parts = []
        if self.strategy != "none":
            compcor = (
                "the aCompCor components of the combined white-matter and CSF mask that "
                f"together explain {COMPCOR_VARIANCE:.0%} of its variance, as fMRIPrep "
                "retains them"
                if self.n_compcor is None
                else f"the first {self.n_compcor} aCompCor components of the combined "
                "white-matter and CSF mask"
            )
            parts.append(_REGRESSION_WORDS[self.strategy].format(compcor=compcor))
        if self.gsr and self.strategy != "36p":
            if self.strategy == "24p":
                parts.append(
                    "the global signal with its temporal derivative and the squares of both "
                    "(4 regressors)"
                )
            else:
                parts.append("the global signal")
        return "Nuisance regressors: " + " and ".join(parts) + "."

    def _describe_censoring(self) -> list[str]:
        rules = []
        if self.fd_threshold is not None:
            rules.append(f"framewise displacement above {_number(self.fd_threshold)} mm")
        if self.std_dvars_threshold is not None:
            rules.append(f"standardised DVARS above {_number(self.std_dvars_threshold)}")
        segments = (
            f"runs of fewer than {self.min_segment} consecutive kept volumes (Power et al. 2014)"
            if self.min_segment > 0
            else ""
        )
        if rules:
            sentence = "Volumes with " + " or ".join(rules) + " were censored"
            if segments:
                sentence += f", and so were {segments}"
        elif segments:
            sentence = f"Volumes in {segments} were censored"
        else:
            sentence = ""
        if sentence:
            handling = (
                "left out of the nuisance regression and, for the filter only, replaced by a "
                "cubic-spline interpolation of the kept volumes"
                if self.filters
                else "left out of the detrending and the nuisance regression"
            )
            sentences = [f"{sentence}; censored volumes were {handling}."]
        else:
            sentences = ["No volumes were censored for motion."]
        if self.min_remaining is not None:
            amount = (
                f"{self.min_remaining:.0%} of their volumes"
                if isinstance(self.min_remaining, float)
                else f"{self.min_remaining} volumes"
            )
            sentences.append(f"Runs with fewer than {amount} remaining were excluded.")
        return sentences

    def _describe_filter(self) -> str:
        steps = ["linearly detrended"] if self.detrend else []
        order = f"zero-phase Butterworth of order {FILTER_ORDER}"
        if self.high_pass is not None and self.low_pass is not None:
            band = f"{_number(self.high_pass)}-{_number(self.low_pass)} Hz"
            steps.append(f"band-pass filtered ({band}, {order})")
        elif self.high_pass is not None:
            steps.append(f"high-pass filtered ({_number(self.high_pass)} Hz, {order})")
        elif self.low_pass is not None:
            steps.append(f"low-pass filtered ({_number(self.low_pass)} Hz, {order})")
        if not steps:
            return "The signals were neither detrended nor filtered."
        if self.strategy == "none" and not self.gsr:
            return f"The signals were {' and '.join(steps)}."
        orthogonal = (
            ", which keeps the filter and the regression orthogonal (Lindquist et al. 2019)"
            if self.filters
            else ""
        )
        return (
            f"The signals and the nuisance regressors were {' and '.join(steps)} before the "
            f"regression{orthogonal}."
        )


#: dmnpharm's default denoising: aCompCor with censoring and a 0.01-0.08 Hz
#: band-pass (:meth:`DenoiseConfig.recommended`). ``DenoiseConfig("none")``
#: uses the signals as provided.
DEFAULT_DENOISE = DenoiseConfig.recommended()
