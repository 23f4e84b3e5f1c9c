"""GatedFusionClassifier: EHR-guided spatial attention and a multi-head gated multimodal unit."""

from numbers import Integral

import torch
from sklearn.utils._param_validation import Interval, StrOptions

from ._docstrings import fill_doc
from .base import BaseFusionClassifier
from .nn.gated_fusion import GatedFusionNet

__all__ = ["GatedFusionClassifier"]


@fill_doc
class GatedFusionClassifier(BaseFusionClassifier):
    """Fuse images and clinical values with EHR-guided attention and a multi-head GMU.

    After "Fusion of medical imaging and electronic health records with attention and
    multi-head mechanisms": two fully connected layers embed the clinical (EHR) values; after
    each stage in ``attention_stages`` a spatial attention map conditioned on that embedding
    reweights the image feature map, so the clinical data select image regions during
    feature extraction. The pooled image features and the clinical embedding are fused by a
    gated multimodal unit with ``n_heads`` heads, each in its own subspace (per head:
    ``h_v = tanh(W_v x_v)``, ``h_c = tanh(W_c x_c)``, ``z = sigmoid(G [h_v; h_c] + b)``,
    ``z * h_v + (1 - z) * h_c``), concatenated and classified by a linear layer. Binary and
    multi-class.

    Parameters
    ----------
    n_heads : int, default=4
        GMU heads.
    head_dim : int, default=64
        Width of each head.
    gate : {"head", "classic"}, default="head"
        "head": each head gates within its own subspace, from its own projections (the
        multi-head unit; our reading of the paper, which gives no equations for a head).
        "classic": Arevalo et al.'s GMU, one vector gate ``sigmoid(W_z [x_v; x_c])`` from the
        raw inputs over ``n_heads * head_dim`` units.
    attention_stages : tuple of int, default=(3, 4)
        ResNet stages (1-4) followed by the clinically guided spatial attention; ``()``
        disables it.
    clinical_dim : int or "auto", default="auto"
        Size of the clinical embedding; "auto" follows the width of the pooled image
        features of the network as built (as in :class:`ClinicalAttentionClassifier`).
    {shared_parameters}

    Attributes
    ----------
    {shared_attributes}

    See Also
    --------
    ClinicalAttentionClassifier : Clinical channel attention in every block of stages 2-4.
    FeatureModulationClassifier : FiLM and DAFT baselines.

    Examples
    --------
    >>> import numpy as np
    >>> from skfusion import FusionInput, GatedFusionClassifier
    >>> rng = np.random.RandomState(0)
    >>> X = FusionInput(rng.rand(24, 16, 16).astype("float32"), rng.rand(24, 3))
    >>> y = np.array(["NC", "MCI", "AD"] * 8)
    >>> clf = GatedFusionClassifier(n_heads=2, head_dim=8, clinical_dim=8, backbone="resnet18",
    ...                             base_width=4, max_epochs=2, random_state=0,
    ...                             verbose=0).fit(X, y)
    >>> clf.predict_proba(X[:2]).shape
    (2, 3)
    """

    _parameter_constraints = {
        **BaseFusionClassifier._parameter_constraints,
        "n_heads": [Interval(Integral, 1, None, closed="left")],
        "head_dim": [Interval(Integral, 1, None, closed="left")],
        "gate": [StrOptions({"head", "classic"})],
        "attention_stages": [tuple, list],
        "clinical_dim": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
    }

    _module_class = GatedFusionNet

    def __init__(
        self,
        *,
        n_heads=4,
        head_dim=64,
        gate="head",
        attention_stages=(3, 4),
        clinical_dim="auto",
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
            "n_heads": ("categorical", (1, 2, 4, 8)),
            "head_dim": ("categorical", (16, 32, 64, 128)),
            "clinical_dim": ("categorical", ("auto", 64, 256, 1024)),
        }

    def _module_params(self):
        return {
            "backbone": self.backbone,
            "base_width": self.base_width,
            "clinical_dim": self.clinical_dim,
            "attention_stages": tuple(self.attention_stages),
            "n_heads": self.n_heads,
            "head_dim": self.head_dim,
            "gate": self.gate,
        }
