"""The clinical-attention family (Yang et al.): ClinicalAttentionClassifier,
ClinicalAttentionRegressor and ClinicalAttentionSurvival share one network and one contract."""

from sklearn.utils._param_validation import StrOptions

from .._tasks.classification import BaseFusionClassifier
from .._base.docstrings import task_estimator_doc
from .._base.params import Param
from .._base.shared_params import CLINICAL_DIM
from .._tasks.regression import BaseFusionRegressor
from .._tasks.survival import BaseFusionSurvival
from ..nn.clinical_attention import MODES, ClinicalAttentionNet
from ..nn.rbca import STARTS

__all__ = ["ClinicalAttentionClassifier", "ClinicalAttentionRegressor",
           "ClinicalAttentionSurvival"]



class _ClinicalAttention:
    """The family's contract (see :class:`skfusion._base.estimator.BaseFusionEstimator`)."""

    _module_class = ClinicalAttentionNet
    _params = {
        "mode": Param(
            "full", [StrOptions(set(MODES))],
            """\
The paper's ablation. "full": RBCA in stages 2-4 plus concatenation. "concat": plain
ResNet features concatenated with clinical features. "image": plain ResNet, clinical
values ignored. "clinical": the clinical path alone.""",
            type='{"full", "concat", "image", "clinical"}', module=True,
            search=("categorical", ("image", "clinical", "concat", "full"))),
        "clinical_dim": CLINICAL_DIM,
        "attention_start": Param(
            "paper", [StrOptions(set(STARTS))],
            """Mode "full": how the clinical attention of the RBCA blocks starts, a detail the
paper leaves open. "paper": the attention's clinical projection is initialised as every
layer, so from the first step each patient's clinical values scale each image channel by a
random factor. "neutral": the projection's normalisation starts at a zero scale, so every
channel weight is 0.5 for every patient and each RBCA begins as the plain block; training
learns how far to trust the table (docs/fusion_methods.md).""",
            type='{"paper", "neutral"}', module=True),
    }

    _inputs = ("mode", {mode: frozenset({"images"} if image else set())
                        | frozenset({"clinical"} if clinical else set())
                        for mode, (image, clinical, _) in MODES.items()})


class ClinicalAttentionClassifier(_ClinicalAttention, BaseFusionClassifier):
    """Fuse image slices and clinical values with clinically guided attention (Yang et al.).

    A ResNet extracts image features; two fully connected layers lift the clinical values to
    ``clinical_dim`` features. In mode "full" the last three ResNet stages are Residual
    Blocks with Clinical Attention (RBCA): the clinical features reweight half of each
    block's input channels. The pooled image features are concatenated with the clinical
    features and classified by one linear layer. Trained as in the paper by default: He
    initialisation, Adam, learning rate 1e-4, cross-entropy, 100 epochs.

    Parameters
    ----------
    {parameters}

    Attributes
    ----------
    {task_attributes}
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


class ClinicalAttentionRegressor(_ClinicalAttention, BaseFusionRegressor):
    __doc__ = task_estimator_doc(
        "regressor", "ClinicalAttention", "Yang et al.'s clinical-attention network",
        'backbone="resnet18", base_width=4, clinical_dim=8,\n'
        '    ...     max_epochs=2, random_state=0, verbose=0',
        ["X = FusionInput(rng.rand(20, 16, 16).astype('float32'),",
         "                rng.rand(20, 3))"])


class ClinicalAttentionSurvival(_ClinicalAttention, BaseFusionSurvival):
    __doc__ = task_estimator_doc(
        "survival", "ClinicalAttention", "Yang et al.'s clinical-attention network",
        'backbone="resnet18", base_width=4, clinical_dim=8,\n'
        '    ...     max_epochs=2, random_state=0, verbose=0',
        ["X = FusionInput(rng.rand(20, 16, 16).astype('float32'),",
         "                rng.rand(20, 3))"])
