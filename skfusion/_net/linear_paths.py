"""The network's linear paths beside its deep part: the clinical shortcut (``shortcut``) and
the image shortcut (``image_shortcut``, :mod:`skfusion.nn.image_shortcut`). Here they are
found in the module, read (the image path's pooled values and component scores over a
dataset) and set to a linear model fitted outside the training loop, as one linear layer on
the concatenation of their inputs. :class:`~skfusion._net.net.FusionNet` calls these."""

import numpy as np
import torch
from skorch.dataset import unpack_data

from ..nn.image_shortcut import ImageShortcut
from .device import torch_threads

__all__ = [
    "fit_linear",
    "image_path",
    "image_path_values",
    "linear_layer",
    "linear_start",
    "set_linear",
]

#: The linear paths, in the order their inputs are concatenated.
PATHS = ("shortcut", "image_shortcut")


def image_path(module):
    """The module's :class:`~skfusion.nn.image_shortcut.ImageShortcut`, or None."""
    return next((m for m in module.modules() if isinstance(m, ImageShortcut)), None)


def linear_layer(module, name):
    """The linear layer of path ``name`` ("shortcut", "image_shortcut"), or None."""
    if name == "image_shortcut":
        path = image_path(module)
        return None if path is None else path.linear
    return getattr(module, name, None)


def linear_start(module):
    """The names of the linear paths the module has, in :data:`PATHS` order."""
    return tuple(name for name in PATHS if linear_layer(module, name) is not None)


def set_linear(net, names, coef, intercept):
    """Set the paths ``names`` (a name or a tuple) from one linear model on the
    concatenation of their inputs: ``coef`` ``(n_outputs, sum of in_features)``; the
    intercept goes to the first path, the others' biases to zero."""
    names = (names,) if isinstance(names, str) else tuple(names)
    coef = np.asarray(coef, dtype=np.float64)
    intercept = np.asarray(intercept, dtype=np.float64)
    start = 0
    for index, name in enumerate(names):
        layer = linear_layer(net.module_, name)
        if layer is None:
            raise ValueError(f"the network has no linear path {name!r}.")
        width = layer.in_features
        with torch.no_grad():
            layer.weight.copy_(
                torch.as_tensor(coef[:, start : start + width], dtype=layer.weight.dtype)
            )
            layer.bias.copy_(
                torch.as_tensor(
                    intercept if index == 0 else np.zeros_like(intercept), dtype=layer.bias.dtype
                )
            )
        start += width
    if start != coef.shape[1]:
        raise ValueError(f"coef has {coef.shape[1]} columns; the paths {names} read {start}.")


def fit_linear(net, names, values, target, alpha):
    """The body of :meth:`~skfusion._net.net.FusionNet.fit_linear_` (see there)."""
    names = (names,) if isinstance(names, str) else tuple(names)
    layers = [linear_layer(net.module_, name) for name in names]
    values = np.asarray(values, dtype=np.float64)
    mean, scale = values.mean(axis=0), values.std(axis=0)
    scale[scale == 0] = 1.0
    device = layers[0].weight.device
    x = torch.as_tensor((values - mean) / scale, dtype=torch.float32, device=device)
    y = torch.as_tensor(target, device=device)
    weight = torch.zeros(layers[0].out_features, values.shape[1], device=device, requires_grad=True)
    bias = torch.zeros(layers[0].out_features, device=device, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = net.criterion_(x @ weight.T + bias, y) + 0.5 * alpha * weight.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    coef = weight.detach().double().cpu().numpy() / scale
    intercept = bias.detach().double().cpu().numpy() - coef @ mean
    set_linear(net, names, coef, intercept)


def image_path_values(net, dataset, kind, threads=None):
    """Read the image path over ``dataset`` (no augmentation, inference mode): ``kind``
    "pooled" gives ``(values (n_present, pooled values), present (n,) bool)`` for the
    samples with an image; "scores" gives the standardised component scores ``(n,
    n_components)`` (0 where no image)."""
    path = image_path(net.module_)
    parts, present = [], []
    iterator = net.get_iterator(dataset, training=False)
    with torch.inference_mode(), torch_threads(threads):
        for batch in iterator:
            x, _ = unpack_data(batch)
            images = x["images"].to(path.mean.device, path.mean.dtype)
            here = x.get("image_present")
            here = (
                torch.ones(len(images), dtype=torch.bool, device=images.device)
                if here is None
                else here.to(images.device).bool()
            )
            if kind == "pooled":
                values = path.pooled(images[here]) if here.any() else None
                if values is not None:
                    parts.append(values.double().cpu().numpy())
            else:
                parts.append(path.scores(images, here).double().cpu().numpy())
            present.append(here.cpu().numpy())
    present = np.concatenate(present) if present else np.zeros(0, dtype=bool)
    width = path.mean.numel() if kind == "pooled" else path.components.shape[0]
    values = np.concatenate(parts) if parts else np.zeros((0, width))
    return (values, present) if kind == "pooled" else values
