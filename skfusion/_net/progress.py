"""Progress bars (tqdm) for long work when ``verbose >= 2`` and a person is watching: on a
terminal, never in a log file or under ``verbose=0`` / ``1`` (which print lines, or nothing)."""

import re
import sys

__all__ = ["plain_print", "progress", "wants_bars"]

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def plain_print(*args, **kwargs):
    """``print`` for the epoch table: skorch colours its columns with ANSI codes, which a
    log file or a pipe shows as raw escapes, so they are removed unless standard output is
    a terminal."""
    isatty = getattr(sys.stdout, "isatty", None)
    if not (isatty and isatty()):
        args = tuple(_ANSI.sub("", a) if isinstance(a, str) else a for a in args)
    print(*args, **kwargs)


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
