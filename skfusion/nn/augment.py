"""Training-time transforms of whole batches, drawn from a local ``torch.Generator``.

Two remedies for fusion networks trained on few subjects:

* :func:`random_affine` — small random rotations, scalings and shifts, left-right flips and
  intensity gains of image batches (the image path otherwise memorises a few hundred
  training slices within a few epochs);
* :func:`drop_modalities` — modality dropout: for a share of the samples, the image or the
  non-image inputs (clinical values, report tokens) are replaced by zeros, so the network
  must learn to decide from each modality alone, instead of relying greedily on whichever
  modality fits the training set fastest (Wu et al., ICML 2022, "Characterizing and
  overcoming the greedy nature of learning in multi-modal deep neural networks").

Every draw comes from the ``generator`` passed in, never from torch's global one.
"""

import math

import torch
from torch import nn

__all__ = ["drop_modalities", "random_affine"]


def random_affine(images, generator, *, degrees=8.0, scale=0.08, shift=0.06, flip=True,
                  gain=0.1, masks=None):
    """Return a randomly transformed copy of ``images`` (``(n, C, H, W)``, or volumes
    ``(n, C, D, H, W)``).

    Each sample gets its own rotation in ``[-degrees, degrees]``, isotropic scaling in
    ``[1 - scale, 1 + scale]``, shift of up to ``shift`` of the image size per axis, a
    left-right flip with probability 0.5 (if ``flip``) and an intensity gain in
    ``[1 - gain, 1 + gain]``; sampled (tri)linearly with border padding. Volumes rotate in
    the plane of their last two axes (each slice alike) and shift along all three.

    With ``masks`` (the samples' region masks: the images' shape, or that shape without the
    channel axis) the same geometric transform moves the masks (bilinearly, zero outside;
    no gain) and ``(images, masks)`` is returned.
    """
    n = images.shape[0]
    volume = images.dim() == 5

    def uniform(low, high, size=(n,)):
        return low + (high - low) * torch.rand(size, generator=generator)

    angle = uniform(-degrees, degrees) * math.pi / 180
    factor = 1.0 / uniform(1 - scale, 1 + scale)
    offset = uniform(-2 * shift, 2 * shift, (n, 3 if volume else 2))  # grid spans 2
    mirror = torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0) if flip \
        else torch.ones(n)
    gains = uniform(1 - gain, 1 + gain)
    cos, sin = torch.cos(angle) * factor, torch.sin(angle) * factor
    if volume:  # grid coordinates (x, y, z) = (W, H, D): rotate x-y, flip x, scale all
        zero = torch.zeros(n)
        rows = [[cos * mirror, -sin, zero, offset[:, 0]],
                [sin * mirror, cos, zero, offset[:, 1]],
                [zero, zero, factor, offset[:, 2]]]
    else:
        rows = [[cos * mirror, -sin, offset[:, 0]], [sin * mirror, cos, offset[:, 1]]]
    theta = torch.stack([torch.stack(row, dim=1) for row in rows], dim=1)
    theta = theta.to(device=images.device, dtype=images.dtype)
    grid = nn.functional.affine_grid(theta, list(images.shape), align_corners=False)
    out = nn.functional.grid_sample(images, grid, mode="bilinear", padding_mode="border",
                                    align_corners=False)
    gains = gains.to(device=images.device, dtype=images.dtype)
    out = out * gains.view(n, *([1] * (images.dim() - 1)))
    if masks is None:
        return out
    squeeze = masks.dim() < images.dim()
    moved = nn.functional.grid_sample(
        (masks.unsqueeze(1) if squeeze else masks).to(grid.dtype), grid, mode="bilinear",
        padding_mode="zeros", align_corners=False)
    return out, moved[:, 0] if squeeze else moved


def drop_modalities(inputs, probability, generator):
    """Return ``inputs`` (a dict with "images" and "clinical", maybe "tokens") where each
    sample, with ``probability``, has either its image or its non-image inputs (equally
    likely) replaced by zeros; the other modality is always kept."""
    if probability <= 0:
        return inputs
    images = inputs["images"]
    n = images.shape[0]
    dropped = torch.rand(n, generator=generator) < probability
    image_side = torch.rand(n, generator=generator) < 0.5
    drop_image = (dropped & image_side).to(images.device)
    drop_other = (dropped & ~image_side).to(images.device)
    out = dict(inputs)
    out["images"] = images * (~drop_image).to(images.dtype).view(n, *([1] * (images.dim() - 1)))
    for name in ("clinical", "tokens"):
        value = inputs.get(name)
        if value is not None and value.numel():
            keep = (~drop_other).to(value.dtype).view(n, *([1] * (value.dim() - 1)))
            out[name] = value * keep
    return out
