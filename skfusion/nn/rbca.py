"""The Residual Block with Clinical Attention (RBCA) of Yang et al., section 2.2 and Fig. 2.

The paper: the block's input image features are reduced to half the width by *one* 1x1
convolution (``R``); the Clinical Attention Module (CAM) projects the clinical features to
the channels of ``R`` with a kernel-1 convolution (a linear layer on a vector), multiplies
each channel of ``R`` by its clinical value, averages each product map (global average
pooling, eq. 1) and turns that per-channel similarity into a channel weight; ``CAM(R)`` and
``R`` are concatenated back to the full width and pass through *two* convolution layers,
and the residual is added. Halving first keeps the concatenation at the block's width, so an
RBCA costs about as much as the block it replaces.

What the paper leaves open, and what we chose (see :class:`RBCAFront`):

* The block is a bottleneck block in ResNet50. We read "reduce by half" inside it: its first
  1x1 convolution reduces to *half of the block's inner width*, ``[CAM(R), R]`` restores the
  inner width, and the bottleneck's 3x3 and 1x1 convolutions are the "two layers". For the
  basic blocks of ResNet18/34, the 1x1 reduction is added in front, and the block's two 3x3
  convolutions are the two layers.
* The reduction is ``conv1x1 -> norm -> ReLU`` (as every convolution in ResNet).
* The clinical projection is ``Linear -> BatchNorm1d`` *without* ReLU, and the weight is
  ``sigmoid(GAP(R * t))``: ``t`` takes both signs, so a channel can be suppressed (weight
  below 0.5) as well as kept (above 0.5). A ReLU after the projection would keep every weight
  at or above 0.5 (then the attention can at most halve a channel).
* Every block of stages 2-4 is an RBCA ("the last three blocks of ResNet" read as stages).
* How the attention starts (``start``; the paper does not say): ``"paper"`` initialises the
  projection as every layer (He weights, a unit-scale normalisation), so from the first step
  each patient's clinical values scale each channel by a random factor in (0, 1), noise on
  the image path wherever the table says little. ``"neutral"`` starts the projection's
  normalisation at a zero scale (as ResNets zero-initialise the last normalisation of a
  residual branch): ``t = 0``, every weight is 0.5 for every patient, the block begins as the
  plain block and training learns how far to trust the table. Only the starting point
  differs; the network, its parameters and its model files are the same.
* Where the attention sits (``form``; for basic blocks the paper's block needs a reduction it
  does not have): ``"paper"`` is the reading above, a 1x1 reduction in front of the block and
  ``[CAM(R), R]`` into its two convolutions (:class:`RBCAFront`). ``"inner"`` keeps the plain
  block and puts the CAM on its first convolution's output (after norm and ReLU), the one
  place where a block already has its features at its inner width: ``R`` is the first half
  of those channels (so the CAM still acts on half of the block's width, and the other half
  passes as is, as ``R`` does in ``[CAM(R), R]``), and the weights are ``2 *
  sigmoid(GAP(R * t))``, centred at 1, so that with the neutral start the block *is* the
  plain block until training moves ``t`` (:class:`RBCAInner`). Nothing is squeezed through a
  reduction the plain block does not have, and the block costs what the plain block costs
  plus the projection.
"""

import torch
from torch import nn

from ._checks import check_option, check_positive_int
from ._dims import CONV, check_spatial_dims, default_norm, global_average, per_channel

#: How the clinical attention starts (see the module docstring).
STARTS = ("paper", "neutral")
#: Where the clinical attention sits in a block (see the module docstring).
FORMS = ("paper", "inner")


class CentredSigmoid(nn.Module):
    """``2 * sigmoid(x)``: weights in (0, 2) that are 1 where ``x`` is 0."""

    def forward(self, x):
        return 2.0 * torch.sigmoid(x)


class ClinicalChannelAttention(nn.Module):
    """The Clinical Attention Module: clinically guided channel weights of a feature map.

    ``a = sigmoid(GAP(R * t))`` with ``t = BN(W c)`` the clinical features projected to the
    channels of ``R``; returns ``R * a``.

    Parameters
    ----------
    channels : int
        Channels of ``R``.
    clinical_dim : int
        Size of the clinical feature vector.
    start : {"paper", "neutral"}, default="paper"
        How the weights start (see the module docstring): the paper's initialisation, or
        0.5 for every channel and patient until training moves them (1 when ``centred``).
    centred : bool, default=False
        Weights ``2 * sigmoid(GAP(R * t))`` (centred at 1, the ``"inner"`` form) instead of
        the paper's ``sigmoid(GAP(R * t))``.

    Notes
    -----
    The weights pass through ``self.gate`` (a ``Sigmoid`` module), so a forward hook on it
    reads them with shape ``(n_samples, channels)``.
    """

    def __init__(self, channels, clinical_dim, start="paper", centred=False):
        super().__init__()
        check_positive_int("channels", channels)
        check_positive_int("clinical_dim", clinical_dim)
        self.start = check_option("start", start, STARTS)
        self.channels = channels
        self.centred = bool(centred)
        # A kernel-1 convolution on a vector is a linear layer; no ReLU, so t takes both signs.
        self.clinical_projection = nn.Sequential(
            nn.Linear(clinical_dim, channels), nn.BatchNorm1d(channels)
        )
        self.gate = CentredSigmoid() if self.centred else nn.Sigmoid()

    def post_init_(self, generator=None):
        """After :func:`~skfusion.nn.init.he_init_`: with ``start="neutral"``, the
        projection's normalisation starts at a zero scale (``t = 0``: every weight 0.5, or 1
        when centred)."""
        if self.start == "neutral":
            torch.nn.init.zeros_(self.clinical_projection[1].weight)

    def forward(self, reduced, clinical):
        """Return ``reduced * sigmoid(GAP(reduced * t))`` (twice the sigmoid when centred)."""
        if clinical is None:
            raise ValueError("ClinicalChannelAttention needs clinical features; got clinical=None.")
        projected = self.clinical_projection(clinical)
        pooled = global_average(reduced)
        # GAP(R * t) = t * GAP(R), since t is constant over positions.
        weights = self.gate(pooled * projected)
        return reduced * per_channel(weights, reduced)


class RBCAFront(nn.Module):
    """The front of an RBCA: one 1x1 reduction to half of ``width``, then ``[CAM(R), R]``.

    Parameters
    ----------
    in_channels : int
        Channels of the block's input.
    width : int
        Inner width of the block (even); the output has ``width`` channels.
    clinical_dim : int
        Size of the clinical feature vector.
    norm_layer : callable or None, default=None
        Normalisation after the reduction (None: batch normalisation of ``spatial_dims``).
    spatial_dims : {2, 3}, default=2
    start : {"paper", "neutral"}, default="paper"
        How the attention starts (:class:`ClinicalChannelAttention`).
    """

    def __init__(
        self, in_channels, width, clinical_dim, norm_layer=None, spatial_dims=2, start="paper"
    ):
        super().__init__()
        spatial_dims = check_spatial_dims(spatial_dims)
        norm_layer = default_norm(norm_layer, spatial_dims)
        check_positive_int("in_channels", in_channels)
        check_positive_int("width", width, minimum=2)
        if width % 2:
            raise ValueError(f"width must be even so that it can be halved; got {width}.")
        half = width // 2
        self.out_channels = width
        self.reduce = nn.Sequential(
            CONV[spatial_dims](in_channels, half, kernel_size=1, bias=False),
            norm_layer(half),
            nn.ReLU(inplace=True),
        )
        self.attention = ClinicalChannelAttention(half, clinical_dim, start)

    def forward(self, images, clinical):
        """Return ``cat([CAM(R), R], dim=1)`` with ``R`` the reduced input."""
        reduced = self.reduce(images)
        return torch.cat([self.attention(reduced, clinical), reduced], dim=1)


class RBCAInner(nn.Module):
    """The ``"inner"`` form of an RBCA: the CAM on half of a block's first-convolution output.

    ``forward(features, clinical)`` takes the block's first convolution's output (after its
    norm and ReLU), ``width`` channels, and returns ``[CAM(R), rest]`` with ``R`` its first
    ``width // 2`` channels and centred weights ``2 * sigmoid(GAP(R * t))``. With the neutral
    start every weight is 1 and the block is the plain block.

    Parameters
    ----------
    width : int
        Channels of the block's first convolution (at least 2).
    clinical_dim : int
        Size of the clinical feature vector.
    start : {"paper", "neutral"}, default="neutral"
        How the attention starts (:class:`ClinicalChannelAttention`).
    """

    def __init__(self, width, clinical_dim, start="neutral"):
        super().__init__()
        check_positive_int("width", width, minimum=2)
        self.half = width // 2
        self.out_channels = width
        self.attention = ClinicalChannelAttention(self.half, clinical_dim, start, centred=True)

    def forward(self, features, clinical):
        """Return ``cat([CAM(R), rest], dim=1)`` with ``R`` the first half of ``features``."""
        reduced, rest = features[:, : self.half], features[:, self.half :]
        return torch.cat([self.attention(reduced, clinical), rest], dim=1)
