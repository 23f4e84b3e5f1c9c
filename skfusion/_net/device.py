"""Every device, thread and precision decision of the net layer: the device ``"auto"``
resolves to, the autocast dtype, channels-last and pinned memory, torch's thread count for a
call, and forward hooks that fire only for the calling thread."""

import contextlib
import threading
import warnings

import torch

from .parallel import world

__all__ = [
    "device_settings",
    "resolve_amp_dtype",
    "resolve_device",
    "thread_forward_hook",
    "torch_threads",
    "warn_if_unsafe_amp",
]


def thread_forward_hook(submodule, hook):
    """Register ``hook`` as a forward hook of ``submodule`` that fires only for forward passes
    run by the calling thread: a fitted model is shared between threads (a server predicting
    while another thread explains), and a hook must neither collect another thread's outputs
    nor act on them (``retain_grad`` on another thread's inference tensors fails). Returns
    the handle; remove it when done."""
    owner = threading.get_ident()

    def in_this_thread(module, inputs, output):
        if threading.get_ident() == owner:
            return hook(module, inputs, output)
        return None

    return submodule.register_forward_hook(in_this_thread)


@contextlib.contextmanager
def _without_onednn():
    previous = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = False
    try:
        yield
    finally:
        torch.backends.mkldnn.enabled = previous


@contextlib.contextmanager
def torch_threads(n_threads):
    """Run with ``n_threads`` torch threads (if not None), restoring the setting afterwards."""
    if n_threads is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def resolve_amp_dtype(setting, device):
    """The autocast dtype for ``mixed_precision=setting`` on ``device`` (None: float32)."""
    device_type = torch.device(device).type
    if setting is False:
        return None
    if setting == "auto":
        if device_type != "cuda":
            return None
        setting = True
    if setting is True:
        if device_type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.bfloat16
    return {"bf16": torch.bfloat16, "fp16": torch.float16}[setting]


def warn_if_unsafe_amp(dtype, device, n_threads, owner):
    """Warn where autocast is known to break: bfloat16 on the CPU."""
    if dtype == torch.bfloat16 and torch.device(device).type == "cpu":
        threads = n_threads or torch.get_num_threads()
        warnings.warn(
            f"{owner} trains in bfloat16 on the CPU ({threads} thread(s)): torch's CPU "
            "bfloat16 kernels turned a small network's weights NaN in some fits on our "
            "machines (torch 2.13: 6 of 8 identical fits with 2 threads, fewer with one), and "
            "training then stops with an error. mixed_precision=False (the CPU default) is "
            "safe and also faster on most CPUs; bfloat16 is meant for GPUs.",
            RuntimeWarning,
            stacklevel=5,
        )


def device_settings(device, channels_last, lazy, spatial_dims=2):
    """The net's device-dependent settings: channels-last ("auto": on CUDA only, where it is
    faster and the CPU kernels' non-reproducibility does not apply; 2-D images only) and
    pinned host memory for lazily read batches on CUDA."""
    cuda = torch.device(device).type == "cuda"
    settings = {
        "channels_last": (cuda if channels_last == "auto" else channels_last) and spatial_dims == 2
    }
    if lazy and cuda:
        settings.update(iterator_train__pin_memory=True, iterator_valid__pin_memory=True)
    return settings


def resolve_device(device):
    """Return the torch device string for ``device`` ("auto" picks CUDA when available).

    Raises a ValueError naming ``device`` when it cannot be parsed or is not available here.
    """
    if device == "auto":
        if not torch.cuda.is_available():
            return "cpu"
        rank, size = world()
        if size > 1:  # data-parallel: one GPU per process of this machine
            import os

            local = int(os.environ.get("LOCAL_RANK", rank))
            return f"cuda:{local % torch.cuda.device_count()}"
        return "cuda"
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(
            f"device={device!r} is not a torch device; expected 'auto', 'cpu', 'cuda' or 'cuda:N'."
        ) from None
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} but CUDA is not available on this machine; use device='auto' "
            "(CUDA when present, else CPU) or device='cpu'."
        )
    if parsed.type == "cuda" and parsed.index is not None:
        if parsed.index >= torch.cuda.device_count():
            raise ValueError(
                f"device={device!r} but this machine has {torch.cuda.device_count()} CUDA "
                "device(s); use an index below that."
            )
    if parsed.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device={device!r} but MPS is not available; use device='cpu'.")
    return str(parsed)
