"""ClinicalAttentionClassifier: Yang et al.'s clinical-attention network behind sklearn's API."""

from numbers import Integral

import torch
from sklearn.utils._param_validation import Interval, StrOptions

from ._docstrings import fill_doc
from .base import BaseFusionClassifier
from .nn.clinical_attention import MODES, ClinicalAttentionNet

__all__ = ["ClinicalAttentionClassifier"]


@fill_doc
class ClinicalAttentionClassifier(BaseFusionClassifier):
    """Fuse image slices and clinical values with clinically guided attention (Yang et al.).

    A ResNet extracts image features; two fully connected layers lift the clinical values to
    ``clinical_dim`` features. In mode "full" the last three ResNet stages are Residual
    Blocks with Clinical Attention (RBCA): the clinical features reweight half of each
    block's input channels. The pooled image features are concatenated with the clinical
    features and classified by one linear layer. Trained as in the paper by default: He
    initialisation, Adam, learning rate 1e-4, cross-entropy, 100 epochs.

    Parameters
    ----------
    mode : {"full", "concat", "image", "clinical"}, default="full"
        The paper's ablation. "full": RBCA in stages 2-4 plus concatenation. "concat": plain
        ResNet features concatenated with clinical features. "image": plain ResNet, clinical
        values ignored. "clinical": the clinical path alone.
    clinical_dim : int or "auto", default="auto"
        Size of the clinical feature vector. "auto" follows the width of the pooled image
        features of the network as built (``base_width * 8`` for ResNet18/34, ``base_width
        * 32`` for ResNet50/101: 2048 for the paper's ResNet50), as the paper keeps the
        clinical features close to the image features so that they are not drowned.
    {shared_parameters}

    Attributes
    ----------
    {shared_attributes}

    See Also
    --------
    ClinicalTransformer : Scale, encode or impute the clinical part of X in a pipeline.
    FusionInput : The (images, clinical) container that sklearn can slice.

    References
    ----------
    S. Yang, X. Liu, Z. Zheng, W. Wang, X. Ma. "Fusing Medical Image Features and Clinical
    Features with Deep Learning for Computer-Aided Diagnosis."

    Examples
    --------
    >>> import numpy as np
    >>> from skfusion import ClinicalAttentionClassifier, FusionInput
    >>> rng = np.random.RandomState(0)
    >>> X = FusionInput(rng.rand(20, 16, 16).astype("float32"), rng.rand(20, 3))
    >>> y = np.array(["AD", "NC"] * 10)
    >>> clf = ClinicalAttentionClassifier(
    ...     backbone="resnet18", base_width=4, clinical_dim=8, max_epochs=2,
    ...     random_state=0, verbose=0).fit(X, y)
    >>> clf.classes_
    array(['AD', 'NC'], dtype='<U2')
    >>> clf.predict_proba(X[:3]).shape
    (3, 2)
    """

    _parameter_constraints = {
        **BaseFusionClassifier._parameter_constraints,
        "mode": [StrOptions(set(MODES))],
        "clinical_dim": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
    }

    _module_class = ClinicalAttentionNet

    def __init__(
        self,
        *,
        mode="full",
        backbone="resnet50",
        base_width=64,
        clinical_dim="auto",
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
            "clinical_dim": ("categorical", ("auto", 64, 256, 1024)),
            "mode": ("categorical", ("image", "clinical", "concat", "full")),
        }

    def _module_params(self):
        return {
            "mode": self.mode,
            "backbone": self.backbone,
            "base_width": self.base_width,
            "clinical_dim": self.clinical_dim,
        }

    def _uses_clinical(self):
        return self.mode != "image"

    def _is_multimodal(self):
        return self.mode in ("concat", "full")
