"""The clinical-attention family (Yang et al.): ClinicalAttentionClassifier,
ClinicalAttentionRegressor and ClinicalAttentionSurvival share one network and one contract."""

from sklearn.utils._param_validation import StrOptions

from .._base.parameters.docstrings import task_estimator_doc
from .._base.parameters.params import Param
from .._base.parameters.shared_params import CLINICAL_DIM
from .._tasks.classification import BaseFusionClassifier
from .._tasks.regression import BaseFusionRegressor
from .._tasks.survival import BaseFusionSurvival
from ..nn.clinical_attention import MODES, ClinicalAttentionNet
from ..nn.rbca import FORMS, STARTS

__all__ = ["ClinicalAttentionClassifier", "ClinicalAttentionRegressor", "ClinicalAttentionSurvival"]


class _ClinicalAttention:
    """The family's contract (see :class:`skfusion._base.core.estimator.BaseFusionEstimator`)."""

    _module_class = ClinicalAttentionNet
    _params = {
        "mode": Param(
            "full",
            [StrOptions(set(MODES))],
            """\
The paper's ablation. "full": RBCA in stages 2-4 plus concatenation. "concat": plain
ResNet features concatenated with clinical features. "image": plain ResNet, clinical
values ignored. "clinical": the clinical path alone.""",
            type='{"full", "concat", "image", "clinical"}',
            module=True,
            search=("categorical", ("image", "clinical", "concat", "full")),
        ),
        "clinical_dim": CLINICAL_DIM,
        "attention_start": Param(
            "neutral",
            [StrOptions(set(STARTS))],
            """Mode "full": how the clinical attention starts, a detail the paper leaves open.
"neutral": the attention's clinical projection starts at a zero scale, so every channel
weight is the same for every patient (1 in the "inner" form, where the block then is the
plain block; 0.5 in the "paper" form) and training learns how far to trust the table.
"paper": the projection is initialised as every layer, so from the first step each
patient's clinical values scale each image channel by a random factor
(docs/fusion_methods.md). Default "paper" before 0.4.0.""",
            type='{"neutral", "paper"}',
            module=True,
            before="paper",
        ),
        "attention_form": Param(
            "inner",
            [StrOptions(set(FORMS))],
            """Mode "full": where the clinical attention sits in each block of stages 2-4.
"paper": our reading of the paper's block, a 1x1 reduction to half the width (added in
front of ResNet18/34's basic blocks; the bottleneck's own first convolution in ResNet50/101)
and ``[CAM(R), R]`` into the convolutions that follow. "inner": the
plain block, with the attention on half of its first convolution's output and weights
centred at 1, so that with ``attention_start="neutral"`` each block starts as the plain
block. The paper's block exactly: ``attention_form="paper", attention_start="paper"``, the
default before 0.4.0 (docs/fusion_methods.md).""",
            type='{"inner", "paper"}',
            module=True,
            before="paper",
        ),
    }

    _inputs = (
        "mode",
        {
            mode: frozenset({"images"} if image else set())
            | frozenset({"clinical"} if clinical else set())
            for mode, (image, clinical, _) in MODES.items()
        },
    )


class ClinicalAttentionClassifier(_ClinicalAttention, BaseFusionClassifier):
    """Fuse image slices and clinical values with clinically guided attention (Yang et al.).

    A ResNet extracts image features; two fully connected layers lift the clinical values to
    ``clinical_dim`` features. In mode "full" the last three ResNet stages are Residual
    Blocks with Clinical Attention (RBCA): the clinical features reweight half of the
    channels of each block (by default inside the plain block, starting at weight 1; see
    ``attention_form``). The pooled image features are concatenated with the clinical
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
        "regressor",
        "ClinicalAttention",
        "Yang et al.'s clinical-attention network",
        'backbone="resnet18", base_width=4, clinical_dim=8,\n'
        "    ...     max_epochs=2, random_state=0, verbose=0",
        [
            "X = FusionInput(rng.rand(20, 16, 16).astype('float32'),",
            "                rng.rand(20, 3))",
        ],
    )


class ClinicalAttentionSurvival(_ClinicalAttention, BaseFusionSurvival):
    __doc__ = task_estimator_doc(
        "survival",
        "ClinicalAttention",
        "Yang et al.'s clinical-attention network",
        'backbone="resnet18", base_width=4, clinical_dim=8,\n'
        "    ...     max_epochs=2, random_state=0, verbose=0",
        [
            "X = FusionInput(rng.rand(20, 16, 16).astype('float32'),",
            "                rng.rand(20, 3))",
        ],
    )
