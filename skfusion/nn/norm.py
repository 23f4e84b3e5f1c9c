"""Batch normalisation across the processes of a data-parallel fit.

Each process of a data-parallel fit sees a shard of every batch; plain batch normalisation
would normalise each shard by its own statistics, so two processes on half-batches would
train a different network than one process on whole batches. :class:`CrossProcessBatchNorm`
computes the statistics of the whole batch (sums and counts all-reduced across processes,
differentiably), on any device and backend (gloo on the CPU, where torch's own
``SyncBatchNorm`` does not run). :func:`convert_batchnorm` swaps it in and out, keeping the
same parameter and buffer objects, so an optimizer built before the swap keeps working and a
saved model holds plain batch normalisation.
"""

import torch
from torch import nn

__all__ = ["CrossProcessBatchNorm", "convert_batchnorm"]


def _world_size():
    distributed = torch.distributed
    if distributed.is_available() and distributed.is_initialized():
        return distributed.get_world_size()
    return 1


class _AllReduceSum(torch.autograd.Function):
    """Sum a tensor over the processes; its gradient is the sum of the processes' gradients
    (each process's output feeds every process's loss)."""

    @staticmethod
    def forward(ctx, tensor):
        total = tensor.clone()
        torch.distributed.all_reduce(total)
        return total

    @staticmethod
    def backward(ctx, grad):
        total = grad.clone()
        torch.distributed.all_reduce(total)
        return total


class CrossProcessBatchNorm(nn.modules.batchnorm._BatchNorm):
    """Batch normalisation (any number of spatial dimensions) whose training statistics are
    those of the batch across every process of the default process group; elsewhere
    (evaluation, a single process) exactly :class:`torch.nn.BatchNorm2d` / ``3d``."""

    def _check_input_dim(self, input):
        if input.dim() < 2:
            raise ValueError(f"expected at least 2-D input (got {input.dim()}-D input)")

    def forward(self, input):
        if not self.training or _world_size() == 1:
            return super().forward(input)
        channels = input.shape[1]
        dims = [0, *range(2, input.dim())]
        values = input.float()
        count = values.new_full((1,), values.numel() / channels)
        packed = _AllReduceSum.apply(
            torch.cat([values.sum(dims), (values * values).sum(dims), count])
        )
        total = packed[-1]
        mean = packed[:channels] / total
        var = (packed[channels : 2 * channels] / total - mean * mean).clamp(min=0)
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                factor = (
                    1.0 / float(self.num_batches_tracked)
                    if self.momentum is None
                    else self.momentum
                )
                unbiased = var * total / (total - 1).clamp(min=1)
                self.running_mean.mul_(1 - factor).add_(factor * mean.detach())
                self.running_var.mul_(1 - factor).add_(factor * unbiased.detach())
        shape = (1, channels, *([1] * (input.dim() - 2)))
        out = (values - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            out = out * self.weight.view(shape) + self.bias.view(shape)
        return out.to(input.dtype)


def convert_batchnorm(module, to):
    """Replace, in place, every batch normalisation of ``module`` by one of class ``to``
    (e.g. :class:`CrossProcessBatchNorm`, or ``nn.BatchNorm2d`` to go back; the spatial
    dimensions are kept: going back picks 2-D or 3-D from the module replaced), sharing
    the parameter and buffer objects. Returns the module."""
    for name, child in list(module.named_children()):
        if isinstance(child, nn.modules.batchnorm._BatchNorm) and type(child) is not to:
            target = to
            if to in (nn.BatchNorm2d, nn.BatchNorm3d):
                target = getattr(child, "_plain_class", to)
            new = target.__new__(target)
            nn.Module.__init__(new)
            for key in ("num_features", "eps", "momentum", "affine", "track_running_stats"):
                setattr(new, key, getattr(child, key))
            new._parameters = child._parameters
            new._buffers = child._buffers
            new.training = child.training
            if target is CrossProcessBatchNorm:
                new._plain_class = type(child)
            setattr(module, name, new)
        else:
            convert_batchnorm(child, to)
    return module
