"""Data-parallel training of the net layer with torch's distributed engine.

When ``fit`` runs in every process of an initialised ``torch.distributed`` process group
(``torchrun``, or :func:`skfusion.distributed.fit_distributed`), each process reads the same
global batches, augments them alike, takes its shard, and runs forward and backward through
``DistributedDataParallel``, which averages the gradients across processes; batch
normalisation uses the statistics of the whole batch
(:class:`~skfusion.nn.norm.CrossProcessBatchNorm`). The loss of a shard is weighted by its
share of the batch, so the averaged gradient is the gradient of the whole batch: the same
model as one process on the same global batches, up to floating-point order. Validation and
the early-stopping decision are computed alike in every process.
"""

import contextlib
import inspect

import torch
from torch import nn

from ..nn.norm import CrossProcessBatchNorm, convert_batchnorm

__all__ = ["data_parallel", "shard", "world"]


def world():
    """``(rank, world_size)`` of the default process group, or ``(0, 1)`` without one."""
    distributed = torch.distributed
    if distributed.is_available() and distributed.is_initialized():
        return distributed.get_rank(), distributed.get_world_size()
    return 0, 1


def shard(batch, rank, size):
    """This process's contiguous share of a batch (a tensor or a dict of tensors), and its
    share of the batch's samples."""
    if isinstance(batch, dict):
        parts = {k: shard(v, rank, size)[0] for k, v in batch.items()}
        n = next(iter(batch.values())).shape[0]
        local = next(iter(parts.values())).shape[0]
        return parts, local / max(n, 1)
    if isinstance(batch, torch.Tensor):
        piece = torch.tensor_split(batch, size)[rank]
        return piece, piece.shape[0] / max(batch.shape[0], 1)
    return batch, 1.0


@contextlib.contextmanager
def data_parallel(net):
    """While training runs: cross-process batch normalisation and a
    ``DistributedDataParallel`` view of the net's module in ``net.parallel_view`` (the module,
    its parameters and the optimizer stay as they are); afterwards plain batch
    normalisation again, so models save and load as single-process ones."""
    rank, size = world()
    if size == 1:
        yield
        return
    if net.batch_size < size:
        raise ValueError(
            f"batch_size={net.batch_size} is the global batch of a data-parallel fit on "
            f"{size} processes, which leaves some processes without samples; set "
            f"batch_size >= {size} or use fewer processes."
        )
    module = net.module_
    convert_batchnorm(module, CrossProcessBatchNorm)
    device = torch.device(net.device)
    # Buffers (batch-norm running statistics) are equal in every process already: no
    # per-step broadcast (the keyword was renamed in torch 2.13).
    parameters = inspect.signature(nn.parallel.DistributedDataParallel).parameters
    sync = (
        {"forward_sync_buffers": False}
        if "forward_sync_buffers" in parameters
        else {"broadcast_buffers": False}
    )
    try:
        net.parallel_view = _View(
            nn.parallel.DistributedDataParallel(
                module, device_ids=[device.index or 0] if device.type == "cuda" else None, **sync
            )
        )
        yield
    finally:
        net.parallel_view = None
        convert_batchnorm(module, nn.BatchNorm2d)


class _View:
    """Holds the DDP view outside skorch's module registry; never pickled (a checkpoint
    written during a data-parallel fit holds the plain module)."""

    def __init__(self, module):
        self.module = module

    def __call__(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def __getstate__(self):
        return {}

    def __setstate__(self, state):
        self.module = None
