"""skfusion: fuse medical images and clinical data in PyTorch networks behind scikit-learn's API."""

from . import _legacy
from ._base.files.persistence import ModelFileError, load
from ._base.pretrained.weights import PretrainedWeights
from ._families.clinical_attention import (
    ClinicalAttentionClassifier,
    ClinicalAttentionRegressor,
    ClinicalAttentionSurvival,
)
from ._families.feature_modulation import (
    FeatureModulationClassifier,
    FeatureModulationRegressor,
    FeatureModulationSurvival,
)
from ._families.gated_fusion import GatedFusionClassifier, GatedFusionRegressor, GatedFusionSurvival
from ._families.report_fusion import (
    ReportFusionClassifier,
    ReportFusionRegressor,
    ReportFusionSurvival,
)
from ._input import FusionInput
from ._tasks.generation import ReportGenerator
from ._tasks.pretraining import ImageClinicalPretrainer
from ._tasks.survival import survival_target
from ._version import __version__
from .embedding import ImageEmbedder
from .preprocessing import ClinicalTransformer

_legacy.install()  # 0.3's module paths, for its pickles (see skfusion._legacy)

__all__ = [
    "ClinicalAttentionClassifier",
    "ClinicalAttentionRegressor",
    "ClinicalAttentionSurvival",
    "ClinicalTransformer",
    "FeatureModulationClassifier",
    "FeatureModulationRegressor",
    "FeatureModulationSurvival",
    "FusionInput",
    "GatedFusionClassifier",
    "GatedFusionRegressor",
    "GatedFusionSurvival",
    "ImageClinicalPretrainer",
    "ImageEmbedder",
    "ModelFileError",
    "PretrainedWeights",
    "ReportFusionClassifier",
    "ReportFusionRegressor",
    "ReportFusionSurvival",
    "ReportGenerator",
    "load",
    "survival_target",
    "__version__",
]

#: Submodules reachable as attributes of the package (``skfusion.explain.grad_cam``), imported
#: on first use (PEP 562) so that ``import skfusion`` does not load Optuna, matplotlib or the
#: explanation code.
_SUBMODULES = (
    "callbacks",
    "datasets",
    "distributed",
    "evaluation",
    "explain",
    "metrics",
    "nn",
    "preprocessing",
    "tuning",
)


def __getattr__(name):
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_SUBMODULES))
