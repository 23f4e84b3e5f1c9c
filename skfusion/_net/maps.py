"""Weakly supervised maps of a trained network: Grad-CAM of its image encoder (at one stage or
combined over stages) and input-gradient saliency. Kernels over batches of module inputs, the
torch side of :func:`skfusion.explain.grad_cam`, :func:`skfusion.explain.saliency` and
``localize`` of estimators fitted without masks; the estimator side (which output, which
batches) is ``skfusion._base.core.explaining.image_maps``."""

import numpy as np
import torch

from .device import thread_forward_hook

__all__ = ["grad_cam_maps", "image_encoder_of", "saliency_maps"]


def image_encoder_of(module):
    """``(encoder, stacked)``: the ResNet of a fitted module (through a localisation head
    and a slice stack) or None, and whether the module reads slice stacks."""
    inner = getattr(module, "inner", module)  # a LocalizingNet wraps the fusion network
    stacked = hasattr(inner, "slice_weights_out")
    return getattr(inner.net if stacked else inner, "image_encoder", None), stacked


def _enough(features):
    """Whether a feature map has at least 2 ** spatial_dims positions (2x2 in 2-D)."""
    return int(np.prod(features.shape[2:])) >= 2 ** (features.dim() - 2)


def grad_cam_maps(net, batches, *, target_index=None, stage=None):
    """Grad-CAM maps at input resolution, each scaled to a maximum of 1 (see
    :func:`skfusion.explain.grad_cam`), of ``net`` (a trained ``FusionNet`` with an image
    encoder) over ``batches`` of ``(positions, module inputs)``. ``target_index``: the output
    explained per sample (None: each sample's largest). ``stage``: 1-4, None (the last stage
    whose map has at least 2 positions per axis) or "combined" (the mean of the scaled maps
    of every stage from 2 on with at least 2 positions per axis: coarse stages say what,
    finer stages where)."""
    if stage is not None and stage not in (1, 2, 3, 4, "combined"):
        raise ValueError(f"stage must be 1, 2, 3, 4, 'combined' or None; got {stage!r}.")
    module = net.module_
    encoder, stacked = image_encoder_of(module)
    captured = {}

    def keeper(number):
        def keep(module_, inputs, output):
            output.retain_grad()
            captured[number] = output

        return keep

    hooks = [
        thread_forward_hook(encoder.stages[number - 1][-1], keeper(number))
        for number in range(1, 5)
    ]
    module.eval()
    maps = []
    try:
        for positions, x in batches:
            with torch.enable_grad(), net.kernels():
                logits = module(**x)
                logits = logits[0] if isinstance(logits, tuple) else logits
                chosen = (
                    logits.argmax(dim=1)
                    if target_index is None
                    else torch.as_tensor(target_index[positions], device=logits.device)
                )
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
    return torch.nn.functional.interpolate(cam, size=tuple(size), mode=mode, align_corners=False)[
        :, 0
    ]


def _scaled(cam):
    peak = cam.flatten(1).max(dim=1).values.clamp(min=1e-12)
    return cam / peak.view(-1, *([1] * (cam.dim() - 1)))


def saliency_maps(net, batches, *, target_index=None, smooth=5):
    """Input-gradient saliency (Simonyan et al., 2014): the absolute gradient of the
    explained output with respect to each input pixel (voxel), summed over channels,
    box-filtered over ``smooth`` pixels per axis (1: none) and scaled to a maximum of 1.
    Finer than Grad-CAM (input resolution), so it outlines small focal findings that a
    coarse feature map blurs; noisier where the evidence is diffuse."""
    if not isinstance(smooth, (int, np.integer)) or smooth < 1 or smooth % 2 == 0:
        raise ValueError(f"smooth must be a positive odd number of pixels; got {smooth!r}.")
    module = net.module_
    _, stacked = image_encoder_of(module)
    module.eval()
    maps = []
    for positions, x in batches:
        images = x["images"].detach().clone().requires_grad_(True)
        with torch.enable_grad(), net.kernels():
            logits = module(**{**x, "images": images})
            logits = logits[0] if isinstance(logits, tuple) else logits
            chosen = (
                logits.argmax(dim=1)
                if target_index is None
                else torch.as_tensor(target_index[positions], device=logits.device)
            )
            logits.gather(1, chosen[:, None]).sum().backward()
        gradient = images.grad.detach().abs()
        # Slice stacks: each slice is its own map; otherwise channels are summed.
        gradient = gradient.unsqueeze(2) if stacked else gradient.sum(dim=1, keepdim=True)
        if smooth > 1:
            flat = gradient.reshape(-1, 1, *gradient.shape[3:] if stacked else gradient.shape[2:])
            pool = (
                torch.nn.functional.avg_pool3d
                if flat.dim() == 5
                else torch.nn.functional.avg_pool2d
            )
            flat = pool(flat, smooth, stride=1, padding=smooth // 2, count_include_pad=False)
            gradient = flat.reshape(gradient.shape)
        saliency = gradient[:, :, 0] if stacked else gradient[:, 0]
        flat = saliency.flatten(1)
        peak = flat.max(dim=1).values.clamp(min=1e-12)
        maps.append((saliency / peak.view(-1, *([1] * (saliency.dim() - 1)))).cpu().float().numpy())
        module.zero_grad(set_to_none=True)
    return np.concatenate(maps).astype(np.float32)
