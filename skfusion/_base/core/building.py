"""How the estimator core builds its skorch net: the module (a fusion family's network, a
slice stack around it, a localisation head around either), the callbacks, and every setting
the net layer takes from the estimator's parameters (read once, as
:class:`~skfusion._base.core.settings.Settings`)."""

import numpy as np
from skorch.callbacks import Callback, EarlyStopping, ProgressBar

from ..._net.callbacks import FiniteLoss, InterruptRecovery, ValidationSplit
from ..._net.data import LazyBatchLoader, TensorBatchIterator
from ..._net.device import device_settings, resolve_amp_dtype, warn_if_unsafe_amp
from ..._net.progress import plain_print, wants_bars
from ...nn.image_shortcut import ImageShortcutNet
from ...nn.localization import LocalizingNet
from ...nn.slice_stack import POOLINGS, SliceStackNet
from ..files.checkpoint import EpochCheckpoint
from .contract import check_stackable

__all__ = ["build_net", "bind_checkpoints", "net_callbacks"]


def net_callbacks(settings):
    """The net's callbacks: interrupt recovery, finite loss, early stopping, the user's."""
    callbacks = [("interrupt_recovery", InterruptRecovery()), ("finite_loss", FiniteLoss())]
    if settings.early_stopping:
        callbacks += list(settings.monitor_callbacks)
        callbacks.append(
            (
                "early_stopping",
                EarlyStopping(
                    monitor="valid_loss",
                    patience=settings.n_iter_no_change,
                    load_best=True,
                    sink=print if settings.verbose else _silent,
                ),
            )
        )
    if wants_bars(settings.verbose):  # a bar over each epoch's batches, on a terminal
        callbacks.append(("progress_bar", ProgressBar()))
    for index, callback in enumerate(settings.callbacks or []):
        if not (isinstance(callback, (tuple, Callback)) or isinstance(callback, type)):
            raise ValueError(
                f"callbacks[{index}] is {callback!r}; expected a skorch Callback or a "
                "(name, Callback) tuple."
            )
        callbacks.append(callback)
    return callbacks


def bind_checkpoints(estimator, fitted, pretrained=None):
    """Give each :class:`~.checkpoint.EpochCheckpoint` among ``estimator``'s callbacks the
    estimator it saves and the fitted state it saves with it."""
    for callback in estimator.callbacks or []:
        callback = callback[1] if isinstance(callback, tuple) else callback
        if isinstance(callback, EpochCheckpoint):
            callback._bind(estimator, fitted, pretrained)


def build_net(
    settings,
    *,
    lazy,
    n_outputs,
    n_clinical,
    in_channels,
    device,
    seed,
    groups,
    stratify,
    criterion,
    extra_module=None,
    slices="channels",
    localize=False,
    image_shape=None,
):
    """The skorch net for ``settings`` (:class:`~.settings.Settings`) and the data's shape:
    the family's module (in a slice stack, an image shortcut and a localisation head as
    asked), its iterators, validation split, callbacks, device and precision."""
    module_params = {
        "module__n_outputs": n_outputs,
        "module__n_clinical": n_clinical,
        "module__in_channels": in_channels,
        "module__spatial_dims": settings.spatial_dims,
        **{f"module__{k}": v for k, v in settings.module_params.items()},
        "module__clinical_shortcut": bool(
            settings.clinical_shortcut and settings.multimodal and n_clinical > 0
        ),
        **{f"module__{k}": v for k, v in (extra_module or {}).items()},
    }
    if slices in POOLINGS:  # a stack of slices per patient, a shared 2-D network
        check_stackable(settings.family, slices)
        module_params.update(module__net_class=settings.module_class, module__pooling=slices)
    module = SliceStackNet if slices in POOLINGS else settings.module_class
    if settings.has_image_shortcut:  # a linear path on the image's components
        if image_shape is None:
            raise ValueError("image_shortcut needs the image shape to build the network.")
        module_params.update(
            module__deep_class=module,
            module__image_shape=tuple(image_shape),
            module__image_components=settings.image_components,
        )
        module = ImageShortcutNet
    if localize:  # a segmentation head beside the task (trained on X.masks)
        module_params["module__inner_class"] = module
        module = LocalizingNet
    iterator = LazyBatchLoader if lazy else TensorBatchIterator
    return settings.net_class(
        module=module,
        optimizer=settings.optimizer,
        lr=settings.lr,
        max_epochs=settings.max_epochs,
        batch_size=settings.batch_size,
        iterator_train=iterator,
        iterator_train__shuffle=True,
        iterator_train__random_state=np.random.RandomState(seed),
        iterator_train__merge_singleton=True,
        iterator_valid=iterator,
        train_split=(
            ValidationSplit(settings.validation_fraction, seed, groups, stratify)
            if settings.held_out
            else None
        ),
        callbacks=net_callbacks(settings),
        device=device,
        verbose=int(settings.verbose),
        **device_settings(device, settings.channels_last, lazy, settings.spatial_dims),
        amp_dtype=_checked_amp_dtype(settings, device),
        seed=seed,
        augment=settings.augment,
        modality_dropout=settings.modality_dropout if settings.multimodal else 0.0,
        localization_weight=settings.localization_weight,
        **module_params,
        **criterion,
        # skorch's PrintLog calls a sink other than print whatever the verbosity.
        **{
            "callbacks__print_log__sink": plain_print if settings.verbose else print,
            **settings.routed,
        },
    )


def _checked_amp_dtype(settings, device):
    dtype = resolve_amp_dtype(settings.mixed_precision, device)
    warn_if_unsafe_amp(
        dtype,
        device,
        settings.n_threads,
        f"{settings.family.__name__}(mixed_precision={settings.mixed_precision!r})",
    )
    return dtype


def _silent(*args, **kwargs):
    return None
