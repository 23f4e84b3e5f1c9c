"""A linear path from the image's principal components to the outputs, beside the deep
network: the image's counterpart of the clinical shortcut (:class:`~skfusion.nn.clinical.
ClinicalShortcut`).

Where an image's signal is diffuse (atrophy, a global intensity), a linear model on its pixels
is the strong baseline (Wen et al., 2020, found a linear SVM on voxels as good as CNNs for
AD vs NC). A network that starts at zero contribution from the image starts below it;
with this path it starts *at* it: the estimators fit the principal components on the
training images, set :attr:`ImageShortcut.linear` (and the clinical shortcut) to a
penalised linear model on the components and the table, and start the deep head at zero,
so training adds to that model what it misses.

The path reads each sample's image average-pooled by an integer factor until it holds at
most :data:`PIXEL_BUDGET` values (a slice stack ``(S, H, W)`` keeps its S slices as
channels; a volume is pooled along its three axes), so its cost is bounded for large
images. A sample without an image (``image_present`` False) gets the training images'
mean, scores 0 on every component: mean imputation, the linear model's stand-in.
"""

import inspect
import math

import torch
from torch import nn
from torch.nn import functional as F

from ._checks import check_positive_int

__all__ = ["PIXEL_BUDGET", "ImageShortcut", "ImageShortcutNet", "pool_factor"]

#: At most this many values per sample enter the principal components (64 x 64: no pooling).
PIXEL_BUDGET = 4096

_POOL = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}


def pool_factor(sample_shape, budget=PIXEL_BUDGET):
    """The smallest integer factor by which average pooling along every spatial axis of
    ``sample_shape`` (channels first) leaves at most ``budget`` values (at least one
    position per axis)."""
    channels, spatial = int(sample_shape[0]), [int(s) for s in sample_shape[1:]]
    factor = 1
    while channels * math.prod(max(1, s // factor) for s in spatial) > budget and any(
        s // factor > 1 for s in spatial
    ):
        factor += 1
    return factor


class ImageShortcut(nn.Module):
    """Outputs from a linear function of the image's standardised principal components.

    Parameters
    ----------
    n_outputs : int
    sample_shape : tuple of int
        One sample's image shape, channels first: ``(C, H, W)``, ``(C, D, H, W)`` or a
        slice stack's ``(S, H, W)``.
    n_components : int, default=20
        Principal components read (fewer may be set: the rest stay zero).

    Notes
    -----
    The buffers ``mean`` (pooled values), ``components`` ``(n_components, values)`` and
    ``scale`` (each component's SD on the training images) start as zeros and ones and are
    set by :meth:`set_components`; ``linear`` starts at zero.
    """

    def __init__(self, n_outputs, sample_shape, n_components=20):
        super().__init__()
        check_positive_int("n_outputs", n_outputs)
        check_positive_int("n_components", n_components)
        self.sample_shape = tuple(int(s) for s in sample_shape)
        if len(self.sample_shape) not in (2, 3, 4):
            raise ValueError(
                f"sample_shape must be (C, *spatial) with 1-3 spatial axes; got {sample_shape!r}."
            )
        self.factor = pool_factor(self.sample_shape)
        values = self.sample_shape[0] * math.prod(
            max(1, s // self.factor) for s in self.sample_shape[1:]
        )
        self.register_buffer("mean", torch.zeros(values))
        self.register_buffer("components", torch.zeros(n_components, values))
        self.register_buffer("scale", torch.ones(n_components))
        self.linear = nn.Linear(n_components, n_outputs)
        self.post_init_()

    def post_init_(self, generator=None):
        """Zero the linear layer."""
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)

    def pooled(self, images):
        """Each sample's image average-pooled to at most :data:`PIXEL_BUDGET` values,
        flattened: ``(n, values)``."""
        if self.factor > 1:
            images = _POOL[images.dim() - 2](images, self.factor)
        return images.reshape(images.shape[0], -1)

    def set_components(self, mean, components, scale):
        """Set the buffers from arrays: ``components`` may have fewer rows than
        ``n_components`` (the rest score 0)."""
        with torch.no_grad():
            self.mean.copy_(torch.as_tensor(mean, dtype=self.mean.dtype))
            self.components.zero_()
            self.scale.fill_(1.0)
            k = len(components)
            self.components[:k] = torch.as_tensor(components, dtype=self.components.dtype)
            self.scale[:k] = torch.as_tensor(scale, dtype=self.scale.dtype)

    def scores(self, images, image_present=None):
        """Standardised component scores ``(n, n_components)``; 0 where no image."""
        values = self.pooled(images).to(self.mean.dtype)
        scores = (values - self.mean) @ self.components.T / self.scale
        if image_present is not None:
            scores = scores * image_present.view(-1, 1).to(scores.dtype)
        return scores

    def forward(self, images, image_present=None):
        """The path's outputs ``(n, n_outputs)``."""
        return self.linear(self.scores(images, image_present))


class ImageShortcutNet(nn.Module):
    """A fusion network (``deep_class``) plus an :class:`ImageShortcut` on its images.

    Parameters
    ----------
    deep_class : type
        The network (a family's module, or a slice stack around one).
    n_outputs : int
    image_shape : tuple of int
        One sample's image shape as the network receives it.
    image_components : int, default=20
    **deep_kwargs
        Arguments of ``deep_class``.

    Notes
    -----
    The deep network's heads start at zero (:meth:`post_init_`), so a new network outputs
    what its shortcuts are set to. Attributes not found here are looked up on the deep
    network (``shortcut``, ``image_encoder``, ``slice_weights_out``...).
    """

    def __init__(self, deep_class, n_outputs, image_shape, image_components=20, **deep_kwargs):
        super().__init__()
        self.deep = deep_class(n_outputs=n_outputs, **deep_kwargs)
        self.image_shortcut = ImageShortcut(n_outputs, image_shape, image_components)
        self._reads = set(inspect.signature(self.deep.forward).parameters)

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            # Only through ``__dict__``: while unpickling or copying there is no
            # ``_modules`` yet, and reading it here would recurse. Dunder names (which
            # copy and pickle probe) are never delegated.
            deep = self.__dict__.get("_modules", {}).get("deep")
            if deep is None or (name.startswith("__") and name.endswith("__")):
                raise
            return getattr(deep, name)

    def post_init_(self, generator=None):
        """Zero the deep network's heads: it starts at zero contribution."""
        for module in self.deep.modules():
            head = module._modules.get("head")
            if isinstance(head, nn.Linear):
                nn.init.zeros_(head.weight)
                nn.init.zeros_(head.bias)

    def forward(self, images, clinical=None, tokens=None, image_present=None, text_present=None):
        """The deep network's outputs plus the image shortcut's."""
        inputs = {"images": images, "clinical": clinical}
        for name, value in (
            ("tokens", tokens),
            ("image_present", image_present),
            ("text_present", text_present),
        ):
            if value is not None and (name == "tokens" or name in self._reads):
                inputs[name] = value
        outputs = self.deep(**inputs)
        return outputs + self.image_shortcut(images, image_present)
