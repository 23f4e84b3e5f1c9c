"""How the estimator core builds its skorch net: the module (a fusion family's network, a
slice stack around it, a localisation head around either), the callbacks, and every setting
the net layer takes from the estimator's parameters."""

import numpy as np
from skorch.callbacks import Callback, EarlyStopping, ProgressBar

from .._net.callbacks import FiniteLoss, InterruptRecovery, ValidationSplit
from .._net.data import LazyBatchLoader, TensorBatchIterator
from .._net.device import device_settings, resolve_amp_dtype, warn_if_unsafe_amp
from .._net.progress import plain_print, wants_bars
from ..nn.image_shortcut import ImageShortcutNet
from ..nn.localization import LocalizingNet
from ..nn.slice_stack import POOLINGS, SliceStackNet
from .checkpoint import EpochCheckpoint
from .contract import check_stackable
from .params import routed_params

__all__ = ["build_net", "bind_checkpoints", "net_callbacks"]


def net_callbacks(estimator):
    """The net's callbacks: interrupt recovery, finite loss, early stopping, the user's."""
    callbacks = [("interrupt_recovery", InterruptRecovery()), ("finite_loss", FiniteLoss())]
    if estimator.early_stopping:
        callbacks += estimator._monitor_callbacks()
        callbacks.append(
            (
                "early_stopping",
                EarlyStopping(
                    monitor="valid_loss",
                    patience=estimator.n_iter_no_change,
                    load_best=True,
                    sink=print if estimator.verbose else _silent,
                ),
            )
        )
    if wants_bars(estimator.verbose):  # a bar over each epoch's batches, on a terminal
        callbacks.append(("progress_bar", ProgressBar()))
    for index, callback in enumerate(estimator.callbacks or []):
        if not (isinstance(callback, (tuple, Callback)) or isinstance(callback, type)):
            raise ValueError(
                f"callbacks[{index}] is {callback!r}; expected a skorch Callback or a "
                "(name, Callback) tuple."
            )
        callbacks.append(callback)
    return callbacks


def bind_checkpoints(estimator, fitted, pretrained=None):
    for callback in estimator.callbacks or []:
        callback = callback[1] if isinstance(callback, tuple) else callback
        if isinstance(callback, EpochCheckpoint):
            callback._bind(estimator, fitted, pretrained)


def build_net(
    estimator,
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
    module_params = {
        "module__n_outputs": n_outputs,
        "module__n_clinical": n_clinical,
        "module__in_channels": in_channels,
        "module__spatial_dims": estimator.spatial_dims,
        **{f"module__{k}": v for k, v in estimator._module_params().items()},
        "module__clinical_shortcut": bool(
            estimator.clinical_shortcut and estimator._is_multimodal() and n_clinical > 0
        ),
        **{f"module__{k}": v for k, v in (extra_module or {}).items()},
    }
    if slices in POOLINGS:  # a stack of slices per patient, a shared 2-D network
        check_stackable(estimator, slices)
        module_params.update(module__net_class=estimator._module_class, module__pooling=slices)
    module = SliceStackNet if slices in POOLINGS else estimator._module_class
    if estimator._has_image_shortcut():  # a linear path on the image's components
        if image_shape is None:
            raise ValueError("image_shortcut needs the image shape to build the network.")
        module_params.update(
            module__deep_class=module,
            module__image_shape=tuple(image_shape),
            module__image_components=estimator.image_components,
        )
        module = ImageShortcutNet
    if localize:  # a segmentation head beside the task (trained on X.masks)
        module_params["module__inner_class"] = module
        module = LocalizingNet
    iterator = LazyBatchLoader if lazy else TensorBatchIterator
    return estimator._net_class(
        module=module,
        optimizer=estimator.optimizer,
        lr=estimator.lr,
        max_epochs=estimator.max_epochs,
        batch_size=estimator.batch_size,
        iterator_train=iterator,
        iterator_train__shuffle=True,
        iterator_train__random_state=np.random.RandomState(seed),
        iterator_train__merge_singleton=True,
        iterator_valid=iterator,
        train_split=(
            ValidationSplit(estimator.validation_fraction, seed, groups, stratify)
            if estimator._hold_out_settings()
            else None
        ),
        callbacks=net_callbacks(estimator),
        device=device,
        verbose=int(estimator.verbose),
        **device_settings(device, estimator.channels_last, lazy, estimator.spatial_dims),
        amp_dtype=_checked_amp_dtype(estimator, device),
        seed=seed,
        augment=estimator.augment,
        modality_dropout=estimator.modality_dropout if estimator._is_multimodal() else 0.0,
        localization_weight=estimator.localization_weight,
        **module_params,
        **criterion,
        # skorch's PrintLog calls a sink other than print whatever the verbosity.
        **{
            "callbacks__print_log__sink": plain_print if estimator.verbose else print,
            **routed_params(estimator),
        },
    )


def _checked_amp_dtype(estimator, device):
    dtype = resolve_amp_dtype(estimator.mixed_precision, device)
    warn_if_unsafe_amp(
        dtype,
        device,
        estimator.n_threads,
        f"{type(estimator).__name__}(mixed_precision={estimator.mixed_precision!r})",
    )
    return dtype


def _silent(*args, **kwargs):
    return None
