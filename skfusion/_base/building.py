"""How the estimator core builds its skorch net: the module (a fusion family's network, a
slice stack around it, a localisation head around either), the callbacks, and every setting
the net layer takes from the estimator's parameters."""

import numpy as np
from skorch.callbacks import Callback, EarlyStopping, ProgressBar

from .._net.data import LazyBatchLoader, TensorBatchIterator
from .._net.callbacks import FiniteLoss, InterruptRecovery, ValidationSplit
from .._net.net import FusionNet, device_settings, resolve_amp_dtype
from .params import routed_params
from .._net.progress import wants_bars
from ..callbacks import EpochCheckpoint
from ..nn.localization import LocalizingNet
from ..nn.slice_stack import POOLINGS, SliceStackNet

__all__ = ["NetBuildMixin"]


class NetBuildMixin:
    """``_build_net`` and the net's callbacks for
    :class:`skfusion._base.estimator.BaseFusionEstimator`."""

    def _net_callbacks(self):
        """The net's callbacks: interrupt recovery, finite loss, early stopping, the user's."""
        callbacks = [("interrupt_recovery", InterruptRecovery()), ("finite_loss", FiniteLoss())]
        if self.early_stopping:
            callbacks += self._monitor_callbacks()
            callbacks.append(("early_stopping", EarlyStopping(
                monitor="valid_loss", patience=self.n_iter_no_change, load_best=True,
                sink=print if self.verbose else _silent)))
        if wants_bars(self.verbose):  # a bar over each epoch's batches, on a terminal
            callbacks.append(("progress_bar", ProgressBar()))
        for index, callback in enumerate(self.callbacks or []):
            if not (isinstance(callback, (tuple, Callback)) or isinstance(callback, type)):
                raise ValueError(
                    f"callbacks[{index}] is {callback!r}; expected a skorch Callback or a "
                    "(name, Callback) tuple.")
            callbacks.append(callback)
        return callbacks

    def _bind_checkpoints(self, fitted, pretrained=None):
        for callback in self.callbacks or []:
            callback = callback[1] if isinstance(callback, tuple) else callback
            if isinstance(callback, EpochCheckpoint):
                callback._bind(self, fitted, pretrained)

    def _build_net(self, *, lazy, n_outputs, n_clinical, in_channels, device, seed, groups,
                   stratify, criterion, extra_module=None, slices="channels",
                   localize=False):
        module_params = {
            "module__n_outputs": n_outputs,
            "module__n_clinical": n_clinical,
            "module__in_channels": in_channels,
            "module__spatial_dims": self.spatial_dims,
            **{f"module__{k}": v for k, v in self._module_params().items()},
            "module__clinical_shortcut": bool(self.clinical_shortcut and self._is_multimodal()
                                              and n_clinical > 0),
            **{f"module__{k}": v for k, v in (extra_module or {}).items()},
        }
        if slices in POOLINGS:  # a stack of slices per patient, a shared 2-D network
            module_params.update(module__net_class=self._module_class, module__pooling=slices)
        module = SliceStackNet if slices in POOLINGS else self._module_class
        if localize:  # a segmentation head beside the task (trained on X.masks)
            module_params["module__inner_class"] = module
            module = LocalizingNet
        iterator = LazyBatchLoader if lazy else TensorBatchIterator
        return FusionNet(
            module=module,
            optimizer=self.optimizer,
            lr=self.lr,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            iterator_train=iterator,
            iterator_train__shuffle=True,
            iterator_train__random_state=np.random.RandomState(seed),
            iterator_train__merge_singleton=True,
            iterator_valid=iterator,
            train_split=(ValidationSplit(self.validation_fraction, seed, groups, stratify)
                         if self.early_stopping else None),
            callbacks=self._net_callbacks(),
            device=device,
            verbose=int(self.verbose),
            **device_settings(device, self.channels_last, lazy, self.spatial_dims),
            amp_dtype=resolve_amp_dtype(self.mixed_precision, device),
            seed=seed,
            augment=self.augment,
            modality_dropout=self.modality_dropout if self._is_multimodal() else 0.0,
            localization_weight=self.localization_weight,
            **module_params,
            **criterion,
            **routed_params(self),
        )


def _silent(*args, **kwargs):
    return None
