"""Training a fusion estimator: a new fit, and a fitted network trained further (warm start,
``partial_fit``), restored on any error. The estimator core (:mod:`.estimator`) calls these;
the task layer's hooks (target encoder, shortcut start, after-training attributes) are
called back on the estimator."""

import warnings

import numpy as np
from sklearn.utils import check_random_state

from ..._input import LazyImages, subjects_of, warn_if_subjects_repeat
from ..._net.callbacks import ValidationSplit
from ..._net.device import resolve_device
from ...nn.augment import augmentation_policy, policy_flips
from ...preprocessing._table import TableEncoder
from ..files import model_files
from ..inputs.input_checks import check_groups, resolve_slices
from ..inputs.masks import check_masks
from ..parameters.params import check_routed_params
from ..pretrained.image_weights import check_image_weights, freeze, load_image_weights
from .building import bind_checkpoints, net_callbacks
from .convergence import warn_if_still_improving
from .encoders import extra_module_params
from .linear_start import start_linear_paths
from .settings import Settings

__all__ = [
    "check_augment",
    "check_trainable",
    "continue_training",
    "fit_new",
    "fit_table_encoder",
    "trained_positions",
    "training_positions",
]


def check_augment(settings):
    """Check ``augment`` before any work: a policy, and no flips where the target is
    not mirrored with the image (``settings``: the estimator's :class:`~.settings.Settings`)."""
    if isinstance(settings.augment, str) and settings.augment == "custom":
        raise ValueError(
            "augment='custom': this model was fitted with a custom augmentation callable, "
            "which model files do not hold. Pass it again to train further: "
            "model.set_params(augment=<your callable>) (or 'auto', a dict, True/False)."
        )
    policy = augmentation_policy(settings.augment)
    if settings.flip_refusal and policy_flips(policy):
        raise ValueError(
            f"augment={settings.augment!r} flips images left-right, which "
            f"{settings.family.__name__} refuses: {settings.flip_refusal} Use "
            "augment='auto' (no flips) or a dict with flip=0."
        )


def check_trainable(n_samples, settings):
    """The number of samples the network trains on (all but the held-out part); refuses
    fewer than 2, which batch normalisation cannot train on."""
    n_train = n_samples
    if settings.held_out:
        n_train -= int(np.ceil(settings.validation_fraction * n_train))
    if n_train < 2:
        raise ValueError(
            f"X has {n_samples} sample(s), leaving {n_train} for training; batch "
            "normalisation needs at least 2. Pass more samples"
            + (f" or set {' and '.join(settings.held_out)}." if settings.held_out else ".")
        )
    return n_train


def training_positions(settings, n_samples, seed, groups, stratify):
    """The positions the network will train on: all, or all but the validation part of the
    split it will make (nothing is learned from that part: encoder, shortcut start)."""
    train = np.arange(n_samples)
    if not settings.held_out:
        return train
    split = ValidationSplit(settings.validation_fraction, seed, groups, stratify)
    split(np.arange(n_samples))
    return np.setdiff1d(train, split.valid_positions_)


def fit_table_encoder(settings, clinical, train):
    """The clinical preprocessing fitted on the training positions (None when the network
    reads no clinical values, there are none, or ``clinical_preprocessing`` is not "auto")."""
    if not (
        settings.uses_clinical and settings.clinical_preprocessing == "auto" and clinical.shape[1]
    ):
        return None
    return TableEncoder().fit(
        clinical.iloc[train] if hasattr(clinical, "iloc") else clinical[train]
    )


def fit_new(estimator, X, y, *, groups, epochs, classes):
    """A new fit: check the input, build the net, train it, recompute its batch
    normalisation statistics, and set the fitted attributes only once all succeeded."""
    settings = Settings.of(estimator)
    check_routed_params(estimator)
    check_augment(settings)
    weights = check_image_weights(settings)
    device = resolve_device(settings.device)
    checked = estimator._check_X(X, fitting=True)
    images, clinical, X = checked.images, checked.clinical, checked.X
    slices = resolve_slices(settings, X, images)
    n_samples = images.shape[0]
    n_features = clinical.shape[1]
    masks = estimator._training_masks(X, images, slices)
    extra_arrays, extra_fitted = (
        ({}, {}) if estimator._extra_inputs is None else estimator._extra_inputs(estimator).fit(X)
    )
    checked = checked.with_extras(extra_arrays)
    target = estimator._target_encoder(estimator).fit(y, n_samples=n_samples, classes=classes)
    target_fitted = target.fitted
    groups = check_groups(subjects_of(X, groups), n_samples)
    if settings.held_out and groups is None:
        warn_if_subjects_repeat(X, X.clinical, "the held-out validation split", stacklevel=6)
    check_trainable(n_samples, settings)
    seed = int(check_random_state(settings.random_state).randint(np.iinfo(np.int32).max))
    train = training_positions(settings, n_samples, seed, groups, target.stratify)
    encoder = fit_table_encoder(settings, clinical, train)
    if encoder is not None:
        clinical = encoder.transform(clinical)
        checked = checked.with_clinical(clinical)
    dataset = checked.dataset(target.values, masks=masks, **estimator._target_inputs(target))
    net = estimator._build_net(
        lazy=isinstance(images, LazyImages),
        n_outputs=target.n_outputs,
        n_clinical=clinical.shape[1],
        in_channels=images.shape[1],
        device=device,
        seed=seed,
        groups=groups,
        stratify=target.stratify,
        criterion=estimator._criterion_params(target),
        extra_module=extra_module_params(type(estimator), extra_fitted),
        slices=slices,
        localize=masks is not None,
        image_shape=tuple(images.shape[1:]),
    )
    net.initialize_seeded()
    common = {
        "n_features_in_": n_features,
        "feature_names_in_": checked.columns,
        "channel_names_in_": X.channel_names,
        "clinical_encoder_": encoder,
        "image_shape_": tuple(images.shape[1:]),
        "device_": device,
        "seed_": seed,
        "slices_": slices,
        "localizes_": masks is not None,
        **load_image_weights(settings, net, weights),
    }
    bind_checkpoints(
        estimator,
        model_files.fitted_state(estimator, common, target_fitted, extra_fitted),
        common["pretrained_weights_"],
    )
    start_linear_paths(
        net,
        dataset,
        clinical,
        target,
        train,
        seed,
        start=estimator._start_shortcut,
        image_components=settings.image_components,
        threads=settings.n_threads,
    )
    net.partial_fit(dataset, y=None, epochs=epochs)
    if epochs is None:
        warn_if_still_improving(settings, net)
    net.recompute_batchnorm(
        dataset.take(trained_positions(net, n_samples)), threads=settings.n_threads
    )
    target_fitted = {**target_fitted, **estimator._after_training(net, dataset, target)}
    # Fitted state is assigned only once training has finished.
    estimator._assign_fitted(net, common, target_fitted, extra_fitted)
    if settings.held_out:
        estimator.validation_indices_ = net.train_split.valid_positions_
    elif hasattr(estimator, "validation_indices_"):
        del estimator.validation_indices_
    estimator.interrupted_ = dict(net.callbacks_)["interrupt_recovery"].interrupted_
    return estimator


def continue_training(estimator, X, y, *, groups, classes, epochs):
    """Train the fitted network further; on any error the model is restored."""
    settings = Settings.of(estimator)
    check_augment(settings)
    checked = estimator._check_X(X, fitting=False, training=True)
    images, X = checked.images, checked.X
    target = estimator._target_encoder(estimator).transform(
        y, n_samples=images.shape[0], classes=classes
    )
    groups = check_groups(subjects_of(X, groups), images.shape[0])
    masks = None
    if X.masks is not None and estimator.localizes_:
        masks = check_masks(X.masks, images.shape[0], images.shape[1:], estimator.slices_)
    elif X.masks is not None:
        warnings.warn(
            "X.masks are ignored: this model was fitted without masks, so it "
            "has no localisation head to train. Fit a new model with masks "
            "(warm_start=False) to learn to localise.",
            UserWarning,
            stacklevel=4,
        )
    dataset = checked.dataset(target.values, masks=masks, **estimator._target_inputs(target))
    net = estimator.net_
    # Continue with the estimator's current training settings and callbacks.
    net.set_params(
        lr=settings.lr,
        max_epochs=settings.max_epochs,
        batch_size=settings.batch_size,
        verbose=int(settings.verbose),
        augment=settings.augment,
        modality_dropout=settings.modality_dropout if settings.multimodal else 0.0,
        localization_weight=settings.localization_weight,
    )
    net.train_split = (
        ValidationSplit(settings.validation_fraction, estimator.seed_, groups, target.stratify)
        if settings.held_out
        else None
    )
    bind_checkpoints(
        estimator,
        model_files.current_fitted_state(estimator),
        getattr(estimator, "pretrained_weights_", None),
    )
    if getattr(estimator, "pretrained_weights_", None) is not None:
        freeze(settings.freeze, net, estimator.image_weights_loaded_)
    net.callbacks = net_callbacks(settings)
    net.initialize_callbacks()
    snapshot = net.snapshot()
    before = len(net.history)
    try:
        net.partial_fit(dataset, y=None, epochs=epochs)
        if epochs is None:
            warn_if_still_improving(settings, net, before)
        net.recompute_batchnorm(
            dataset.take(trained_positions(net, len(dataset))), threads=settings.n_threads
        )
        after = estimator._after_training(net, dataset, target)
    except BaseException:
        net.restore(snapshot)
        raise
    for name, value in after.items():
        setattr(estimator, name, value)
    estimator.interrupted_ = dict(net.callbacks_)["interrupt_recovery"].interrupted_
    estimator.n_epochs_ = len(net.history)
    return estimator


def trained_positions(net, n_samples):
    """The positions the network trained on (all but its held-out validation part)."""
    split = net.train_split
    held_out = getattr(split, "valid_positions_", None) if split is not None else None
    return (
        np.arange(n_samples) if held_out is None else np.setdiff1d(np.arange(n_samples), held_out)
    )
