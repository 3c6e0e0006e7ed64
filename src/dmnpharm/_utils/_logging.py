"""The package logger. The library logs; only the CLI adds handlers."""

from __future__ import annotations

import logging

__all__ = ["LOGGER_NAME", "get_logger"]

LOGGER_NAME = "dmnpharm"


def get_logger(name: str | None = None) -> logging.Logger:
    """Return the package logger or one of its children.

    Parameters
    ----------
    name : str or None
        Child name (e.g. ``"run"``); ``None`` gives the package logger itself.

    Returns
    -------
    logging.Logger
        A logger under ``dmnpharm``; no handler is attached here.
    """
    return logging.getLogger(LOGGER_NAME if name is None else f"{LOGGER_NAME}.{name}")
