"""What every explanation needs: the fitted skfusion estimator behind a pipeline, and its
inputs in batches on its device."""

import numpy as np
import torch
from sklearn.base import is_classifier
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from ..._input import as_fusion_input
from ..._net.maps import image_encoder_of
from ..inputs.presence import refuse_missing_images

__all__ = []


def _final_estimator(estimator, X):
    """The fitted skfusion estimator and X transformed by the pipeline steps before it."""
    if isinstance(estimator, Pipeline):
        X = estimator[:-1].transform(X)
        estimator = estimator[-1]
    check_is_fitted(estimator)
    if not hasattr(estimator, "net_"):
        raise TypeError(f"expected a fitted skfusion estimator; got {type(estimator).__name__}.")
    return estimator, as_fusion_input(X)


def _batches(estimator, X):
    """Yield (positions, module inputs) in batches, on the estimator's device."""
    refuse_missing_images(X, "this explanation")
    dataset = estimator._check_X(X, fitting=False).dataset(presence=False)
    device = torch.device(estimator.net_.device)
    size = estimator.batch_size
    for start in range(0, len(dataset), size):
        positions = np.arange(start, min(start + size, len(dataset)))
        if hasattr(dataset, "inputs"):
            x = dataset.inputs(torch.as_tensor(positions))
        else:
            items = [dataset[i][0] for i in positions]
            x = {k: torch.stack([item[k] for item in items]) for k in items[0]}
        yield positions, {k: v.to(device) for k, v in x.items()}


def _target_indices(estimator, target, n):
    """The output explained per sample, as an int array (n,), or None for each sample's
    predicted class. Classifiers: ``target`` is a label or one per sample; regressors: an
    output index (``None``: the first); survival models: ``None`` (the risk)."""
    target_index = None
    n_outputs = None if is_classifier(estimator) else getattr(estimator, "n_outputs_", 1)
    if n_outputs is not None:
        if target is None:
            target = 0
        if (
            isinstance(target, bool)
            or not isinstance(target, (int, np.integer))
            or not (0 <= target < n_outputs)
        ):
            raise ValueError(
                f"target must be None or an output index in [0, {n_outputs}) for "
                f"{type(estimator).__name__}; got {target!r}."
            )
        target_index = np.full(n, int(target))
    elif target is not None:
        labels = np.broadcast_to(np.asarray(target, dtype=object), (n,))
        unknown = sorted({t for t in labels if t not in set(estimator.classes_.tolist())}, key=str)
        if unknown:
            raise ValueError(
                f"target has labels {unknown} not in classes_ {estimator.classes_.tolist()}."
            )
        target_index = np.array([estimator.classes_.tolist().index(t) for t in labels])
    return target_index


def image_maps(estimator, X, kernel, method, *, target=None, **options):
    """Maps of a fitted estimator's image path by ``kernel`` (``skfusion._net.maps``'s
    ``grad_cam_maps`` or ``saliency_maps``), explaining ``target`` (see
    :func:`_target_indices`); a ValueError names ``method`` when the model has no image
    path."""
    encoder, _ = image_encoder_of(estimator.net_.module_)
    if encoder is None:
        raise ValueError(
            f"{estimator._describe_config()} has no image path to explain (its module "
            f"{type(estimator)._module_class.__name__} holds no `image_encoder`: a mode "
            "without images, or a module outside the family contract of docs/developers.md); "
            f"{method} needs a model that looks at images."
        )
    target_index = _target_indices(estimator, target, len(X))
    return kernel(estimator.net_, _batches(estimator, X), target_index=target_index, **options)
