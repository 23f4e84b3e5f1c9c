"""Datasets and batch iterators of the skorch layer: in-memory tensor datasets indexed a whole
batch at a time, lazily read images through a DataLoader, and :func:`make_dataset`, which
turns validated numpy inputs into one of them."""

import numpy as np
import torch

__all__ = [
    "BatchIndexSampler",
    "FusionDataset",
    "LazyBatchLoader",
    "LazyFusionDataset",
    "TensorBatchIterator",
    "make_dataset",
]


class _Samples(torch.utils.data.Dataset):
    """What both datasets hold: images (tensors, or lazily read), clinical values, targets,
    and the optional token ids, masks and presence masks (tensors; ``present`` maps
    "image_present" / "text_present" to one bool per sample)."""

    def __init__(self, images, clinical, y=None, tokens=None, masks=None, present=None):
        self.images = images
        self.clinical = clinical
        self.y = y
        self.tokens = tokens
        self.masks = masks
        self.present = dict(present or {})

    def _target(self, index):
        return self.y[index] if self.y is not None else torch.zeros((), dtype=torch.long)

    def _optional(self, x, index):
        """``x`` with the token ids and masks at ``index``, where the dataset has them."""
        if self.tokens is not None:
            x["tokens"] = self.tokens[index]
        if self.masks is not None:
            x["masks"] = self.masks[index]
        for name, mask in self.present.items():
            x[name] = mask[index]
        return x

    def _rest(self, index):
        """Targets, token ids, masks and presence masks at ``index`` (None where absent): a
        new dataset's last four arguments."""
        return (
            *(None if part is None else part[index] for part in (self.y, self.tokens, self.masks)),
            {name: mask[index] for name, mask in self.present.items()},
        )


class FusionDataset(_Samples):
    """Samples held as whole tensors: images ``(n, C, H, W)``, clinical ``(n, F)``, labels
    ``(n,)`` and, for text models, token ids ``(n, L)``.

    Works with a torch ``DataLoader`` (per-sample ``__getitem__``), and with
    :class:`TensorBatchIterator`, which indexes whole batches at once and skips per-sample
    Python work and collation.
    """

    def __len__(self):
        return self.images.shape[0]

    def inputs(self, index):
        """The module's keyword inputs for ``index`` (an int, slice or index tensor)."""
        return self._optional(
            {"images": self.images[index], "clinical": self.clinical[index]}, index
        )

    def __getitem__(self, index):
        return self.inputs(index), self._target(index)

    def take(self, positions):
        """Return the samples at ``positions`` (a 1-D integer tensor or array) as a new dataset."""
        positions = torch.as_tensor(positions, dtype=torch.long, device=self.images.device)
        return FusionDataset(
            self.images[positions], self.clinical[positions], *self._rest(positions)
        )

    def to(self, device):
        """Return the dataset with every tensor on ``device``."""
        return FusionDataset(
            self.images.to(device),
            self.clinical.to(device),
            None if self.y is None else self.y.to(device),
            None if self.tokens is None else self.tokens.to(device),
            None if self.masks is None else self.masks.to(device),
            {name: mask.to(device) for name, mask in self.present.items()},
        )


class LazyFusionDataset(_Samples):
    """Samples whose images are read one by one from a :class:`~skfusion._input.LazyImages`.

    Clinical values, token ids and labels are small and held as tensors; images are read in
    ``__getitem__``, so a ``DataLoader`` with workers reads them in parallel with training.
    """

    def __len__(self):
        return len(self.images)

    def __getitem__(self, index):
        present = self.present.get("image_present")
        if present is not None and not bool(present[index]):
            # No image (its file is absent): a placeholder the network does not read.
            image = np.zeros(self.images.sample_shape, dtype=np.float32)
        else:
            image = self.images.read(index)
        if not np.isfinite(image).all():
            raise ValueError(
                f"image {index} of {self.images!r} contains NaN or infinite values; fix or "
                "drop that sample."
            )
        x = {"images": torch.from_numpy(image), "clinical": self.clinical[index]}
        return self._optional(x, index), self._target(index)

    def take(self, positions):
        """Return the samples at ``positions`` as a new lazy dataset."""
        positions = np.asarray(positions, dtype=int)
        index = torch.as_tensor(positions, dtype=torch.long)
        return LazyFusionDataset(
            self.images.take(positions), self.clinical[index], *self._rest(index)
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
    merge_singleton : bool or int, default=False
        Merge a last batch of one sample into the previous batch (batch normalisation cannot
        train on one sample); an int k merges a last batch of fewer than k samples.
    device : str or torch.device, default="cpu"
        Where batches are sent.
    channels_last : bool, default=False
        Give image batches the channels-last memory layout.
    **loader_options
        ``DataLoader`` options that matter only for data read from disk (``num_workers``,
        ``pin_memory``, ``persistent_workers``, ``prefetch_factor``, ``timeout``); accepted
        so that the same settings work for lazy and in-memory input, and ignored here.
    """

    _LOADER_OPTIONS = {
        "num_workers",
        "pin_memory",
        "persistent_workers",
        "prefetch_factor",
        "timeout",
        "worker_init_fn",
        "multiprocessing_context",
    }

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
            x = {
                name: value.to(self.device, non_blocking=non_blocking) for name, value in x.items()
            }
            x["images"] = x["images"].contiguous(memory_format=memory_format)
            if y is None:
                y = torch.zeros(stop - start, dtype=torch.long)
            yield x, y.to(self.device, non_blocking=non_blocking)


def _batch_bounds(n, batch_size, merge_singleton):
    """(start, stop) of each batch; a last batch of one sample (``merge_singleton=True``), or
    of fewer than ``merge_singleton`` samples (an int: a data-parallel fit needs one sample
    per process), optionally joins the previous."""
    bounds = [(start, min(start + batch_size, n)) for start in range(0, n, batch_size)]
    smallest = 2 if merge_singleton is True else int(merge_singleton or 0)
    if smallest and len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] < smallest:
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
            yield (list(range(start, stop)) if order is None else order[start:stop].tolist())


class LazyBatchLoader(torch.utils.data.DataLoader):
    """A ``DataLoader`` over a :class:`LazyFusionDataset` that forms the same batches, in the
    same order, as :class:`TensorBatchIterator` does for in-memory data, so both give the same
    model. Other ``DataLoader`` arguments (``num_workers``, ``pin_memory``...) pass through.
    """

    def __init__(
        self, dataset, batch_size, shuffle=False, random_state=None, merge_singleton=False, **kwargs
    ):
        sampler = BatchIndexSampler(
            len(dataset), batch_size, shuffle, random_state, merge_singleton
        )
        super().__init__(dataset, batch_sampler=sampler, **kwargs)


def make_dataset(
    images, clinical, y=None, tokens=None, masks=None, image_present=None, text_present=None
):
    """A dataset of numpy inputs: :class:`LazyFusionDataset` for lazily read images, else an
    in-memory :class:`FusionDataset`. ``y`` keeps its dtype (int64 labels, float32 targets);
    ``masks`` (uint8, the localisation targets) stay in memory either way; the presence
    masks (bool, one per sample, or None when every sample has that modality) travel with
    each batch as the module's ``image_present`` / ``text_present`` inputs."""
    present = {
        name: torch.from_numpy(np.ascontiguousarray(mask, dtype=bool))
        for name, mask in (("image_present", image_present), ("text_present", text_present))
        if mask is not None
    }
    from .._input import LazyImages

    y = None if y is None else torch.from_numpy(np.ascontiguousarray(y))
    tokens = None if tokens is None else torch.from_numpy(tokens)
    masks = None if masks is None else torch.from_numpy(np.ascontiguousarray(masks))
    if isinstance(images, LazyImages):
        return LazyFusionDataset(images, torch.from_numpy(clinical), y, tokens, masks, present)
    return FusionDataset(
        torch.from_numpy(images), torch.from_numpy(clinical), y, tokens, masks, present
    )
