"""skfusion: fuse medical images and clinical data in PyTorch networks behind scikit-learn's API."""

from ._clinical_attention import (ClinicalAttentionClassifier, ClinicalAttentionRegressor,
                                  ClinicalAttentionSurvival)
from ._feature_modulation import (FeatureModulationClassifier, FeatureModulationRegressor,
                                  FeatureModulationSurvival)
from ._gated_fusion import GatedFusionClassifier, GatedFusionRegressor, GatedFusionSurvival
from ._input import FusionInput
from ._persistence import ModelFileError, load
from ._pretraining import ImageClinicalPretrainer
from ._report_fusion import ReportFusionClassifier, ReportFusionRegressor, ReportFusionSurvival
from ._report_generation import ReportGenerator
from ._survival import survival_target
from ._weights import PretrainedWeights
from ._version import __version__
from .preprocessing import ClinicalTransformer

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
_SUBMODULES = ("callbacks", "datasets", "distributed", "evaluation", "explain", "metrics",
               "nn", "preprocessing", "tuning")


def __getattr__(name):
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_SUBMODULES))
