"""FeatureModulationClassifier: FiLM and DAFT baselines behind sklearn's API."""

from numbers import Integral

import torch
from sklearn.utils._param_validation import Interval, StrOptions

from ._docstrings import fill_doc
from .base import BaseFusionClassifier
from .nn.modulation import METHODS
from .nn.modulation_net import FeatureModulationNet

__all__ = ["FeatureModulationClassifier"]


@fill_doc
class FeatureModulationClassifier(BaseFusionClassifier):
    """Condition image features on clinical values by feature-wise affine transforms.

    The baselines our field compares fusion methods against. A ResNet extracts image
    features; in the last residual block of ``stage``, after its first convolution and
    normalisation (the DAFT authors' placement), every channel of the feature map is scaled
    and shifted, ``(1 + scale) * x + shift``, with ``scale`` and ``shift`` predicted per
    sample:

    * ``method="film"`` (FiLM, Perez et al. 2018): from the clinical values alone;
    * ``method="daft"`` (DAFT, Pölsterl et al., MICCAI 2021): from the globally pooled feature
      map concatenated with the clinical values, through a bottleneck MLP, so the transform
      also depends on the image.

    The pooled, modulated image features go to a linear head. Written from the papers'
    equations; the transform starts as the identity.

    Parameters
    ----------
    method : {"daft", "film"}, default="daft"
        What predicts the scale and shift.
    stage : int, default=4
        ResNet stage (1-4) whose last block is modulated (4: the network's last block, as in
        DAFT).
    bottleneck_ratio : int, default=7
        Width reduction of the modulation MLP (7: the DAFT authors' ADNI setting).
    {shared_parameters}

    Attributes
    ----------
    {shared_attributes}

    See Also
    --------
    ClinicalAttentionClassifier : Clinical attention inside every block of stages 2-4, plus
        concatenation of clinical features.

    Examples
    --------
    >>> import numpy as np
    >>> from skfusion import FeatureModulationClassifier, FusionInput
    >>> rng = np.random.RandomState(0)
    >>> X = FusionInput(rng.rand(20, 16, 16).astype("float32"), rng.rand(20, 3))
    >>> y = np.array(["AD", "NC"] * 10)
    >>> clf = FeatureModulationClassifier(method="film", backbone="resnet18", base_width=4,
    ...                                   max_epochs=2, random_state=0, verbose=0).fit(X, y)
    >>> clf.predict_proba(X[:2]).shape
    (2, 2)
    """

    _parameter_constraints = {
        **BaseFusionClassifier._parameter_constraints,
        "method": [StrOptions(set(METHODS))],
        "stage": [Interval(Integral, 1, 4, closed="both")],
        "bottleneck_ratio": [Interval(Integral, 1, None, closed="left")],
    }

    _module_class = FeatureModulationNet

    def __init__(
        self,
        *,
        method="daft",
        stage=4,
        bottleneck_ratio=7,
        backbone="resnet50",
        base_width=64,
        max_epochs=100,
        batch_size=16,
        lr=1e-4,
        optimizer=torch.optim.Adam,
        criterion=torch.nn.CrossEntropyLoss,
        class_weight=None,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        augment=True,
        modality_dropout=0.2,
        clinical_shortcut=True,
        callbacks=None,
        device="auto",
        mixed_precision="auto",
        channels_last="auto",
        warm_start=False,
        n_threads=None,
        random_state=None,
        verbose=1,
        **kwargs,
    ):
        self._store_params(locals())

    @classmethod
    def _tuning_space(cls):
        return {
            **super()._tuning_space(),
            "method": ("categorical", METHODS),
            "stage": ("categorical", (3, 4)),
            "bottleneck_ratio": ("categorical", (2, 4, 7, 8)),
        }

    def _module_params(self):
        return {
            "method": self.method,
            "backbone": self.backbone,
            "base_width": self.base_width,
            "stage": self.stage,
            "bottleneck_ratio": self.bottleneck_ratio,
        }
