"""Allow ``python -m dmnpharm``; :func:`console_main` is also the console script."""

from __future__ import annotations

import gc
import sys

from dmnpharm._utils._blas import default_to_one_blas_thread


def console_main() -> int:
    """Run the ``dmnpharm`` command on ``sys.argv``; return its exit code.

    Two things only a whole process may do, around :func:`dmnpharm.cli.main`:

    - Before NumPy loads, one BLAS thread becomes the default unless the user
      set a number (:func:`~dmnpharm._utils._blas.default_to_one_blas_thread`):
      dmnpharm's parallelism is across processes and its engines' own threads,
      and OpenBLAS's idle helper threads spun for 0.6 s of CPU in a demo.
    - Before the interpreter exits, the objects left are frozen
      (:func:`gc.freeze`), so its final garbage collections do not walk them
      all: 0.2 s after a demo, 0.05 s with the freeze. Every file is closed by
      then; objects are still freed and finalizers still run.

    Returns
    -------
    int
        The command's exit code (see :func:`dmnpharm.cli.main`).
    """
    default_to_one_blas_thread()
    from dmnpharm.cli import main

    try:
        return main()
    finally:
        gc.freeze()


if __name__ == "__main__":
    sys.exit(console_main())
