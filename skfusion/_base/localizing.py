"""``localize`` for every image estimator: the supervised maps of a model fitted with masks
(its segmentation head), else weakly supervised maps (combined-stage Grad-CAM)."""

import numpy as np
from scipy.special import expit
from sklearn.utils.validation import check_is_fitted

from .._net.data import make_dataset
from .._net.maps import grad_cam_maps, saliency_maps
from .explaining import image_maps
from .._input import as_fusion_input
from .._net.net import torch_threads

__all__ = ["LocalizeMixin"]


class LocalizeMixin:
    """``localize(X)`` for :class:`skfusion._base.estimator.BaseFusionEstimator`."""

    def localize(self, X, *, weak="saliency"):
        """Where the finding is: a map in [0, 1] per sample, at input resolution.

        A model fitted with masks (``FusionInput(images, clinical, masks=masks)``;
        ``localizes_`` is True) returns its segmentation head's probabilities, trained
        jointly with the task: threshold them at 0.5 for a region. A model fitted without
        masks returns weakly supervised maps instead, for each sample's predicted class
        (regressors: the first output; survival models: the risk), scaled to a maximum of
        1: they say where the evidence for the prediction lies, which is not necessarily
        where the lesion is.

        Parameters
        ----------
        X : FusionInput or tuple
            Samples, as in ``predict``; masks in ``X`` are not read.
        weak : {"saliency", "gradcam"}, default="saliency"
            The weakly supervised maps (ignored when ``localizes_``): "saliency", smoothed
            input gradients (:func:`skfusion.explain.saliency`); "gradcam", Grad-CAM
            combined over stages 2-4 (:func:`skfusion.explain.grad_cam` with
            ``stage="combined"``). Saliency is the default because it pointed into the true
            region far more often in ``benchmarks/localization.py`` (held-out subjects,
            hippocampal atrophy and moving lesions: pointing game 0.63-1.00, against
            0.06-0.47 for combined Grad-CAM and 0.01-0.03 for random maps).

        Returns
        -------
        maps : ndarray of float32, shape (n_samples, H, W)
            (n_samples, S, H, W) for slice stacks, (n_samples, D, H, W) for volumes.
        """
        check_is_fitted(self)
        X = as_fusion_input(X)
        if weak not in ("gradcam", "saliency"):
            raise ValueError(f"weak must be 'gradcam' or 'saliency'; got {weak!r}.")
        if not getattr(self, "localizes_", False):
            if weak == "saliency":
                return image_maps(self, X, saliency_maps, "saliency")
            return image_maps(self, X, grad_cam_maps, "Grad-CAM", stage="combined")
        images, clinical, _, X = self._check_X(X, fitting=False)
        dataset = make_dataset(images, clinical, **self._extra_arrays(X))
        with torch_threads(self.n_threads):
            logits = self.net_.predict_part(dataset, 1)
        return expit(logits).astype(np.float32)
