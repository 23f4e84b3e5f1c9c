"""skfusion: fuse medical images and clinical data in PyTorch networks behind scikit-learn's API."""

from ._clinical_attention import ClinicalAttentionClassifier
from ._input import FusionInput
from .preprocessing import ClinicalTransformer

__version__ = "0.1.0"

__all__ = [
    "ClinicalAttentionClassifier",
    "ClinicalTransformer",
    "FusionInput",
    "__version__",
]
