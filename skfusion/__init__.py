"""skfusion: fuse medical images and clinical data in PyTorch networks behind scikit-learn's API."""

from ._clinical_attention import ClinicalAttentionClassifier
from ._feature_modulation import FeatureModulationClassifier
from ._gated_fusion import GatedFusionClassifier
from ._input import FusionInput
from ._persistence import ModelFileError, load
from ._report_fusion import ReportFusionClassifier
from .preprocessing import ClinicalTransformer

__version__ = "0.2.0"

__all__ = [
    "ClinicalAttentionClassifier",
    "ClinicalTransformer",
    "FeatureModulationClassifier",
    "FusionInput",
    "GatedFusionClassifier",
    "ModelFileError",
    "ReportFusionClassifier",
    "load",
    "__version__",
]
