"""Data-parallel training across processes: several CPU processes or GPUs of one machine
(:func:`fit_distributed`), or several machines (``torchrun``; see ``docs/scale_out.md``).

Every skfusion estimator trains data-parallel when its ``fit`` runs in each process of an
initialised ``torch.distributed`` process group: each process reads the same global batches,
takes its shard, and torch's ``DistributedDataParallel`` averages the gradients (gloo on the
CPU, NCCL on GPUs); batch normalisation uses the whole batch's statistics. The result is the
model one process trains on the same global batches, up to floating-point order
(``tests/_net/test_distributed.py``). Two differences remain, by construction: a survival
model's Cox loss takes its risk sets within each process's shard, and dropout (the report
generator's) draws per shard.
"""

import datetime
import math
import os
import socket
import tempfile
from numbers import Integral, Real

import torch
from sklearn.base import clone

from ._base.files.persistence import load

__all__ = ["fit_distributed"]


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _worker(rank, size, port, backend, estimator, X, y, groups, path, threads, timeout):
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        WORLD_SIZE=str(size),
        LOCAL_RANK=str(rank),
    )
    torch.distributed.init_process_group(
        backend, rank=rank, world_size=size, timeout=datetime.timedelta(seconds=float(timeout))
    )
    try:
        params = {"n_threads": threads} if threads else {}
        if rank > 0:
            params["verbose"] = 0
        if backend == "nccl":
            params["device"] = f"cuda:{rank}"
        model = clone(estimator).set_params(**params)
        model.fit(X, y, **({} if groups is None else {"groups": groups}))
        if rank == 0:
            model.save(path)
        torch.distributed.barrier()  # no process leaves while another still communicates
    finally:
        torch.distributed.destroy_process_group()


def fit_distributed(
    estimator, X, y, *, n_processes=2, groups=None, backend="auto", n_threads="auto", timeout=1800
):
    """Fit a clone of ``estimator`` data-parallel on ``n_processes`` processes of this machine.

    Parameters
    ----------
    estimator : skfusion estimator
        Unfitted (it is cloned). Its ``batch_size`` is the global batch: each process
        trains on ``batch_size / n_processes`` samples of every batch.
    X, y, groups
        As for ``estimator.fit``; every process receives them whole.
    n_processes : int, default=2
    backend : {"auto", "gloo", "nccl"}, default="auto"
        "auto": NCCL, one GPU per process, when ``estimator.device`` is "auto" or CUDA and
        this machine has at least ``n_processes`` GPUs; gloo on the CPU otherwise.
    n_threads : int, "auto" or None, default="auto"
        Torch threads per process; "auto" shares this machine's cores between the
        processes, None leaves each process's default.
    timeout : float, default=1800
        Seconds a process waits for the others at a collective operation.

    Returns
    -------
    estimator : fitted estimator
        The first process's model, read back from a model file (callbacks, like every
        unsaved setting, are not carried back); on the device ``estimator.device`` names
        ("auto": CUDA when available).

    Examples
    --------
    >>> from skfusion.distributed import fit_distributed
    >>> model = fit_distributed(ClinicalAttentionClassifier(batch_size=32), X, y,
    ...                         n_processes=2)  # doctest: +SKIP
    """
    from ._base.core.estimator import BaseFusionEstimator

    if not isinstance(estimator, BaseFusionEstimator):
        raise TypeError(
            f"estimator must be a skfusion estimator (fit_distributed trains its "
            f"network data-parallel); got {type(estimator).__name__}. Fit other "
            "estimators with their own fit."
        )
    if not isinstance(n_processes, Integral) or isinstance(n_processes, bool) or n_processes < 1:
        raise ValueError(f"n_processes must be a positive int; got {n_processes!r}.")
    n_processes = int(n_processes)
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, Real)
        or not (math.isfinite(timeout) and timeout > 0)
    ):
        raise ValueError(f"timeout must be a positive number of seconds; got {timeout!r}.")
    batch_size = estimator.get_params().get("batch_size")
    if isinstance(batch_size, Integral) and batch_size < n_processes:
        raise ValueError(
            f"estimator.batch_size={batch_size} is the global batch, shared by "
            f"n_processes={n_processes}: some processes would get no samples. Set "
            f"batch_size >= {n_processes} or use fewer processes."
        )
    if not (
        n_threads in ("auto", None)
        or isinstance(n_threads, Integral)
        and not isinstance(n_threads, bool)
        and n_threads >= 1
    ):
        raise ValueError(f"n_threads must be 'auto', None or a positive int; got {n_threads!r}.")
    if backend not in ("auto", "gloo", "nccl"):
        raise ValueError(f"backend must be 'auto', 'gloo' or 'nccl'; got {backend!r}.")
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        raise RuntimeError(
            "fit_distributed starts its own process group, but this process "
            "already belongs to one; call estimator.fit in each process "
            "instead (the torchrun recipe in docs/scale_out.md)."
        )
    device = str(getattr(estimator, "device", "cpu"))
    wants_cuda = device == "auto" or device.startswith("cuda")
    if backend == "auto":
        backend = (
            "nccl"
            if wants_cuda and torch.cuda.is_available() and torch.cuda.device_count() >= n_processes
            else "gloo"
        )
    if backend == "nccl" and torch.cuda.device_count() < n_processes:
        raise ValueError(
            f"backend='nccl' needs one GPU per process; this machine has "
            f"{torch.cuda.device_count()} for n_processes={n_processes}."
        )
    if n_threads == "auto":
        n_threads = max(1, (os.cpu_count() or 1) // n_processes)
    with tempfile.TemporaryDirectory(prefix="skfusion-ddp-") as folder:
        path = os.path.join(folder, "model.skf")
        estimator_cpu = (
            clone(estimator).set_params(device="cpu") if backend == "gloo" else estimator
        )
        try:
            torch.multiprocessing.spawn(
                _worker,
                args=(
                    n_processes,
                    _free_port(),
                    backend,
                    estimator_cpu,
                    X,
                    y,
                    groups,
                    path,
                    n_threads,
                    timeout,
                ),
                nprocs=n_processes,
                join=True,
            )
        except torch.multiprocessing.ProcessRaisedException as exc:
            message = str(exc).strip().splitlines()
            raise RuntimeError(
                "a process of the data-parallel fit failed: "
                + (message[-1] if message else repr(exc))
            ) from None
        except torch.multiprocessing.ProcessExitedException as exc:
            raise RuntimeError(
                f"a process of the data-parallel fit died ({exc}); the "
                "others were stopped. Out of memory is the usual cause: "
                "fewer processes or a smaller batch_size."
            ) from None
        return load(path, device=device if backend == "nccl" else "cpu")
