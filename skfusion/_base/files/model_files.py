"""Model files of the estimator core: the fitted state as plain JSON values, ``save``, and the
rebuild of a fitted estimator from a checked file (:func:`skfusion.load` calls the
estimator's ``_restore``, which calls :func:`restore`)."""

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ..._net.device import resolve_device
from ...nn.presence import STAND_INS
from ...preprocessing._table import TableEncoder
from ..core.encoders import extra_module_params
from ..parameters.params import check_routed_params
from ..pretrained.image_weights import freeze
from .persistence import ModelFileError, write_model_file

__all__ = ["current_fitted_state", "fitted_state", "restore", "save"]


def fitted_state(estimator, common, target_fitted, extra_fitted):
    """Fitted attributes as plain JSON values (for model files)."""
    columns = common["feature_names_in_"]
    encoder = common.get("clinical_encoder_")
    return {
        **estimator._target_encoder(estimator).state(target_fitted),
        "n_features_in": int(common["n_features_in_"]),
        "clinical_encoding": None if encoder is None else encoder.get_state(),
        "feature_names_in": None if columns is None else [str(c) for c in columns],
        "channel_names_in": (
            None if common.get("channel_names_in_") is None else list(common["channel_names_in_"])
        ),
        "image_shape": [int(d) for d in common["image_shape_"]],
        "slices": common.get("slices_") or "channels",
        "localization": bool(common.get("localizes_", False)),
        "trained_on": common["device_"],
        "seed": int(common["seed_"]),
        "extra": dict(extra_fitted),
        "image_weights": None
        if common.get("pretrained_weights_") is None
        else {
            "sha256": common["image_weights_sha256_"],
            **{
                key: list(common[f"image_weights_{key}_"])
                for key in ("loaded", "not_loaded", "unused")
            },
        },
    }


def current_fitted_state(estimator):
    common = {
        name: getattr(estimator, name, None)
        for name in (
            "n_features_in_",
            "feature_names_in_",
            "channel_names_in_",
            "clinical_encoder_",
            "image_shape_",
            "device_",
            "seed_",
            "slices_",
            "localizes_",
            "pretrained_weights_",
            "image_weights_sha256_",
            "image_weights_loaded_",
            "image_weights_not_loaded_",
            "image_weights_unused_",
        )
    }
    target = estimator._target_encoder(estimator).fitted()
    extra = (
        {}
        if estimator._extra_inputs is None
        else {name: getattr(estimator, name) for name in estimator._extra_inputs.attributes}
    )
    return fitted_state(estimator, common, target, extra)


def save(estimator, path, reading=None):
    """Write ``estimator`` to ``path`` (see :meth:`BaseFusionEstimator.save`); ``reading``:
    how the command line read the training table (``persistence.READING``)."""
    check_is_fitted(estimator)
    fitted = {**current_fitted_state(estimator), "n_epochs_": estimator.n_epochs_}
    write_model_file(
        path,
        estimator,
        fitted=fitted,
        net=estimator.net_,
        pretrained=getattr(estimator, "pretrained_weights_", None),
        reading=reading,
    )
    return path


def restore(cls, params, fitted, state, optimizer_state=None, *, source):
    """Rebuild a fitted estimator from a model file's checked contents."""
    encoding = fitted.get("clinical_encoding")
    if "clinical_preprocessing" not in params:  # files of skfusion < 0.3 had none
        params = {**params, "clinical_preprocessing": None}
    if "image_shortcut" not in params:  # nor files of skfusion < 0.4: no image shortcut
        params = {**params, "image_shortcut": None}
    estimator = cls(**params)
    try:
        estimator._validate_params()
        check_routed_params(estimator)
    except ValueError as exc:
        raise ModelFileError(f"{source}: {exc}") from None
    device = resolve_device(estimator.device)
    target_fitted, n_outputs = cls._target_encoder.restore(fitted)
    extra = fitted.get("extra", {})
    image_shape = tuple(fitted["image_shape"])
    # Files of skfusion < 0.3 read images as channels, or as the stack their param said.
    slices = fitted.get("slices") or (
        estimator.slices if estimator.slices in ("mean", "attention") else "channels"
    )
    if len(image_shape) != 1 + estimator.spatial_dims:
        raise ModelFileError(
            f"{source}: fitted.image_shape {list(image_shape)} does not "
            f"match spatial_dims={estimator.spatial_dims}."
        )
    net = estimator._build_net(
        lazy=False,
        n_outputs=n_outputs,
        n_clinical=(
            fitted["n_features_in"]
            if encoding is None
            else TableEncoder.from_state(encoding).n_outputs_
        ),
        in_channels=image_shape[0],
        device=device,
        seed=fitted.get("seed", 0),
        groups=None,
        stratify=None,
        criterion=estimator._criterion_params(None),
        extra_module=extra_module_params(cls, extra),
        slices=slices,
        localize=bool(fitted.get("localization", False)),
        image_shape=image_shape,
    )
    # Size the network on the meta device (nothing allocated) before building it: a
    # file cannot make load build more values than its weights file holds.
    expected = net.meta_state_shapes()
    found = {k: tuple(v.shape) for k, v in state.items()}
    # A file written before networks had stand-ins for missing modalities: the model is
    # rebuilt without them, and predicts for complete samples only, as it was trained to.
    absent = sorted(
        {
            key.rsplit(".", 1)[0]
            for key in set(expected) - set(found)
            if key.rsplit(".", 2)[-2] in STAND_INS
        }
    )
    expected = {k: v for k, v in expected.items() if k.rsplit(".", 1)[0] not in absent}
    if expected != found:
        differ = sorted(k for k in set(expected) & set(found) if expected[k] != found[k])
        raise ModelFileError(
            f"{source}: the saved weights do not fit the network its parameters describe "
            f"(missing {sorted(set(expected) - set(found))[:3]}, unexpected "
            f"{sorted(set(found) - set(expected))[:3]}, other shapes {differ[:3]}); the "
            "file is damaged or was edited."
        )
    if fitted.get("shuffle_state") is not None:
        kind, keys, position, has_gauss, gauss = fitted["shuffle_state"]
        rng = np.random.RandomState()
        rng.set_state((kind, np.asarray(keys, dtype=np.uint32), position, has_gauss, gauss))
        net.set_params(iterator_train__random_state=rng)
    net.initialize()
    if absent:
        for path in absent:
            parent, _, name = path.rpartition(".")
            setattr(net.module_.get_submodule(parent), name, None)
        net.initialize_optimizer()
    try:
        net.load_saved_state(state, optimizer_state, fitted.get("generator_state"))
    except RuntimeError as exc:
        raise ModelFileError(
            f"{source}: the saved weights do not fit the network its parameters describe "
            f"({str(exc).splitlines()[0]}); the file is damaged or was edited."
        ) from None
    # History up to the saved epoch, so that warm starts count epochs on from there.
    for _ in range(fitted.get("n_epochs_", 0)):
        net.history.new_epoch()
        net.history.record("epoch", len(net.history))
    names = fitted.get("feature_names_in")
    common = {
        "n_features_in_": fitted["n_features_in"],
        "feature_names_in_": None if names is None else np.asarray(names, dtype=object),
        "channel_names_in_": (
            None if fitted.get("channel_names_in") is None else tuple(fitted["channel_names_in"])
        ),
        "clinical_encoder_": (None if encoding is None else TableEncoder.from_state(encoding)),
        "image_shape_": image_shape,
        "device_": device,
        "slices_": slices,
        "localizes_": bool(fitted.get("localization", False)),
        "seed_": fitted.get("seed", 0),
        **_restore_image_weights(source, params.get("image_weights"), fitted.get("image_weights")),
    }
    estimator._assign_fitted(net, common, target_fitted, extra)
    if common["pretrained_weights_"] is not None:
        freeze(estimator.freeze, net, common["image_weights_loaded_"])
    estimator.interrupted_ = False
    return estimator


def _restore_image_weights(source, weights, recorded):
    """The fitted attributes of pretrained image weights from a model file's checked
    ``fitted.image_weights`` record (None: the model started from no weights)."""
    if weights is None:
        return {"pretrained_weights_": None}
    if not (
        isinstance(recorded, dict)
        and all(
            isinstance(recorded.get(key), list)
            and len(recorded[key]) <= 10**5
            and all(isinstance(k, str) and len(k) < 300 for k in recorded[key])
            for key in ("loaded", "not_loaded", "unused")
        )
    ):
        raise ModelFileError(
            f"{source}: fitted.image_weights must record the loaded, "
            "not_loaded and unused keys as lists of names."
        )
    return {
        "pretrained_weights_": weights,
        "image_weights_sha256_": weights.sha256,
        **{
            f"image_weights_{key}_": list(recorded[key])
            for key in ("loaded", "not_loaded", "unused")
        },
    }
