"""The skorch layer: in-memory tensor datasets, a fast batch iterator, and the skorch net.

This is the only place where estimators meet tensors. Estimators validate numpy/pandas input,
build a :class:`FusionDataset` and a :class:`FusionNet` here, and read numpy arrays back.
"""

import contextlib

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import EarlyStopping
from skorch.dataset import unpack_data
from skorch.utils import TeeGenerator

from ._training import BatchAccuracy, FiniteLoss, InterruptRecovery, ValidationSplit
from .nn.augment import drop_modalities, random_affine
from .nn.init import he_init_

__all__ = [
    "BatchAccuracy",
    "FusionDataset",
    "BatchIndexSampler",
    "FiniteLoss",
    "FusionNet",
    "InterruptRecovery",
    "LazyBatchLoader",
    "LazyFusionDataset",
    "TensorBatchIterator",
    "ValidationSplit",
    "resolve_device",
]


class FusionDataset(torch.utils.data.Dataset):
    """Samples held as whole tensors: images ``(n, C, H, W)``, clinical ``(n, F)``, labels
    ``(n,)`` and, for text models, token ids ``(n, L)``.

    Works with a torch ``DataLoader`` (per-sample ``__getitem__``), and with
    :class:`TensorBatchIterator`, which indexes whole batches at once and skips per-sample
    Python work and collation.
    """

    def __init__(self, images, clinical, y=None, tokens=None):
        self.images = images
        self.clinical = clinical
        self.y = y
        self.tokens = tokens

    def __len__(self):
        return self.images.shape[0]

    def inputs(self, index):
        """The module's keyword inputs for ``index`` (an int, slice or index tensor)."""
        x = {"images": self.images[index], "clinical": self.clinical[index]}
        if self.tokens is not None:
            x["tokens"] = self.tokens[index]
        return x

    def __getitem__(self, index):
        target = self.y[index] if self.y is not None else torch.zeros((), dtype=torch.long)
        return self.inputs(index), target

    def take(self, positions):
        """Return the samples at ``positions`` (a 1-D integer tensor or array) as a new dataset."""
        positions = torch.as_tensor(positions, dtype=torch.long, device=self.images.device)
        return FusionDataset(
            self.images[positions],
            self.clinical[positions],
            None if self.y is None else self.y[positions],
            None if self.tokens is None else self.tokens[positions],
        )

    def to(self, device):
        """Return the dataset with every tensor on ``device``."""
        return FusionDataset(
            self.images.to(device),
            self.clinical.to(device),
            None if self.y is None else self.y.to(device),
            None if self.tokens is None else self.tokens.to(device),
        )


class LazyFusionDataset(torch.utils.data.Dataset):
    """Samples whose images are read one by one from a :class:`~skfusion._input.LazyImages`.

    Clinical values, token ids and labels are small and held as tensors; images are read in
    ``__getitem__``, so a ``DataLoader`` with workers reads them in parallel with training.
    """

    def __init__(self, images, clinical, y=None, tokens=None):
        self.images = images
        self.clinical = clinical
        self.y = y
        self.tokens = tokens

    def __len__(self):
        return len(self.images)

    def __getitem__(self, index):
        image = self.images.read(index)
        if not np.isfinite(image).all():
            raise ValueError(
                f"image {index} of {self.images!r} contains NaN or infinite values; fix or "
                "drop that sample."
            )
        target = self.y[index] if self.y is not None else torch.zeros((), dtype=torch.long)
        x = {"images": torch.from_numpy(image), "clinical": self.clinical[index]}
        if self.tokens is not None:
            x["tokens"] = self.tokens[index]
        return x, target

    def take(self, positions):
        """Return the samples at ``positions`` as a new lazy dataset."""
        positions = np.asarray(positions, dtype=int)
        index = torch.as_tensor(positions, dtype=torch.long)
        return LazyFusionDataset(
            self.images.take(positions),
            self.clinical[index],
            None if self.y is None else self.y[index],
            None if self.tokens is None else self.tokens[index],
        )


class TensorBatchIterator:
    """Yield ``({"images", "clinical"}, y)`` batches by indexing in-memory tensors directly.

    Parameters
    ----------
    dataset : FusionDataset
        The samples.
    batch_size : int
        Samples per batch.
    shuffle : bool, default=False
        Draw a new permutation of the samples on each pass.
    random_state : numpy.random.RandomState or None, default=None
        Source of the permutations; the same instance is kept across epochs so each epoch gets
        a new order while the whole fit stays reproducible.
    merge_singleton : bool, default=False
        Merge a last batch of one sample into the previous batch (batch normalisation cannot
        train on one sample).
    device : str or torch.device, default="cpu"
        Where batches are sent.
    channels_last : bool, default=False
        Give image batches the channels-last memory layout.
    **loader_options
        ``DataLoader`` options that matter only for data read from disk (``num_workers``,
        ``pin_memory``, ``persistent_workers``, ``prefetch_factor``, ``timeout``); accepted
        so that the same settings work for lazy and in-memory input, and ignored here.
    """

    _LOADER_OPTIONS = {"num_workers", "pin_memory", "persistent_workers", "prefetch_factor",
                       "timeout", "worker_init_fn", "multiprocessing_context"}

    def __init__(
        self,
        dataset,
        batch_size,
        shuffle=False,
        random_state=None,
        merge_singleton=False,
        device="cpu",
        channels_last=False,
        **loader_options,
    ):
        unknown = sorted(set(loader_options) - self._LOADER_OPTIONS)
        if unknown:
            raise TypeError(
                f"iterator option(s) {unknown} are not supported for in-memory data; "
                f"expected batch_size, shuffle or one of {sorted(self._LOADER_OPTIONS)}."
            )
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.random_state = random_state
        self.merge_singleton = merge_singleton
        self.device = torch.device(device)
        self.channels_last = channels_last

    def __len__(self):
        return len(_batch_bounds(len(self.dataset), self.batch_size, self.merge_singleton))

    def __iter__(self):
        dataset = self.dataset
        n = len(dataset)
        order = _epoch_order(n, self.shuffle, self.random_state)
        order = None if order is None else torch.from_numpy(order)
        non_blocking = self.device.type == "cuda"
        memory_format = torch.channels_last if self.channels_last else torch.contiguous_format
        for start, stop in _batch_bounds(n, self.batch_size, self.merge_singleton):
            if order is None:
                x = dataset.inputs(slice(start, stop))
                y = None if dataset.y is None else dataset.y[start:stop]
            else:
                index = order[start:stop].to(dataset.images.device)
                x = dataset.inputs(index)
                y = None if dataset.y is None else dataset.y.index_select(0, index)
            x = {name: value.to(self.device, non_blocking=non_blocking)
                 for name, value in x.items()}
            x["images"] = x["images"].contiguous(memory_format=memory_format)
            if y is None:
                y = torch.zeros(stop - start, dtype=torch.long)
            yield x, y.to(self.device, non_blocking=non_blocking)


def _batch_bounds(n, batch_size, merge_singleton):
    """(start, stop) of each batch; a last batch of one sample optionally joins the previous."""
    bounds = [(start, min(start + batch_size, n)) for start in range(0, n, batch_size)]
    if merge_singleton and len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] == 1:
        bounds[-2:] = [(bounds[-2][0], n)]
    return bounds


def _epoch_order(n, shuffle, random_state):
    """The sample order of one epoch: a permutation drawn from ``random_state``, or None."""
    if not shuffle:
        return None
    rng = random_state if random_state is not None else np.random
    return rng.permutation(n)


class BatchIndexSampler(torch.utils.data.Sampler):
    """Batches of sample indices in exactly the order :class:`TensorBatchIterator` uses."""

    def __init__(self, n, batch_size, shuffle=False, random_state=None, merge_singleton=False):
        self.n = n
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.random_state = random_state
        self.merge_singleton = merge_singleton

    def __len__(self):
        return len(_batch_bounds(self.n, self.batch_size, self.merge_singleton))

    def __iter__(self):
        order = _epoch_order(self.n, self.shuffle, self.random_state)
        for start, stop in _batch_bounds(self.n, self.batch_size, self.merge_singleton):
            yield (list(range(start, stop)) if order is None
                   else order[start:stop].tolist())


class LazyBatchLoader(torch.utils.data.DataLoader):
    """A ``DataLoader`` over a :class:`LazyFusionDataset` that forms the same batches, in the
    same order, as :class:`TensorBatchIterator` does for in-memory data, so both give the same
    model. Other ``DataLoader`` arguments (``num_workers``, ``pin_memory``...) pass through.
    """

    def __init__(self, dataset, batch_size, shuffle=False, random_state=None,
                 merge_singleton=False, **kwargs):
        sampler = BatchIndexSampler(len(dataset), batch_size, shuffle, random_state,
                                    merge_singleton)
        super().__init__(dataset, batch_sampler=sampler, **kwargs)


class FusionNet(NeuralNet):
    """A skorch ``NeuralNet`` with channels-last modules and automatic mixed precision.

    Parameters
    ----------
    channels_last : bool, default=False
        Give the module the channels-last memory layout after it is built.
    amp_dtype : torch.dtype or None, default=None
        Run forward passes under ``torch.autocast`` with this dtype. ``torch.float16`` also
        scales the loss with a ``GradScaler``; ``torch.bfloat16`` needs no scaling.
    seed : int, default=0
        Seeds the net's own ``torch.Generator`` (``generator_``), from which the weights are
        initialised and the training-time draws (augmentation, modality dropout) are made;
        torch's global generator is never used, so fits in parallel threads are
        reproducible.
    augment : bool, default=False
        Randomly transform training image batches
        (:func:`skfusion.nn.augment.random_affine`).
    modality_dropout : float, default=0.0
        Share of training samples whose image or non-image inputs are zeroed
        (:func:`skfusion.nn.augment.drop_modalities`).
    **kwargs
        Everything ``skorch.NeuralNet`` takes.
    """

    def __init__(self, module, criterion, *, channels_last=False, amp_dtype=None, seed=0,
                 augment=False, modality_dropout=0.0, **kwargs):
        super().__init__(module, criterion, **kwargs)
        self.channels_last = channels_last
        self.amp_dtype = amp_dtype
        self.seed = seed
        self.augment = augment
        self.modality_dropout = modality_dropout

    def get_dataset(self, X, y=None):
        dataset = super().get_dataset(X, y)
        if isinstance(dataset, FusionDataset) and torch.device(self.device).type == "cuda":
            # Small datasets live on the GPU for the whole fit: no per-batch host transfers.
            nbytes = dataset.images.nbytes + dataset.clinical.nbytes
            free, _ = torch.cuda.mem_get_info(torch.device(self.device))
            if dataset.images.device.type == "cpu" and nbytes < 0.25 * free:
                dataset = dataset.to(self.device)
        return dataset

    def get_iterator(self, dataset, training=False):
        iterator = super().get_iterator(dataset, training=training)
        if isinstance(iterator, TensorBatchIterator):
            # Set here, not as iterator parameters, so that a model trained on a GPU and
            # loaded on a CPU-only machine sends its batches to the device it now has.
            iterator.device = torch.device(self.device)
            iterator.channels_last = self.channels_last
        return iterator

    def initialize_module(self):
        self.generator_ = torch.Generator().manual_seed(int(self.seed))
        super().initialize_module()
        # The module's constructor drew from torch's global generator; draw again from ours.
        he_init_(self.module_, generator=self.generator_)
        if self.channels_last:
            self.module_ = self.module_.to(memory_format=torch.channels_last)
        return self

    def initialize(self):
        super().initialize()
        device_type = torch.device(self.device).type
        use_scaler = self.amp_dtype == torch.float16
        self.grad_scaler_ = torch.amp.GradScaler(device_type) if use_scaler else None
        return self

    def _autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(torch.device(self.device).type, dtype=self.amp_dtype)

    def infer(self, x, **fit_params):
        if self.channels_last and isinstance(x, dict) and x["images"].dim() == 4:
            x = {**x, "images": x["images"].to(self.device).contiguous(
                memory_format=torch.channels_last)}
        with self._autocast():
            y_pred = super().infer(x, **fit_params)
        if self.amp_dtype is not None:
            y_pred = y_pred.float()
        return y_pred

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        try:
            return super().fit_loop(X, y, epochs=epochs, **fit_params)
        except KeyboardInterrupt:
            # skorch swallows the interrupt; remember it, wherever it landed, unless it is
            # skorch's EarlyStopping ending training (it stops by raising KeyboardInterrupt).
            self.keyboard_interrupt_ = not any(
                isinstance(cb, EarlyStopping) and getattr(cb, "misses_", 0) >= cb.patience
                for _, cb in self.callbacks_)
            raise

    def training_inputs(self, inputs):
        """The training view of a batch: augmented images, dropped modalities."""
        if not isinstance(inputs, dict):
            return inputs
        if self.augment:
            inputs = {**inputs, "images": random_affine(inputs["images"], self.generator_)}
        if self.modality_dropout:
            inputs = drop_modalities(inputs, self.modality_dropout, self.generator_)
        return inputs

    def train_step_single(self, batch, **fit_params):
        self._set_training(True)
        Xi, yi = unpack_data(batch)
        Xi = self.training_inputs(Xi)
        y_pred = self.infer(Xi, **fit_params)
        loss = self.get_loss(y_pred, yi, X=Xi, training=True)
        if self.grad_scaler_ is None:
            loss.backward()
        else:
            self.grad_scaler_.scale(loss).backward()
        return {"loss": loss, "y_pred": y_pred}

    def train_step(self, batch, **fit_params):
        if self.grad_scaler_ is None:
            return super().train_step(batch, **fit_params)
        # Loss scaling for float16: unscale before callbacks see the gradients (clipping),
        # then let the scaler skip steps with inf/NaN gradients.
        self._zero_grad_optimizer()
        step = self.train_step_single(batch, **fit_params)
        self.grad_scaler_.unscale_(self.optimizer_)
        self.notify(
            "on_grad_computed",
            named_parameters=TeeGenerator(self.get_all_learnable_params()),
            batch=batch,
            training=True,
        )
        self.grad_scaler_.step(self.optimizer_)
        self.grad_scaler_.update()
        return step


def resolve_device(device):
    """Return the torch device string for ``device`` ("auto" picks CUDA when available).

    Raises a ValueError naming ``device`` when it cannot be parsed or is not available here.
    """
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(
            f"device={device!r} is not a torch device; expected 'auto', 'cpu', 'cuda' or "
            "'cuda:N'."
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
