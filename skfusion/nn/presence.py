"""Samples without an image (or a report): the encoder reads only the samples that have one,
and a learned stand-in takes the place of the others' features.

A missing modality is never an image of zeros: a network that read zeros would see a very
unusual image. Instead each fusion network passes its encoder through
:func:`encode_present` with a boolean ``present`` mask (one entry per sample), and the
features of an absent sample are its :class:`StandIn`: a learned linear function of the
sample's clinical values (so the clinical information still reaches the decision in networks
where it acts only through the image path, FiLM and DAFT) or a learned constant where the
network reads no clinical values. What sits in an absent sample's image slot never reaches
its output.

In training, the encoder runs on the present samples only (their batch statistics are not
mixed with placeholders); in evaluation, where normalisation uses running statistics and
samples do not interact, it runs on the whole batch and the stand-in is selected per sample,
so an exported graph has no data-dependent shapes. A training batch with fewer than two
present samples also takes the whole-batch path (batch normalisation needs two).

Within :func:`present_only` (the precise batch-normalisation pass after training), the
encoder reads the present samples only in any mode, and not at all where fewer than two of
the batch's samples are present: statistics gathered there describe real images only.
"""

import contextlib
import threading

import torch
from torch import nn

from ._checks import check_positive_int

__all__ = ["STAND_INS", "StandIn", "encode_present", "present_only", "stand_in_for"]

_STATE = threading.local()


@contextlib.contextmanager
def present_only():
    """Within this block (in the calling thread), :func:`encode_present` never lets the
    encoder read an absent sample's slot, whatever the module's mode: the encoder runs on
    the present samples alone, or not at all where fewer than two are present (their
    features are then the stand-ins'). Used by the pass that recomputes batch-normalisation
    statistics after training, so that no placeholder enters them."""
    previous = getattr(_STATE, "present_only", False)
    _STATE.present_only = True
    try:
        yield
    finally:
        _STATE.present_only = previous


#: The attribute names of the stand-ins a fusion network may hold.
STAND_INS = ("missing_image", "missing_text")


class StandIn(nn.Module):
    """The features of a sample whose modality is missing: ``clinical @ weight + bias``, or
    ``bias`` alone for a network that reads no clinical values.

    Both start at zero (not drawn, so adding a stand-in leaves every other layer's
    initialisation unchanged): an absent image first contributes nothing, and training
    learns what to put in its place.

    Parameters
    ----------
    width : int
        Size of the replaced feature vector.
    n_clinical : int, default=0
        Clinical values per sample the stand-in reads (0: a constant).
    """

    def __init__(self, width, n_clinical=0):
        super().__init__()
        check_positive_int("width", width)
        self.bias = nn.Parameter(torch.zeros(width))
        self.weight = nn.Parameter(torch.zeros(n_clinical, width)) if n_clinical else None

    def forward(self, n, clinical=None):
        """The stand-in features of ``n`` samples, shape ``(n, width)``."""
        if self.weight is not None and clinical is not None:
            return clinical.to(self.weight.dtype) @ self.weight + self.bias
        return self.bias.expand(n, -1)


def encode_present(encode, inputs, present, stand_in, training):
    """``encode(*inputs)`` for the samples whose modality is present, ``stand_in`` (an
    ``(n, width)`` tensor) for the others.

    Parameters
    ----------
    encode : callable
        Maps the inputs of some samples to their features ``(k, width)``.
    inputs : tuple of tensor or None
        One-row-per-sample tensors (None entries pass through).
    present : bool tensor of shape (n,) or None
        None: every sample has the modality.
    stand_in : tensor of shape (n, width) or None
        The absent samples' features (needed when ``present`` has a False).
    training : bool
        The module's mode: training encodes the present samples only (at least two).
    """
    if present is None or stand_in is None:
        return encode(*inputs)
    present = present.bool()
    only_present = getattr(_STATE, "present_only", False)
    if training or only_present:  # (no data-dependent shapes outside training and that
        positions = torch.nonzero(present).flatten()  # pass: exported graphs trace this)
        if 2 <= positions.numel() < present.shape[0]:
            encoded = encode(*(None if x is None else x.index_select(0, positions) for x in inputs))
            return stand_in.to(encoded.dtype).index_copy(0, positions, encoded)
        if only_present and positions.numel() < 2:
            return stand_in
    encoded = encode(*inputs)
    return torch.where(present.view(-1, 1), encoded, stand_in.to(encoded.dtype))


def stand_in_for(module, name, present, n, clinical=None):
    """The ``(n, width)`` stand-in features of ``module``'s ``name`` stand-in, or None when no
    mask was given. A module built before stand-ins existed (an old pickle or model file)
    has none: then a mask with an absent sample is refused, with the remedy."""
    if present is None:
        return None
    stand_in = getattr(module, name, None)
    if stand_in is None and bool(present.all()):
        return None
    if stand_in is None:
        raise ValueError(
            f"this {type(module).__name__} was built before skfusion handled missing "
            "modalities, so it cannot predict for samples without one; refit the model "
            "(or pass only complete samples)."
        )
    return stand_in(n, clinical)
