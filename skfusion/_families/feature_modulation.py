"""The feature-modulation family (FiLM, DAFT baselines): FeatureModulationClassifier,
FeatureModulationRegressor and FeatureModulationSurvival share one network and one contract."""

from numbers import Integral

from sklearn.utils._param_validation import Interval, StrOptions

from .._base.parameters.docstrings import task_estimator_doc
from .._base.parameters.params import Param
from .._tasks.classification import BaseFusionClassifier
from .._tasks.regression import BaseFusionRegressor
from .._tasks.survival import BaseFusionSurvival
from ..nn.modulation import METHODS
from ..nn.modulation_net import FeatureModulationNet

__all__ = ["FeatureModulationClassifier", "FeatureModulationRegressor", "FeatureModulationSurvival"]


class _FeatureModulation:
    """The family's contract (see :class:`skfusion._base.core.estimator.BaseFusionEstimator`)."""

    _module_class = FeatureModulationNet
    _params = {
        "method": Param(
            "daft",
            [StrOptions(set(METHODS))],
            "What predicts the scale and shift.",
            type='{"daft", "film"}',
            module=True,
            search=("categorical", METHODS),
        ),
        "stage": Param(
            4,
            [Interval(Integral, 1, 4, closed="both")],
            """\
ResNet stage (1-4) whose last block is modulated (4: the network's last block, as in
DAFT).""",
            module=True,
            search=("categorical", (3, 4)),
        ),
        "bottleneck_ratio": Param(
            7,
            [Interval(Integral, 1, None, closed="left")],
            """\
Width reduction of the modulation MLP (7: the DAFT authors' ADNI setting).""",
            module=True,
            search=("categorical", (2, 4, 7, 8)),
        ),
    }


class FeatureModulationClassifier(_FeatureModulation, BaseFusionClassifier):
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
    {parameters}

    Attributes
    ----------
    {task_attributes}
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


class FeatureModulationRegressor(_FeatureModulation, BaseFusionRegressor):
    __doc__ = task_estimator_doc(
        "regressor",
        "FeatureModulation",
        "FiLM or DAFT feature modulation",
        'method="film", backbone="resnet18", base_width=4,\n'
        "    ...     max_epochs=2, random_state=0, verbose=0",
        [
            "X = FusionInput(rng.rand(20, 16, 16).astype('float32'),",
            "                rng.rand(20, 3))",
        ],
    )


class FeatureModulationSurvival(_FeatureModulation, BaseFusionSurvival):
    __doc__ = task_estimator_doc(
        "survival",
        "FeatureModulation",
        "FiLM or DAFT feature modulation",
        'method="film", backbone="resnet18", base_width=4,\n'
        "    ...     max_epochs=2, random_state=0, verbose=0",
        [
            "X = FusionInput(rng.rand(20, 16, 16).astype('float32'),",
            "                rng.rand(20, 3))",
        ],
    )
