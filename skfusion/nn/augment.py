"""Training-time transforms of whole batches, drawn from a local ``torch.Generator``.

Two remedies for fusion networks trained on few subjects:

* :func:`random_affine` — small random rotations, scalings and shifts, intensity gains and
  (only where asked) left-right flips of image batches (the image path otherwise memorises a
  few hundred training slices within a few epochs); :func:`augmentation_policy` turns an
  estimator's ``augment`` value (``"auto"``, ``True``, ``False``, a dict of ranges, or a
  callable) into the transform a training step applies;
* :func:`drop_modalities` — modality dropout: for a share of the samples, the image or the
  non-image inputs (clinical values, report tokens) are marked absent (images, reports) or
  zeroed (standardised clinical values), so the network
  must learn to decide from each modality alone, instead of relying greedily on whichever
  modality fits the training set fastest (Wu et al., ICML 2022, "Characterizing and
  overcoming the greedy nature of learning in multi-modal deep neural networks").

Every draw comes from the ``generator`` passed in, never from torch's global one.
"""

import math
from numbers import Real

import torch
from torch import nn

__all__ = [
    "AUTO_POLICY",
    "FLIP_POLICY",
    "apply_policy",
    "augmentation_policy",
    "drop_modalities",
    "policy_flips",
    "random_affine",
]

#: The ranges of ``augment="auto"``, the default: every transform of :func:`random_affine`
#: but the left-right flip, which would silently destroy any lateral target (the side of a
#: lesion, a left-hemisphere infarct, a right lung nodule).
AUTO_POLICY = {"degrees": 8.0, "scale": 0.08, "shift": 0.06, "flip": 0.0, "gain": 0.1}
#: The ranges of ``augment=True`` (skfusion 0.3's meaning): the same, plus a left-right flip
#: of half the samples. Only for tasks whose target is left-right symmetric.
FLIP_POLICY = {**AUTO_POLICY, "flip": 0.5}
#: The largest value each range may take (rotation in degrees; the others as fractions).
_POLICY_BOUNDS = {"degrees": 180.0, "scale": 0.5, "shift": 0.5, "flip": 1.0, "gain": 0.9}


def random_affine(
    images, generator, *, degrees=8.0, scale=0.08, shift=0.06, flip=0.5, gain=0.1, masks=None
):
    """Return a randomly transformed copy of ``images`` (``(n, C, H, W)``, or volumes
    ``(n, C, D, H, W)``).

    Each sample gets its own rotation in ``[-degrees, degrees]``, isotropic scaling in
    ``[1 - scale, 1 + scale]``, shift of up to ``shift`` of the image size per axis, a
    left-right flip with probability ``flip`` (``True`` means 0.5, ``False`` 0) and an
    intensity gain in
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
    flip = 0.5 if flip is True else float(flip)
    mirror = (
        torch.where(torch.rand(n, generator=generator) < flip, -1.0, 1.0)
        if flip > 0
        else torch.ones(n)
    )
    gains = uniform(1 - gain, 1 + gain)
    cos, sin = torch.cos(angle) * factor, torch.sin(angle) * factor
    if volume:  # grid coordinates (x, y, z) = (W, H, D): rotate x-y, flip x, scale all
        zero = torch.zeros(n)
        rows = [
            [cos * mirror, -sin, zero, offset[:, 0]],
            [sin * mirror, cos, zero, offset[:, 1]],
            [zero, zero, factor, offset[:, 2]],
        ]
    else:
        rows = [[cos * mirror, -sin, offset[:, 0]], [sin * mirror, cos, offset[:, 1]]]
    theta = torch.stack([torch.stack(row, dim=1) for row in rows], dim=1)
    theta = theta.to(device=images.device, dtype=images.dtype)
    grid = nn.functional.affine_grid(theta, list(images.shape), align_corners=False)
    out = nn.functional.grid_sample(
        images, grid, mode="bilinear", padding_mode="border", align_corners=False
    )
    gains = gains.to(device=images.device, dtype=images.dtype)
    out = out * gains.view(n, *([1] * (images.dim() - 1)))
    if masks is None:
        return out
    squeeze = masks.dim() < images.dim()
    moved = nn.functional.grid_sample(
        (masks.unsqueeze(1) if squeeze else masks).to(grid.dtype),
        grid,
        mode="bilinear",
        padding_mode="zeros",
        align_corners=False,
    )
    return out, moved[:, 0] if squeeze else moved


def augmentation_policy(augment, *, argument="augment"):
    """The training-time transform that ``augment`` stands for, checked.

    Returns None (no augmentation), a dict of :func:`random_affine` ranges, or the user's
    callable. ``"auto"`` gives :data:`AUTO_POLICY` (no flips), ``True`` :data:`FLIP_POLICY`
    (0.3's meaning, with flips), ``False`` None. A dict gives ranges by name (``degrees``,
    ``scale``, ``shift``, ``flip`` — the probability of a left-right flip — and ``gain``);
    names it leaves out are 0, so ``{"degrees": 10}`` only rotates. A callable is called as
    ``augment(images, generator, masks=None)`` and returns the transformed images (or
    ``(images, masks)`` when masks are given); it must draw every random number from
    ``generator`` for fits to be reproducible.

    Raises ValueError, naming ``argument``, for anything else.
    """
    if augment is None or augment is False:
        return None
    if augment is True:
        return dict(FLIP_POLICY)
    if isinstance(augment, str):
        if augment == "auto":
            return dict(AUTO_POLICY)
        raise ValueError(
            f"{argument}={augment!r} is not a policy; expected 'auto', True, "
            "False, a dict of ranges or a callable."
        )
    if isinstance(augment, dict):
        unknown = sorted(set(map(str, augment)) - set(_POLICY_BOUNDS))
        if unknown:
            raise ValueError(
                f"{argument} has unknown range(s) {unknown}; expected keys among "
                f"{sorted(_POLICY_BOUNDS)}, e.g. {AUTO_POLICY}."
            )
        policy = {name: 0.0 for name in _POLICY_BOUNDS}
        for name, value in augment.items():
            if (
                isinstance(value, bool)
                or not isinstance(value, Real)
                or not (0 <= float(value) <= _POLICY_BOUNDS[name])
            ):
                raise ValueError(
                    f"{argument}[{name!r}]={value!r}; expected a number from 0 to "
                    f"{_POLICY_BOUNDS[name]:g}"
                    + (" (the probability of a left-right flip)." if name == "flip" else ".")
                )
            policy[name] = float(value)
        return policy
    if type(augment).__module__.split(".")[0] == "monai":
        raise ValueError(
            f"{argument}={type(augment).__name__}(...) is a MONAI transform, which draws from "
            "its own random state, not from the network's generator: fits would not follow "
            f"random_state. Wrap it: {argument}=skfusion.nn.MonaiAugment(transform) reseeds "
            "it from the generator for every image."
        )
    if callable(augment):
        return augment
    raise ValueError(
        f"{argument}={augment!r} is not a policy; expected 'auto', True, False, "
        "a dict of ranges or a callable."
    )


def policy_flips(policy):
    """Whether a policy from :func:`augmentation_policy` may flip left-right (None for a
    callable, which cannot be told)."""
    if policy is None:
        return False
    if isinstance(policy, dict):
        return policy["flip"] > 0
    return None


def apply_policy(policy, images, generator, masks=None):
    """``images`` (and ``masks``) transformed by a policy from :func:`augmentation_policy`."""
    if policy is None:
        return images if masks is None else (images, masks)
    if isinstance(policy, dict):
        return random_affine(images, generator, masks=masks, **policy)
    out = policy(images, generator) if masks is None else policy(images, generator, masks=masks)
    moved = None
    if masks is not None:
        if not (isinstance(out, tuple) and len(out) == 2):
            raise ValueError(
                "augment (a callable) must return (images, masks) when it is given masks, so "
                f"that masks move with their images; it returned {type(out).__name__}."
            )
        out, moved = out
    if not isinstance(out, torch.Tensor) or out.shape != images.shape:
        raise ValueError(
            f"augment (a callable) must return a tensor of the images' shape "
            f"{tuple(images.shape)}; it returned "
            f"{tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__}."
        )
    if not out.is_floating_point() or out.device != images.device:
        raise ValueError(
            f"augment (a callable) must return floating-point images on {images.device} "
            f"(it was given {images.dtype}); it returned {out.dtype} on {out.device}."
        )
    out = out.to(images.dtype)
    if not torch.isfinite(out).all():
        raise ValueError(
            "augment (a callable) returned images holding NaN or infinity; a transform must "
            "keep every pixel finite (check divisions and the intensity range it assumes)."
        )
    if masks is None:
        return out
    if not isinstance(moved, torch.Tensor) or moved.shape != masks.shape:
        raise ValueError(
            f"augment (a callable) must return masks of shape "
            f"{tuple(masks.shape)} beside the images."
        )
    return out, moved


def drop_modalities(inputs, probability, generator):
    """Return ``inputs`` (a dict with "images" and "clinical", maybe "tokens" and the presence
    masks "image_present" / "text_present") where each sample, with ``probability``, loses
    either its image or its non-image inputs (equally likely); the other modality is always
    kept, and a sample already missing its image never loses the rest.

    A dropped image is marked absent (``image_present`` False), exactly as a patient without
    an image is at prediction, so the network trains for what it will meet; the pixels are
    left alone (the network does not read them). A dropped report is marked absent the same
    way (``text_present``); dropped clinical values are set to zero, the training mean of
    standardised values, as imputation fills a missing value."""
    if probability <= 0:
        return inputs
    images = inputs["images"]
    n = images.shape[0]
    device = images.device
    dropped = torch.rand(n, generator=generator) < probability
    image_side = torch.rand(n, generator=generator) < 0.5
    had_image = inputs.get("image_present")
    had_image = (
        torch.ones(n, dtype=torch.bool, device=device) if had_image is None else had_image.bool()
    )
    drop_image = (dropped & image_side).to(device)
    drop_other = (dropped & ~image_side).to(device) & had_image
    out = dict(inputs)
    out["image_present"] = had_image & ~drop_image
    if inputs.get("tokens") is not None:
        had_text = inputs.get("text_present")
        had_text = (
            torch.ones(n, dtype=torch.bool, device=device) if had_text is None else had_text.bool()
        )
        out["text_present"] = had_text & ~drop_other
    clinical = inputs.get("clinical")
    if clinical is not None and clinical.numel():
        keep = (~drop_other).to(clinical.dtype).view(n, *([1] * (clinical.dim() - 1)))
        out["clinical"] = clinical * keep
    return out
