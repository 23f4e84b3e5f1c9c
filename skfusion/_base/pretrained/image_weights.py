"""``image_weights=`` and ``freeze=`` of every estimator: pretrained weights loaded into the
network's image encoder when ``fit`` builds it, parts of it held fixed, what loaded recorded
as fitted attributes, and the encoder's own weights handed on
(``image_encoder_state_dict``)."""

import os
from numbers import Integral

import numpy as np
from sklearn.frozen import FrozenEstimator
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ..._net.maps import image_encoder_of
from .weights import PretrainedWeights, apply_freeze, frozen_keys, load_into, resolve_image_weights

__all__ = [
    "IMAGE_WEIGHTS_CONSTRAINTS",
    "check_image_weights",
    "freeze",
    "image_encoder_state",
    "load_image_weights",
]


class _Level(Interval):
    """An int in the interval, never a bool (``freeze=True`` is no level, though ``bool`` is
    an ``Integral``)."""

    def is_satisfied_by(self, val):
        return not isinstance(val, (bool, np.bool_)) and super().is_satisfied_by(val)

    def __str__(self):
        return (
            f"{super().__str__()} (the stem and stages 1..k; not a bool: "
            "freeze='encoder' holds the whole pretrained encoder fixed)"
        )


IMAGE_WEIGHTS_CONSTRAINTS = {
    "image_weights": [
        None,
        str,
        os.PathLike,
        PretrainedWeights,
        FrozenEstimator,
        HasMethods(["image_encoder_state_dict"]),
    ],
    "freeze": [None, StrOptions({"stem", "encoder"}), _Level(Integral, 1, 4, closed="both")],
}


def check_image_weights(settings):
    """The weights ``image_weights`` names (:class:`PretrainedWeights`) or None, checked
    before any work (``settings``: the estimator's :class:`~.settings.Settings`)."""
    if settings.image_weights is None:
        if settings.freeze is not None:
            raise ValueError(
                f"freeze={settings.freeze!r} holds pretrained parts of the image encoder "
                "fixed, but image_weights=None: there is nothing pretrained to hold. Pass "
                "image_weights= (a weights file or a fitted estimator), or freeze=None."
            )
        return None
    if not settings.reads_images:
        raise ValueError(
            f"image_weights is set, but {settings.description} has no image path to "
            "load them into; use a mode that reads images, or image_weights=None."
        )
    return resolve_image_weights(settings.image_weights)


def load_image_weights(settings, net, weights):
    """Load ``weights`` into ``net``'s image encoder, freeze what ``settings.freeze`` says,
    and return the fitted attributes that record it."""
    if weights is None:
        return {"pretrained_weights_": None}
    encoder, _ = image_encoder_of(net.module_)
    if encoder is None:
        raise ValueError(
            f"{settings.description}(image_weights=...): its network "
            f"({settings.module_class.__name__}) has no `image_encoder` to load them "
            "into. Image weights, freeze and Grad-CAM find the image network as the module's "
            "`image_encoder` attribute (a skfusion.nn ResNet); name it so, or fit without "
            "image_weights (docs/developers.md, the family contract)."
        )
    report = load_into(encoder, weights)
    freeze(settings.freeze, net, report.loaded)
    return {
        "pretrained_weights_": weights,
        "image_weights_sha256_": weights.sha256,
        "image_weights_loaded_": report.loaded,
        "image_weights_not_loaded_": report.not_loaded,
        "image_weights_unused_": report.unused,
    }


def freeze(parts, net, loaded):
    """Hold the pretrained parts that ``parts`` (the ``freeze`` parameter) names fixed in
    ``net`` (again after a model file is loaded: gradients flags are not saved)."""
    encoder, _ = image_encoder_of(net.module_)
    if encoder is None:
        return
    keys = frozen_keys(parts, loaded)
    norms = apply_freeze(encoder, keys)
    modules = dict(encoder.named_modules())
    net.frozen_norms_ = [modules[name] for name in norms]


def image_encoder_state(estimator):
    """The image encoder's CPU tensors (see ``image_encoder_state_dict``)."""
    check_is_fitted(estimator)
    encoder, _ = image_encoder_of(estimator.net_.module_)
    if encoder is None:
        raise ValueError(f"{estimator._describe_config()} has no image encoder to hand on.")
    return {k: v.detach().to("cpu").clone() for k, v in encoder.state_dict().items()}
