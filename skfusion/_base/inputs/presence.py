"""Patients without a modality, in the estimator core: the presence masks a
:class:`~skfusion.FusionInput` carries, turned into the network's ``image_present`` /
``text_present`` inputs; the refusals where a missing image cannot be worked around
(a map of an image that is not there); and :func:`modalities_used`."""

import numpy as np

__all__ = ["modalities_used", "presence_arrays", "refuse_missing_images"]


def _mask(X, name):
    present = getattr(X, "present", None) or {}
    mask = present.get(name)
    return None if mask is None else np.asarray(mask, dtype=bool)


def presence_arrays(estimator, X, *, fitting):
    """The ``make_dataset`` keywords of ``X``'s presence masks for ``estimator``: only the
    masks of inputs its network reads, and only where a patient lacks one. Refused, with
    the reason: a network that cannot stand in for a missing image (``_missing_images``
    names why), and a ``fit`` where no patient has an image."""
    reads = estimator._inputs_read()
    arrays = {}
    images = _mask(X, "images")
    if images is not None and "images" in reads:
        refusal = getattr(estimator, "_missing_images", None)
        if refusal:
            first = np.flatnonzero(~images)[:5].tolist()
            raise ValueError(
                f"X has {int((~images).sum())} sample(s) without an image (first at "
                f"{first}), which {type(estimator).__name__} cannot take: {refusal} Pass "
                "only samples with an image, e.g. X[X.present['images']]."
            )
        if fitting and not images.any():
            raise ValueError(
                f"no sample of X has an image, so {estimator._describe_config()} has nothing "
                "to learn its image path from; pass patients with images, or fit a clinical "
                "model (e.g. ClinicalAttentionClassifier(mode='clinical'))."
            )
        arrays["image_present"] = images
    text = _mask(X, "text")
    if text is not None and "text" in reads:
        arrays["text_present"] = text
    return arrays


def refuse_missing_images(X, what):
    """Refuse samples without an image where ``what`` (a map of the image) needs one."""
    images = _mask(X, "images")
    if images is not None and not images.all():
        first = np.flatnonzero(~images)[:5].tolist()
        raise ValueError(
            f"{what} maps each sample's image, but {int((~images).sum())} sample(s) of X have "
            f"none (first at {first}); pass only samples with an image, e.g. "
            "X[X.present['images']]."
        )


def modalities_used(estimator, X):
    """Which modalities each prediction of ``estimator`` for ``X`` uses: a DataFrame with one
    boolean column per input the network reads ("images", "clinical", "text"), one row per
    sample. A missing image or report is False; clinical values count as used where the
    row has at least one observed value (missing values are imputed)."""
    import pandas as pd

    from ..._input import as_fusion_input

    X = as_fusion_input(X)
    n = len(X)
    reads = estimator._inputs_read()
    columns = {}
    for name in ("images", "clinical", "text"):
        if name not in reads:
            continue
        if name == "clinical":
            if X.clinical is None or (getattr(estimator, "n_features_in_", 1) == 0):
                columns[name] = np.zeros(n, dtype=bool)
                continue
            frame = pd.DataFrame(X.clinical) if not hasattr(X.clinical, "isna") else X.clinical
            columns[name] = (~frame.isna().to_numpy()).any(axis=1)
            continue
        mask = _mask(X, name)
        columns[name] = np.ones(n, dtype=bool) if mask is None else mask
    return pd.DataFrame(columns)
