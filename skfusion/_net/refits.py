"""What the net fits outside its training loop: the start of a linear layer (the clinical
shortcut) fitted alone by L-BFGS, and the precise batch-normalisation statistics recomputed
after training. :class:`~skfusion._net.net.FusionNet` calls these from its methods."""

import numpy as np
import torch
from skorch.dataset import unpack_data

from .device import torch_threads

__all__ = ["fit_linear", "recompute_batchnorm"]


def fit_linear(net, name, clinical, target, alpha):
    """The body of :meth:`~skfusion._net.net.FusionNet.fit_linear_` (see there)."""
    layer = getattr(net.module_, name)
    values = clinical.astype(np.float64)
    mean, scale = values.mean(axis=0), values.std(axis=0)
    scale[scale == 0] = 1.0
    device = layer.weight.device
    x = torch.as_tensor((values - mean) / scale, dtype=torch.float32, device=device)
    y = torch.as_tensor(target, device=device)
    weight = torch.zeros(layer.out_features, layer.in_features, device=device,
                         requires_grad=True)
    bias = torch.zeros(layer.out_features, device=device, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], max_iter=200,
                                  line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = net.criterion_(x @ weight.T + bias, y) + 0.5 * alpha * weight.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    coef = weight.detach().double().cpu().numpy() / scale
    intercept = bias.detach().double().cpu().numpy() - coef @ mean
    net.set_linear_(name, coef, intercept)


def recompute_batchnorm(net, dataset, threads=None):
    """The body of :meth:`~skfusion._net.net.FusionNet.recompute_batchnorm` (see there):
    returns the number of batches read."""
    norms = [m for m in net.module_.modules()
             if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)
             and m.track_running_stats
             and all(p.requires_grad for p in m.parameters(recurse=False))]
    if not norms or len(dataset) < 2:
        return 0
    momenta = [m.momentum for m in norms]
    net.module_.eval()
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # a cumulative average of the batches read
        norm.train()
    read = 0
    try:
        with torch.no_grad(), torch_threads(threads), net.kernels():
            for batch in net.get_iterator(dataset, training=False):
                x, _ = unpack_data(batch)
                first = x["images"] if isinstance(x, dict) else x
                if len(first) < 2:
                    continue
                net.infer(x)
                read += 1
    finally:
        for norm, momentum in zip(norms, momenta):
            norm.momentum = momentum
        net.module_.eval()
    return read
