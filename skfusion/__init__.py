"""skfusion: fuse medical images and clinical data in PyTorch networks behind scikit-learn's API."""

from ._clinical_attention import (ClinicalAttentionClassifier, ClinicalAttentionRegressor,
                                  ClinicalAttentionSurvival)
from ._feature_modulation import (FeatureModulationClassifier, FeatureModulationRegressor,
                                  FeatureModulationSurvival)
from ._gated_fusion import GatedFusionClassifier, GatedFusionRegressor, GatedFusionSurvival
from ._input import FusionInput
from ._persistence import ModelFileError, load
from ._report_fusion import ReportFusionClassifier, ReportFusionRegressor, ReportFusionSurvival
from ._survival import survival_target
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
    "ModelFileError",
    "ReportFusionClassifier",
    "ReportFusionRegressor",
    "ReportFusionSurvival",
    "load",
    "survival_target",
    "__version__",
]
