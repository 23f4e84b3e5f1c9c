"""The checkpoint callback: the model file after every ``every`` epochs. It belongs to the
core (it writes the core's model files); ``skfusion.callbacks`` is its public home."""

import os
import pathlib
import time
import uuid

from skorch.callbacks import Callback

from .persistence import encode_params, write_model_file

__all__ = ["EpochCheckpoint"]


class EpochCheckpoint(Callback):
    # Public as skfusion.callbacks.EpochCheckpoint: pickles and reprs name that home.
    """Save the model after every ``every`` epochs, in skfusion's safe model file format.

    Each fit writes into its own new folder ``<directory>/<estimator>-<time>-<pid>-<id>``,
    so parallel folds and trials never overwrite each other's files. Resume with
    ``skfusion.load(file).set_params(warm_start=True, max_epochs=...).fit(X, y)``.

    Parameters
    ----------
    directory : str or path-like
        Parent folder of the checkpoint folders.
    every : int, default=1
        Save every ``every`` epochs.
    keep_last : bool, default=False
        Keep only the newest file of a fit.

    Attributes
    ----------
    run_dir_ : pathlib.Path
        The folder of the current (or last) fit.
    files_ : list of pathlib.Path
        Files written by the current (or last) fit.
    """

    def __init__(self, directory, every=1, keep_last=False):
        self.directory = directory
        self.every = every
        self.keep_last = keep_last

    def _bind(self, estimator, fitted, pretrained=None):
        """Called by the estimator before training with what a model file needs; checks
        the settings and that the estimator's parameters can be written, so that a bad
        setting fails before the first epoch rather than after it."""
        self._check_settings()
        encode_params(estimator, pretrained)
        self._estimator = estimator
        self._fitted = fitted
        self._pretrained = pretrained

    def _check_settings(self):
        if isinstance(self.every, bool) or not isinstance(self.every, int) or self.every < 1:
            raise ValueError(
                f"EpochCheckpoint(every={self.every!r}): every must be an int >= "
                "1 (save every `every` epochs)."
            )
        if not isinstance(self.directory, (str, os.PathLike)):
            raise ValueError(
                f"EpochCheckpoint(directory={self.directory!r}): directory must be "
                "a folder path (str or pathlib.Path)."
            )

    def on_train_begin(self, net, **kwargs):
        self._check_settings()
        name = type(getattr(self, "_estimator", net)).__name__
        stamp = time.strftime("%Y%m%d-%H%M%S")
        self.run_dir_ = pathlib.Path(self.directory) / (
            f"{name}-{stamp}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        )
        self.run_dir_.mkdir(parents=True, exist_ok=False)
        self.files_ = []

    def on_epoch_end(self, net, **kwargs):
        epoch = len(net.history)
        if epoch % self.every:
            return
        if getattr(self, "_estimator", None) is None:
            raise RuntimeError("EpochCheckpoint works with skfusion estimators only.")
        path = self.run_dir_ / f"epoch_{epoch:04d}.skf"
        write_model_file(
            path,
            self._estimator,
            fitted={**self._fitted, "n_epochs_": epoch},
            net=net,
            pretrained=getattr(self, "_pretrained", None),
        )
        if self.keep_last:
            for old in self.files_:
                old.unlink(missing_ok=True)
            self.files_ = []
        self.files_.append(path)
