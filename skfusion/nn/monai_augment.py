"""MONAI's random transforms as an estimator's ``augment``, seeded from the network's own
generator (``pip install "skfusion[monai]"``).

A MONAI random transform draws from its own ``numpy.random.RandomState``; used as it is, a
fit would depend on whatever state that holds, not on ``random_state``. :class:`MonaiAugment`
reseeds the transform from the generator skfusion passes to every training step, once per
image, so fits are reproducible and every draw flows from ``random_state``.
"""

import torch

__all__ = ["MonaiAugment"]


class MonaiAugment:
    """A MONAI random transform, applied image by image, reseeded from the net's generator.

    Parameters
    ----------
    transform : MONAI transform
        A randomisable MONAI transform (it has ``set_random_state``, as every ``Rand*``
        transform and ``Compose`` do). Without ``keys``, an array transform called on one
        channel-first image ``(C, *spatial)``, e.g. ``RandAffine(prob=1, rotate_range=0.1)``.
        With ``keys``, a dictionary transform called on ``{keys[0]: image, keys[1]: mask}``,
        e.g. ``RandAffined(["image", "mask"], mode=["bilinear", "nearest"], ...)``: the way
        to move localisation masks (``FusionInput(masks=...)``) with their images.
    keys : tuple of two str, default=None
        The image's and the mask's keys of a dictionary transform.

    Notes
    -----
    Model files record that a custom policy was used, not the transform (files hold data,
    never code); pass it again with ``set_params(augment=...)`` to train a loaded model
    further. A transform that cannot be seeded is refused: its draws could not be repeated.

    Examples
    --------
    >>> from monai.transforms import RandAffine
    >>> from skfusion.nn import MonaiAugment
    >>> augment = MonaiAugment(RandAffine(prob=1.0, rotate_range=0.1, padding_mode="zeros"))
    >>> images = torch.rand(4, 1, 16, 16)
    >>> first = augment(images, torch.Generator().manual_seed(0))
    >>> again = augment(images, torch.Generator().manual_seed(0))
    >>> bool(torch.equal(first, again)), tuple(first.shape)
    (True, (4, 1, 16, 16))
    """

    def __init__(self, transform, keys=None):
        if not hasattr(transform, "set_random_state"):
            raise TypeError(
                f"MonaiAugment(transform={type(transform).__name__}) cannot be seeded: it has no "
                "set_random_state, so its draws could not follow random_state. Pass a MONAI "
                "random transform (RandAffine, RandGaussianNoise, Compose([...]) of them)."
            )
        if keys is not None and (isinstance(keys, str) or len(tuple(keys)) != 2):
            raise ValueError(
                f"MonaiAugment(keys={keys!r}); expected the image's and the "
                "mask's keys of a dictionary transform, e.g. ('image', 'mask')."
            )
        self.transform = transform
        self.keys = None if keys is None else tuple(keys)

    def __repr__(self):
        return f"MonaiAugment({self.transform!r}, keys={self.keys!r})"

    def __call__(self, images, generator, masks=None):
        if masks is not None and self.keys is None:
            raise ValueError(
                "augment=MonaiAugment(transform) was given localisation masks, which must move "
                "with their images: pass a dictionary transform and its keys, e.g. "
                "MonaiAugment(RandAffined(['image', 'mask'], mode=['bilinear', 'nearest'], "
                "...), keys=('image', 'mask'))."
            )
        out, moved = [], []
        for i in range(len(images)):
            seed = torch.randint(0, 2**31 - 1, (), generator=generator, device=generator.device)
            self.transform.set_random_state(seed=int(seed))
            if self.keys is None:
                out.append(_plain(self.transform(images[i]), images))
                continue
            mask = masks[i]
            channelled = mask.dim() < images[i].dim()
            mask = mask.unsqueeze(0) if channelled else mask
            result = self.transform({self.keys[0]: images[i], self.keys[1]: mask.float()})
            out.append(_plain(result[self.keys[0]], images))
            mask = _plain(result[self.keys[1]], masks).to(masks.dtype)
            moved.append(mask[0] if channelled else mask)
        out = torch.stack(out)
        return out if masks is None else (out, torch.stack(moved))


def _plain(tensor, like):
    """A MONAI output (MetaTensor or array) as a plain tensor on ``like``'s device."""
    if hasattr(tensor, "as_tensor"):
        tensor = tensor.as_tensor()
    return torch.as_tensor(tensor).to(device=like.device, dtype=like.dtype)
