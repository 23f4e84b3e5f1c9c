"""Supervised localisation: a light segmentation decoder over a fusion network's image
features, trained jointly with the network's task (multi-task learning).

:class:`LocalizingNet` wraps any fusion network of :mod:`skfusion.nn` that has an image path
(a :class:`~skfusion.nn.resnet.ResNet` as ``image_encoder``, or a
:class:`~skfusion.nn.slice_stack.SliceStackNet` around one). In each forward pass it taps the
encoder's feature pyramid (the input image, the stem before its pooling, stages 1-4) and
decodes it top-down, feature-pyramid style (Lin et al., 2017), with a U-Net-like skip from
the image itself for sharp borders, into one logit per input pixel (voxel). The task outputs
are unchanged: the wrapper returns ``(outputs, mask_logits)``.

The decoder reads image features only (the clinical values reach it through the encoder's
clinically guided blocks where the family has them); it has no normalisation layers, so a
batch of any size, including one sample, decodes the same way in training and inference.
"""

import inspect

import torch
from torch import nn

from ._checks import check_positive_int
from ._dims import CONV, check_spatial_dims

__all__ = ["LocalizingNet", "MaskDecoder", "segmentation_loss"]


class MaskDecoder(nn.Module):
    """Top-down decoder of a feature pyramid into mask logits at the finest level's size.

    Parameters
    ----------
    channels : sequence of int
        Channels of each level, finest first (the image, then coarser feature maps).
    width : int, default=16
        Channels of the decoder.
    spatial_dims : {2, 3}, default=2
    """

    def __init__(self, channels, width=16, spatial_dims=2):
        super().__init__()
        conv = CONV[check_spatial_dims(spatial_dims)]
        check_positive_int("width", width)
        self.lateral = nn.ModuleList(
            [
                conv(c, width, 3 if i == 0 else 1, padding=1 if i == 0 else 0)
                for i, c in enumerate(channels)
            ]
        )
        self.smooth = nn.ModuleList(
            [conv(width, width, 3, padding=1) for _ in range(len(channels) - 1)]
        )
        self.out = conv(width, 1, 1)
        self.mode = "trilinear" if spatial_dims == 3 else "bilinear"

    def forward(self, levels):
        """``levels`` finest first -> logits ``(n, 1, *finest spatial size)``."""
        x = self.lateral[-1](levels[-1])
        for index in range(len(levels) - 2, -1, -1):
            finer = levels[index]
            x = nn.functional.interpolate(
                x, size=finer.shape[2:], mode=self.mode, align_corners=False
            )
            x = torch.relu(self.smooth[index](x + self.lateral[index](finer)))
        return self.out(x)


class LocalizingNet(nn.Module):
    """A fusion network plus a segmentation head on its image encoder.

    Parameters
    ----------
    inner_class : type
        The fusion network (e.g. :class:`~skfusion.nn.ClinicalAttentionNet`, or
        :class:`~skfusion.nn.slice_stack.SliceStackNet`).
    decoder_width : int, default=16
        Channels of the :class:`MaskDecoder`.
    **inner_kwargs
        Arguments of ``inner_class``.

    Notes
    -----
    ``forward(**inputs)`` returns ``(outputs, mask_logits)``: the inner network's outputs and
    logits shaped like the masks, ``(n, H, W)`` for slices, ``(n, S, H, W)`` for slice stacks,
    ``(n, D, H, W)`` for volumes. A ``masks`` input (the training targets travelling with the
    batch) is ignored here; the loss reads it.
    """

    def __init__(self, inner_class, decoder_width=16, **inner_kwargs):
        super().__init__()
        self.inner = inner_class(**inner_kwargs)
        encoder = self.image_encoder
        if encoder is None:
            raise ValueError(
                f"{inner_class.__name__} built with {inner_kwargs.get('mode', '')!r} has no "
                "image path, so it cannot localise; fit without masks or use an image mode."
            )
        in_channels = encoder.stem[0].in_channels
        self.decoder = MaskDecoder(
            (in_channels, *encoder.pyramid_channels), decoder_width, encoder.spatial_dims
        )

    @property
    def image_encoder(self):
        """The ResNet whose features are decoded."""
        inner = getattr(self.inner, "net", self.inner)
        return getattr(inner, "image_encoder", None)

    @property
    def shortcut(self):
        return self.inner.shortcut

    def forward(
        self, images, clinical=None, tokens=None, masks=None, image_present=None, text_present=None
    ):
        encoder = self.image_encoder
        inputs = {"images": images, "clinical": clinical}
        reads = inspect.signature(self.inner.forward).parameters
        for name, value in (
            ("tokens", tokens),
            ("image_present", image_present),
            ("text_present", text_present),
        ):
            if value is not None and (name == "tokens" or name in reads):
                inputs[name] = value
        stacked = hasattr(self.inner, "slice_weights_out")
        # What the encoder sees: slice stacks enter it one slice per sample.
        seen = images.reshape(-1, 1, *images.shape[2:]) if stacked else images
        present = (
            None
            if image_present is None
            else image_present.bool().repeat_interleave(images.shape[1] if stacked else 1)
        )
        encoder.taps = taps = [seen]
        try:
            outputs = self.inner(**inputs)
        finally:
            encoder.taps = None
        if len(taps) == 1:  # the encoder read no sample (none present: skfusion.nn.presence)
            logits = seen.new_zeros((seen.shape[0], 1, *seen.shape[2:]))
        elif taps[1].shape[0] != seen.shape[0]:
            # The encoder read only the samples with an image (training): decode those.
            positions = torch.nonzero(present).flatten()
            taps[0] = seen.index_select(0, positions)
            decoded = self.decoder(taps)
            logits = decoded.new_zeros((seen.shape[0], *decoded.shape[1:])).index_copy(
                0, positions, decoded
            )
        else:
            logits = self.decoder(taps)  # (n or n * S, 1, *spatial)
        return outputs, (logits.reshape(images.shape) if stacked else logits[:, 0])


def segmentation_loss(logits, masks, keep=None, smooth=1.0):
    """Binary cross-entropy plus soft Dice loss (as MONAI's DiceCELoss combines them), per
    sample, averaged over the batch. ``keep`` (bool, one per sample) leaves samples out
    (those whose image modality dropout removed): they count as zero, so the loss stays a
    plain mean over the batch's samples, which is what lets a data-parallel fit weight each
    process's shard by its share of the batch. Empty masks are allowed: the smoothing makes
    an empty prediction of an empty mask score a Dice of 1."""
    logits = logits.float().flatten(1)
    masks = masks.to(logits.dtype).flatten(1)
    bce = nn.functional.binary_cross_entropy_with_logits(logits, masks, reduction="none").mean(
        dim=1
    )
    probabilities = torch.sigmoid(logits)
    overlap = (probabilities * masks).sum(dim=1)
    total = probabilities.sum(dim=1) + masks.sum(dim=1)
    dice = (2 * overlap + smooth) / (total + smooth)
    per_sample = bce + (1 - dice)
    if keep is not None:
        per_sample = per_sample * keep.to(per_sample.dtype)
    return per_sample.mean()
