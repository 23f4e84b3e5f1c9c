"""The EHR-guided attention + multi-head GMU family: GatedFusionClassifier, GatedFusionRegressor
and GatedFusionSurvival share one network and one contract."""

from numbers import Integral

from sklearn.utils._param_validation import Interval, StrOptions

from .._base.parameters.docstrings import task_estimator_doc
from .._base.parameters.params import Param
from .._base.parameters.shared_params import CLINICAL_DIM
from .._tasks.classification import BaseFusionClassifier
from .._tasks.regression import BaseFusionRegressor
from .._tasks.survival import BaseFusionSurvival
from ..nn.gated_fusion import GatedFusionNet

__all__ = ["GatedFusionClassifier", "GatedFusionRegressor", "GatedFusionSurvival"]


class _GatedFusion:
    """The family's contract (see :class:`skfusion._base.core.estimator.BaseFusionEstimator`)."""

    _module_class = GatedFusionNet
    _params = {
        "n_heads": Param(
            4,
            [Interval(Integral, 1, None, closed="left")],
            "GMU heads.",
            module=True,
            search=("categorical", (1, 2, 4, 8)),
            cap=1024,
        ),
        "head_dim": Param(
            "auto",
            [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
            """\
Width of each head. "auto": the heads together a quarter as wide as the pooled image
features, at most 64 each (4 for ResNet18 width 8, 32 for ResNet18 width 64, 64 for
ResNet50 width 64). Chosen on the choosing variants at ResNet18 width 8 (simulated; 5 draws
of 400): a narrower unit overfits less where the image carries no signal (4: 0.912 AUC
against 64's 0.893, the table's logistic regression 0.914) and does no worse where it does
(0.926 against 0.908); before 0.4.0 the default was 64 (benchmarks/README.md).""",
            type='int or "auto"',
            module=True,
            search=("categorical", ("auto", 4, 8, 16, 32, 64)),
            cap=65536,
            before=64,
        ),
        "gate": Param(
            "head",
            [StrOptions({"head", "classic"})],
            """\
"head": each head gates within its own subspace, from its own projections (the
multi-head unit; our reading of the paper, which gives no equations for a head).
"classic": Arevalo et al.'s GMU, one vector gate ``sigmoid(W_z [x_v; x_c])`` from the
raw inputs over ``n_heads * head_dim`` units.""",
            type='{"head", "classic"}',
            module=True,
        ),
        "attention_stages": Param(
            (3, 4),
            [tuple, list],
            """\
ResNet stages (1-4) followed by the clinically guided spatial attention; ``()``
disables it.""",
            type="tuple of int",
            module=True,
        ),
        "clinical_dim": CLINICAL_DIM,
    }


class GatedFusionClassifier(_GatedFusion, BaseFusionClassifier):
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
    {parameters}

    Attributes
    ----------
    {task_attributes}
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


class GatedFusionRegressor(_GatedFusion, BaseFusionRegressor):
    __doc__ = task_estimator_doc(
        "regressor",
        "GatedFusion",
        "EHR-guided spatial attention and a multi-head GMU",
        'n_heads=2, head_dim=8, clinical_dim=8, backbone="resnet18",\n'
        "    ...     base_width=4, max_epochs=2, random_state=0, verbose=0",
        [
            "X = FusionInput(rng.rand(20, 16, 16).astype('float32'),",
            "                rng.rand(20, 3))",
        ],
    )


class GatedFusionSurvival(_GatedFusion, BaseFusionSurvival):
    __doc__ = task_estimator_doc(
        "survival",
        "GatedFusion",
        "EHR-guided spatial attention and a multi-head GMU",
        'n_heads=2, head_dim=8, clinical_dim=8, backbone="resnet18",\n'
        "    ...     base_width=4, max_epochs=2, random_state=0, verbose=0",
        [
            "X = FusionInput(rng.rand(20, 16, 16).astype('float32'),",
            "                rng.rand(20, 3))",
        ],
    )
