"""Losses for time-to-event outputs: the negative Cox partial log-likelihood (DeepSurv)."""

import torch
from torch import nn

__all__ = ["CoxPHLoss", "cox_partial_log_likelihood", "TIES"]

TIES = ("efron", "breslow")


def cox_partial_log_likelihood(log_risk, time, event, ties="efron"):
    """Mean Cox partial log-likelihood per event of ``log_risk`` (n,) given ``time`` (n,) and
    ``event`` (n,) (1 = event, 0 = censored), with tied event times handled by Efron's or
    Breslow's approximation. Returns 0 (with a gradient of 0) when there is no event.

    The risk set of an event at time t holds every sample of the batch with time >= t, so on
    mini-batches this is the partial likelihood of the batch (as DeepSurv trains); larger
    batches give a less noisy estimate.
    """
    if ties not in TIES:
        raise ValueError(f"ties must be one of {TIES}; got {ties!r}.")
    log_risk = log_risk.reshape(-1).float()
    time = time.reshape(-1).float()
    event = event.reshape(-1).float()
    n_events = event.sum()
    if n_events == 0:
        return log_risk.sum() * 0.0
    order = torch.argsort(time, descending=True, stable=True)
    risk, time, event = log_risk[order], time[order], event[order]
    shift = risk.max().detach()
    exp_risk = torch.exp(risk - shift)
    # Each tie group (equal times, consecutive after sorting) shares one risk set: every
    # sample up to the group's last position.
    _, group, counts = torch.unique_consecutive(time, return_inverse=True, return_counts=True)
    last = torch.cumsum(counts, 0) - 1
    risk_set = torch.cumsum(exp_risk, 0)[last]  # per group
    if ties == "breslow":
        log_denominator = torch.log(risk_set)[group]
    else:
        n_groups = len(counts)
        tied_events = torch.zeros(n_groups, dtype=exp_risk.dtype, device=exp_risk.device)
        tied_events = tied_events.index_add(0, group, exp_risk * event)
        group_events = torch.zeros(n_groups, dtype=event.dtype, device=event.device)
        group_events = group_events.index_add(0, group, event)
        # Rank of each event among its group's events: 0, 1, ..., d - 1.
        events_so_far = torch.cumsum(event, 0) - event
        first = last - counts + 1
        rank = events_so_far - events_so_far[first][group]
        share = rank / group_events[group].clamp(min=1)
        denominator = risk_set[group] - share * tied_events[group]
        log_denominator = torch.log(denominator.clamp(min=torch.finfo(denominator.dtype).tiny))
    log_likelihood = ((risk - shift - log_denominator) * event).sum()
    return log_likelihood / n_events


class CoxPHLoss(nn.Module):
    """Negative Cox partial log-likelihood of log-risk outputs ``(n, 1)`` against targets
    ``(n, 2)`` holding (time, event).

    Parameters
    ----------
    ties : {"efron", "breslow"}, default="efron"
        Approximation for tied event times (Efron's is closer to the exact likelihood).
    """

    def __init__(self, ties="efron"):
        super().__init__()
        if ties not in TIES:
            raise ValueError(f"ties must be one of {TIES}; got {ties!r}.")
        self.ties = ties

    def forward(self, log_risk, target):
        return -cox_partial_log_likelihood(log_risk, target[:, 0], target[:, 1], self.ties)
