"""Grad-CAM of a fitted estimator's image encoder, at one stage or combined over stages: the
kernel behind :func:`skfusion.explain.grad_cam` and the weakly supervised maps of
``localize`` (estimators fitted without masks)."""

import numpy as np
import torch

from ._explaining import _batches, _target_indices

__all__ = ["grad_cam_maps", "image_encoder_of"]


def image_encoder_of(module):
    """``(encoder, stacked)``: the ResNet of a fitted module (through a localisation head
    and a slice stack) or None, and whether the module reads slice stacks."""
    inner = getattr(module, "inner", module)  # a LocalizingNet wraps the fusion network
    stacked = hasattr(inner, "slice_weights_out")
    return getattr(inner.net if stacked else inner, "image_encoder", None), stacked


def _enough(features):
    """Whether a feature map has at least 2 ** spatial_dims positions (2x2 in 2-D)."""
    return int(np.prod(features.shape[2:])) >= 2 ** (features.dim() - 2)


def grad_cam_maps(estimator, X, *, target=None, stage=None):
    """Grad-CAM maps at input resolution, each scaled to a maximum of 1 (see
    :func:`skfusion.explain.grad_cam`). ``stage``: 1-4, None (the last stage whose map has
    at least 2 positions per axis) or "combined" (the mean of the scaled maps of every stage
    from 2 on with at least 2 positions per axis: coarse stages say what, finer stages
    where)."""
    module = estimator.net_.module_
    encoder, stacked = image_encoder_of(module)
    if encoder is None:
        raise ValueError(
            f"{estimator._describe_config()} has no image path to explain; Grad-CAM needs a "
            "model that looks at images.")
    if stage is not None and stage not in (1, 2, 3, 4, "combined"):
        raise ValueError(f"stage must be 1, 2, 3, 4, 'combined' or None; got {stage!r}.")
    target_index = _target_indices(estimator, target, len(X))
    captured = {}

    def keeper(number):
        def keep(module_, inputs, output):
            output.retain_grad()
            captured[number] = output
        return keep

    hooks = [encoder.stages[number - 1][-1].register_forward_hook(keeper(number))
             for number in range(1, 5)]
    module.eval()
    maps = []
    try:
        for positions, x in _batches(estimator, X):
            with torch.enable_grad(), estimator.net_.kernels():
                logits = module(**x)
                logits = logits[0] if isinstance(logits, tuple) else logits
                chosen = (logits.argmax(dim=1) if target_index is None else
                          torch.as_tensor(target_index[positions], device=logits.device))
                logits.gather(1, chosen[:, None]).sum().backward()
            if stage == "combined":
                numbers = [n for n in (2, 3, 4) if _enough(captured[n])] or [4]
            elif stage is None:
                numbers = [max([n for n in range(1, 5) if _enough(captured[n])] or [4])]
            else:
                numbers = [stage]
            size = x["images"].shape[2:]
            cam = sum(_scaled(_cam(captured[n], size)) for n in numbers) / len(numbers)
            cam = _scaled(cam)
            if stacked:  # one map per slice: (n, S, H, W)
                cam = cam.reshape(x["images"].shape[0], -1, *cam.shape[-2:])
            maps.append(cam.cpu().float().numpy())
            module.zero_grad(set_to_none=True)
    finally:
        for hook in hooks:
            hook.remove()
    return np.concatenate(maps).astype(np.float32)


def _cam(features, size):
    """ReLU of the gradient-weighted channel sum, upsampled to ``size``: (n, *size)."""
    spatial = tuple(range(2, features.dim()))
    weights = features.grad.mean(dim=spatial, keepdim=True)
    cam = torch.relu((weights * features).sum(dim=1, keepdim=True)).detach()
    mode = "trilinear" if features.dim() == 5 else "bilinear"
    return torch.nn.functional.interpolate(cam, size=tuple(size), mode=mode,
                                           align_corners=False)[:, 0]


def _scaled(cam):
    peak = cam.flatten(1).max(dim=1).values.clamp(min=1e-12)
    return cam / peak.view(-1, *([1] * (cam.dim() - 1)))
