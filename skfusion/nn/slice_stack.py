"""Slice stacks: one patient's S slices read by a shared 2-D fusion network, pooled across
slices (mean, or attention-based multiple-instance pooling)."""

import torch
from torch import nn

from ._checks import check_option, check_positive_int

__all__ = ["GatedAttentionPooling", "POOLINGS", "SliceStackNet"]

POOLINGS = ("mean", "attention")


class GatedAttentionPooling(nn.Module):
    """Gated attention over instances (Ilse, Tomczak & Welling, ICML 2018): per instance
    ``h_k``, ``a_k = softmax_k(w^T (tanh(V h_k) * sigmoid(U h_k)))``; the bag is
    ``sum_k a_k h_k``. Returns the pooled vector and the weights ``a`` (which slices
    mattered)."""

    def __init__(self, in_features, hidden=64):
        super().__init__()
        check_positive_int("in_features", in_features)
        check_positive_int("hidden", hidden)
        self.value = nn.Linear(in_features, hidden)
        self.gate = nn.Linear(in_features, hidden)
        self.score = nn.Linear(hidden, 1)

    def forward(self, instances):
        """``instances`` (n, S, d) -> pooled (n, d), weights (n, S)."""
        hidden = torch.tanh(self.value(instances)) * torch.sigmoid(self.gate(instances))
        weights = torch.softmax(self.score(hidden).squeeze(-1), dim=1)
        return (weights.unsqueeze(-1) * instances).sum(dim=1), weights


class SliceStackNet(nn.Module):
    """Read images ``(n, S, H, W)`` as S slices of each patient.

    Every slice goes through the same 2-D fusion network (``net_class``, built with one input
    channel) up to its fused features (``forward_features``), with the patient's clinical
    values (and report tokens) guiding every slice; the slices' features are pooled (mean, or
    gated attention) into one vector per patient, which the network's head reads
    (``forward_head``). The clinical shortcut, when the network has one, is added once per
    patient.

    Parameters
    ----------
    net_class : type
        A fusion network of :mod:`skfusion.nn` (``forward_features`` / ``forward_head``).
    pooling : {"mean", "attention"}, default="mean"
    attention_dim : int, default=64
        Hidden width of the attention pooling.
    **net_kwargs
        Arguments of ``net_class`` (``in_channels`` is 1: one slice at a time).

    Notes
    -----
    The pooling weights of the last forward pass go through ``self.slice_weights_out`` (an
    identity, for hooks): shape ``(n, S)``, each row summing to 1.
    """

    def __init__(self, net_class, pooling="mean", attention_dim=64, **net_kwargs):
        super().__init__()
        self.pooling = check_option("pooling", pooling, POOLINGS)
        self.net = net_class(**{**net_kwargs, "in_channels": 1})
        width = self.net.head.in_features
        self.attention = (
            GatedAttentionPooling(width, attention_dim) if pooling == "attention" else None
        )
        self.slice_weights_out = nn.Identity()

    @property
    def shortcut(self):
        return self.net.shortcut

    def forward(self, images, clinical=None, tokens=None, image_present=None, text_present=None):
        n, slices = images.shape[:2]
        flat = images.reshape(n * slices, 1, *images.shape[2:])

        def every_slice(values):
            return None if values is None else values.repeat_interleave(slices, dim=0)

        inputs = [flat, every_slice(clinical)]
        if tokens is not None:
            inputs.append(every_slice(tokens))
        # A patient without an image: every slice gets the stand-in, and so does the pool.
        present = {"image_present": every_slice(image_present)}
        if text_present is not None:
            present["text_present"] = every_slice(text_present)
        features = self.net.forward_features(*inputs, **present)
        features = features.reshape(n, slices, -1)
        if self.attention is None:
            pooled = features.mean(dim=1)
            weights = torch.full(
                (n, slices), 1.0 / slices, device=features.device, dtype=features.dtype
            )
        else:
            pooled, weights = self.attention(features)
        self.slice_weights_out(weights)
        return self.net.output(pooled, clinical)
