"""``localize`` for every image estimator: the supervised maps of a model fitted with masks
(its segmentation head), else weakly supervised maps (combined-stage Grad-CAM)."""

import numpy as np
from scipy.special import expit
from sklearn.utils.validation import check_is_fitted

from ..._input import as_fusion_input
from ..._net.device import torch_threads
from ..._net.maps import grad_cam_maps, saliency_maps
from ..inputs.presence import refuse_missing_images
from .explaining import image_maps

__all__ = ["localize"]


def localize(estimator, X, *, weak="saliency"):
    """What :meth:`BaseFusionEstimator.localize` returns (its docstring says what)."""
    check_is_fitted(estimator)
    X = as_fusion_input(X)
    if weak not in ("gradcam", "saliency"):
        raise ValueError(f"weak must be 'gradcam' or 'saliency'; got {weak!r}.")
    refuse_missing_images(X, "localize")
    if not getattr(estimator, "localizes_", False):
        if weak == "saliency":
            return image_maps(estimator, X, saliency_maps, "saliency")
        return image_maps(estimator, X, grad_cam_maps, "Grad-CAM", stage="combined")
    dataset = estimator._check_X(X, fitting=False).dataset(presence=False)
    with torch_threads(estimator.n_threads):
        logits = estimator.net_.predict_part(dataset, 1)
    return expit(logits).astype(np.float32)
