"""Training-time pieces of the skorch layer: the held-out validation split and the callbacks
every skfusion net carries (batch accuracy, interrupt recovery, finite loss)."""

import copy
import warnings

import numpy as np
import torch
from skorch.callbacks import Callback

__all__ = ["BatchAccuracy", "FiniteLoss", "InterruptRecovery", "ValidationSplit", "still_improving"]


def still_improving(losses, tol, n_iter_no_change):
    """Whether a loss curve was still improving when it ended, by scikit-learn's MLP rule:
    an epoch counts as no improvement when its loss is not below the best so far minus
    ``tol``; the curve has converged once ``n_iter_no_change`` such epochs come in a row."""
    best, count = float("inf"), 0
    for loss in losses:
        count = count + 1 if loss > best - tol else 0
        best = min(best, loss)
        if count >= n_iter_no_change:
            return False
    return True


class ValidationSplit:
    """skorch ``train_split``: hold out a stratified fraction of a dataset for validation.

    Parameters
    ----------
    fraction : float
        Share of the samples held out.
    random_state : int
        Seed of the split.
    groups : array-like of shape (n_samples,) or None, default=None
        Subject of each sample; whole subjects are then held out (about ``fraction`` of
        them, stratified), so no subject is on both sides.
    stratify : array-like of shape (n_samples,) or None, default=None
        Labels the split keeps in proportion: the classes of a classifier, the event
        indicator of a survival model; None (regression) splits without stratifying.

    Attributes
    ----------
    valid_positions_ : ndarray
        Positions of the held-out samples in the last split.
    """

    def __init__(self, fraction, random_state, groups=None, stratify=None):
        self.fraction = fraction
        self.random_state = random_state
        self.groups = groups
        self.stratify = stratify

    def __call__(self, dataset, y=None, **fit_params):
        from sklearn.model_selection import StratifiedGroupKFold, train_test_split

        n = len(dataset)
        labels = np.zeros(n, dtype=int) if self.stratify is None else np.asarray(self.stratify)
        positions = np.arange(n)
        if self.groups is not None:
            groups = np.asarray(self.groups)
            n_groups = len(np.unique(groups))
            if n_groups < 2:
                raise ValueError(
                    "early_stopping with groups needs at least 2 subjects to hold one out; "
                    f"got {n_groups}."
                )
            n_splits = min(n_groups, max(2, int(round(1 / self.fraction))))
            splitter = StratifiedGroupKFold(n_splits, shuffle=True, random_state=self.random_state)
            with warnings.catch_warnings():
                # Few subjects per class is expected for small folds.
                warnings.filterwarnings("ignore", message="The least populated class")
                train, valid = next(splitter.split(positions, labels, groups))
        else:
            _, counts = np.unique(labels, return_counts=True)
            n_valid = int(np.ceil(self.fraction * len(labels)))
            stratify = (
                labels
                if (self.stratify is not None and counts.min() >= 2 and n_valid >= len(counts))
                else None
            )
            train, valid = train_test_split(
                positions, test_size=n_valid, stratify=stratify, random_state=self.random_state
            )
        self.valid_positions_ = np.sort(valid)
        return dataset.take(np.sort(train)), dataset.take(self.valid_positions_)


class BatchAccuracy(Callback):
    """Record ``valid_acc`` (or ``train_acc``) per epoch from the logits the batches produced.

    Costs one argmax per batch: no extra forward pass.
    """

    def __init__(self, on_train=False):
        self.on_train = on_train

    def on_epoch_begin(self, net, **kwargs):
        self._correct = 0
        self._seen = 0

    def on_batch_end(self, net, batch, training, y_pred=None, **kwargs):
        if training != self.on_train or y_pred is None:
            return
        _, y = batch
        if isinstance(y_pred, tuple):  # (outputs, mask logits) of a localising network
            y_pred = y_pred[0]
        self._correct += int((y_pred.argmax(dim=1) == y).sum())
        self._seen += len(y)

    def on_epoch_end(self, net, **kwargs):
        if self._seen:
            key = "train_acc" if self.on_train else "valid_acc"
            net.history.record(key, self._correct / self._seen)


class InterruptRecovery(Callback):
    """Keep the training state of the last finished epoch, and restore it when training is
    interrupted (Ctrl-C: skorch ends the loop quietly on KeyboardInterrupt), wherever the
    interrupt lands.

    After each epoch a copy is taken of the weights, the optimizer state and the random
    states (shuffling and the net's generator); a memory copy, cheap next to an epoch. An
    interrupt during an epoch restores that copy, so a resumed fit continues exactly from
    the last finished epoch; an interrupt between epochs keeps the model as it is. Either
    way ``interrupted_`` is True and a warning says which epoch the model holds. If no
    epoch had finished, KeyboardInterrupt is raised again so ``fit`` leaves the estimator
    as it was.

    Attributes
    ----------
    interrupted_ : bool
        Whether the last training run was interrupted.
    """

    def on_train_begin(self, net, **kwargs):
        self._state = None
        self._in_epoch = False
        self.interrupted_ = False
        net.keyboard_interrupt_ = False

    def on_epoch_begin(self, net, **kwargs):
        self._in_epoch = True

    def on_epoch_end(self, net, **kwargs):
        rng = net.get_params().get("iterator_train__random_state")
        generator = getattr(net, "generator_", None)
        previous = self._state or (None, None, None, None)
        with torch.no_grad():  # into the previous epoch's copy: no allocation per epoch
            self._state = (
                _copy_into(previous[0], net.module_.state_dict()),
                _copy_into(previous[1], net.optimizer_.state_dict()),
                rng.get_state() if isinstance(rng, np.random.RandomState) else None,
                None if generator is None else generator.get_state(),
            )
        self._in_epoch = False

    def on_train_end(self, net, **kwargs):
        state, self._state = self._state, None  # do not keep a second copy of the weights
        interrupted = self._in_epoch or getattr(net, "keyboard_interrupt_", False)
        if not interrupted:
            return
        self.interrupted_ = True
        if self._in_epoch:
            epoch = len(net.history)
            if state is None:
                raise KeyboardInterrupt(
                    f"training interrupted during epoch {epoch}, before "
                    "any epoch finished; the estimator was left unchanged"
                )
            weights, optimizer, rng_state, generator_state = state
            net.module_.load_state_dict(weights)
            net.optimizer_.load_state_dict(optimizer)
            rng = net.get_params().get("iterator_train__random_state")
            if rng_state is not None and isinstance(rng, np.random.RandomState):
                rng.set_state(rng_state)
            if generator_state is not None:
                net.generator_.set_state(generator_state)
            del net.history[-1]
            where = f"during epoch {epoch}"
        else:
            where = f"after epoch {len(net.history)} finished"
        warnings.warn(
            f"Training was interrupted {where}; the model keeps the weights of epoch "
            f"{len(net.history)}, the last one that finished. Call fit again with "
            "warm_start=True to continue.",
            UserWarning,
            stacklevel=2,
        )


def _copy_into(buffer, value):
    """A deep copy of ``value`` (nested dicts, lists and tuples of tensors and plain values),
    written into the tensors of ``buffer`` (an earlier copy) where their shape, dtype and
    device match, so that copying every epoch allocates nothing after the first."""
    if isinstance(value, torch.Tensor):
        if (
            isinstance(buffer, torch.Tensor)
            and buffer.shape == value.shape
            and buffer.dtype == value.dtype
            and buffer.device == value.device
        ):
            return buffer.copy_(value)
        return value.detach().clone()
    if isinstance(value, dict):
        old = buffer if isinstance(buffer, dict) else {}
        return {key: _copy_into(old.get(key), item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        old = (
            buffer
            if isinstance(buffer, (list, tuple)) and len(buffer) == len(value)
            else [None] * len(value)
        )
        return type(value)(_copy_into(b, item) for b, item in zip(old, value))
    return copy.deepcopy(value)


class FiniteLoss(Callback):
    """Stop training with a clear error when the loss becomes NaN or infinite, or when the
    weights do by the end of training (the last step's update is seen by no later loss)."""

    def on_train_end(self, net, **kwargs):
        module = getattr(net, "module_", None)
        if module is None:
            return
        with torch.no_grad():
            for name, parameter in module.named_parameters():
                if not torch.isfinite(parameter).all():
                    raise ValueError(
                        f"training diverged: the network's weights became NaN or infinite "
                        f"({name}) in the last step of epoch {len(net.history)}. Scale the "
                        "images and clinical values to an ordinary range (values near 1e-40 "
                        "or 1e40 overflow), lower the learning rate (lr="
                        f"{net.lr}), or clip gradients. The estimator keeps its previous "
                        "state."
                    )

    def on_batch_end(self, net, batch=None, training=False, loss=None, **kwargs):
        if training and loss is not None and not torch.isfinite(loss).all():
            raise ValueError(
                f"training diverged: the loss became {loss.item()} in epoch "
                f"{len(net.history)}. Lower the learning rate (lr={net.lr}), standardise "
                "images and clinical values (e.g. ClinicalTransformer(StandardScaler())), or "
                "clip gradients (callbacks=[skorch.callbacks.GradientNormClipping(1.0)]). "
                "The estimator keeps its previous state."
            )
