"""What the net fits outside its training loop: the precise batch-normalisation statistics
recomputed after training (the linear paths' starts: :mod:`.linear_paths`).
:class:`~skfusion._net.net.FusionNet` calls these from its methods."""

import threading

import numpy as np
import torch
from skorch.dataset import unpack_data

from ..nn.presence import present_only
from .device import torch_threads

__all__ = [
    "PRECISE_BN_MIN_SAMPLES",
    "PRECISE_BN_PIXELS",
    "pass_budget",
    "recompute_batchnorm",
    "trained_norms",
]


#: The pass reads at most this many image values (pixels or voxels, summed over its samples)
#: and at least :data:`PRECISE_BN_MIN_SAMPLES` samples, drawn at random keeping the share of
#: samples with an image: 2**23 is 2,048 slices of 64x64, 205 patients of ten such slices,
#: 32 volumes of 64**3. Wu and Johnson (2021) find statistics over a few thousand images
#: enough; the pass then costs a bounded number of forward passes however large the
#: training set (measured in ``benchmarks/precise_bn.py``).
PRECISE_BN_PIXELS = 2**23
PRECISE_BN_MIN_SAMPLES = 256


def pass_budget(dataset):
    """The most samples the pass reads from ``dataset`` (see :data:`PRECISE_BN_PIXELS`)."""
    images = dataset.images
    shape = images.sample_shape if hasattr(images, "sample_shape") else images.shape[1:]
    per_sample = max(1, int(np.prod(shape)))
    return max(PRECISE_BN_MIN_SAMPLES, PRECISE_BN_PIXELS // per_sample)


def trained_norms(module):
    """The batch-normalisation layers that track running statistics and were trained (not
    frozen): the ones the precise pass recomputes."""
    return [
        m
        for m in module.modules()
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)
        and m.track_running_stats
        and all(p.requires_grad for p in m.parameters(recurse=False))
    ]


def _pass_order(dataset, batch_size, max_samples, seed):
    """The positions the pass reads, in order: at most ``max_samples`` (a random subset that
    keeps the share of samples with an image), those with an image first, so that batches
    hold either several images or none; where that would leave one image alone in the batch
    it shares with image-less samples, one image-less sample moves to the front."""
    n = len(dataset)
    present = getattr(dataset, "present", {}).get("image_present")
    present = np.ones(n, dtype=bool) if present is None else present.cpu().numpy().astype(bool)
    with_image, without = np.flatnonzero(present), np.flatnonzero(~present)
    if n > max_samples:
        rng = np.random.default_rng(seed)
        keep = int(round(max_samples * len(with_image) / n))
        with_image = np.sort(rng.choice(with_image, keep, replace=False))
        without = np.sort(rng.choice(without, max_samples - keep, replace=False))
    if (
        len(without)
        and len(with_image) > 1
        and len(with_image) % batch_size == 1
        and batch_size >= 3
    ):
        return np.concatenate([without[:1], with_image, without[1:]])
    return np.concatenate([with_image, without])


def _moments_hook(totals, owner):
    """A forward hook adding the batch's per-channel count, mean and sum of squared
    deviations to ``totals`` (Chan et al.'s pairwise update, in float64): every sample weighs
    the same, whatever its batch. The batch's moments are the ones the layer itself just
    computed (with momentum 1 its running buffers hold the batch's mean and unbiased
    variance), so the pass reads no activation twice."""

    def hook(module, args, output):
        if threading.get_ident() != owner:
            return
        x = args[0]
        count = x.numel() // x.shape[1]
        if count < 2:
            return
        mean = module.running_mean.detach().double()
        m2 = module.running_var.detach().double() * (count - 1)
        seen = totals.get(module)
        if seen is None:
            totals[module] = [count, mean.clone(), m2]
            return
        n, old_mean, old_m2 = seen
        delta = mean - old_mean
        total = n + count
        totals[module] = [
            total,
            old_mean + delta * (count / total),
            old_m2 + m2 + delta.pow(2) * (n * count / total),
        ]

    return hook


def recompute_batchnorm(net, dataset, threads=None, max_samples=None):
    """The body of :meth:`~skfusion._net.net.FusionNet.recompute_batchnorm` (see there):
    returns the number of batches read. ``max_samples`` (None: :func:`pass_budget`) bounds
    the samples read."""
    norms = trained_norms(net.module_)
    if not norms or len(dataset) < 2:
        return 0
    max_samples = pass_budget(dataset) if max_samples is None else max_samples
    params = net.get_params_for("iterator_valid")
    batch_size = params.get("batch_size", net.batch_size)
    batch_size = len(dataset) if batch_size in (-1, None) else int(batch_size)
    order = _pass_order(dataset, batch_size, max_samples, int(net.seed))
    ordered = (
        dataset if np.array_equal(order, np.arange(len(dataset))) else dataset.take(order)
    )  # (no copy where the order is the dataset's own)
    totals, owner = {}, threading.get_ident()
    hooks = [norm.register_forward_hook(_moments_hook(totals, owner)) for norm in norms]
    momenta = [norm.momentum for norm in norms]
    net.module_.eval()
    for norm in norms:
        norm.momentum = 1.0  # the running buffers hold each batch's own statistics
        norm.train()  # normalising with them, as in training
    read = 0
    try:
        iterator = net.get_iterator(ordered, training=False)
        sampler = getattr(iterator, "batch_sampler", iterator)
        if getattr(sampler, "merge_singleton", None) is not None:
            sampler.merge_singleton = True
        with torch.no_grad(), torch_threads(threads), net.kernels(), present_only():
            for batch in iterator:
                x, _ = unpack_data(batch)
                first = x["images"] if isinstance(x, dict) else x
                if len(first) < 2:
                    continue
                net.infer(x)
                read += 1
    finally:
        for hook in hooks:
            hook.remove()
        for norm, momentum in zip(norms, momenta):
            norm.momentum = momentum
        net.module_.eval()
    with torch.no_grad():
        for norm in norms:
            count, mean, m2 = totals.get(norm, (0, None, None))
            if count < 2:
                continue  # a layer the pass never reached keeps its statistics
            norm.running_mean.copy_(mean.to(norm.running_mean.dtype))
            norm.running_var.copy_((m2 / (count - 1)).to(norm.running_var.dtype))
    return read
