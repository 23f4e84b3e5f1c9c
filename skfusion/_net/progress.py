"""Progress bars (tqdm) for long work when ``verbose >= 2`` and a person is watching: on a
terminal, never in a log file or under ``verbose=0`` / ``1`` (which print lines, or nothing)."""

import sys

__all__ = ["progress", "wants_bars"]


def _is_terminal():
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty and isatty())


def wants_bars(verbose):
    """Whether to draw bars: ``verbose >= 2`` and standard error is a terminal."""
    return int(verbose or 0) >= 2 and _is_terminal()


def progress(iterable, *, verbose, desc, total=None):
    """``iterable`` with a tqdm bar where :func:`wants_bars`, else unchanged."""
    if not wants_bars(verbose):
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, total=total, leave=False)
