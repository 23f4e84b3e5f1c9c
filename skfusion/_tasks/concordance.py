"""Harrell's concordance index, computed by lifelines when it is installed.

lifelines (MIT; ``pip install 'skfusion[survival]'``) is the maintained implementation we
defer to. So that a survival estimator's ``score`` also works without it, the same
definition is computed here in numpy when lifelines is missing; tests check that both give
the same value.
"""

import numpy as np

__all__ = ["harrell_c"]


def harrell_c(time, event, risk):
    """Harrell's C of ``risk`` (higher = earlier event) for ``time`` and ``event``: among pairs
    whose shorter time is an event (a censored time equal to an event time counts as the
    longer one), the share ordered correctly by risk (ties in risk count one half)."""
    time = np.asarray(time, dtype=np.float64)
    event = np.asarray(event, dtype=bool)
    risk = np.asarray(risk, dtype=np.float64)
    if not event.any():
        raise ValueError("the concordance index needs at least one event; y has none.")
    try:
        from lifelines.utils import concordance_index
    except ImportError:
        return _harrell_c_numpy(time, event, risk)
    return float(concordance_index(time, -risk, event))


def _harrell_c_numpy(time, event, risk, chunk=2048):
    concordant = 0.0
    comparable = 0
    rows = np.flatnonzero(event)
    for start in range(0, len(rows), chunk):
        i = rows[start : start + chunk]
        # Pairs (i, j) with i an event and time_i < time_j, or time_i == time_j with j
        # censored (j was still at risk at time_i), are comparable.
        later = (time[None, :] > time[i, None]) | (
            (time[None, :] == time[i, None]) & ~event[None, :]
        )
        comparable += int(later.sum())
        higher = risk[i, None] > risk[None, :]
        same = risk[i, None] == risk[None, :]
        concordant += float((later & higher).sum()) + 0.5 * float((later & same).sum())
    if comparable == 0:
        raise ValueError(
            "the concordance index needs a pair whose shorter time is an event; y has none."
        )
    return concordant / comparable
