"""Pure-torch building blocks of skfusion's networks (no scikit-learn imports here)."""

from .clinical import ClinicalEncoder
from .clinical_attention import MODES, ClinicalAttentionNet
from .gated_fusion import ClinicalSpatialAttention, GatedFusionNet, MultiHeadGMU
from .head import FusionHead
from .init import he_init_
from .modulation import FeatureModulation
from .modulation_net import FeatureModulationNet
from .monai_augment import MonaiAugment
from .rbca import ClinicalChannelAttention, RBCAFront, RBCAInner
from .report_fusion import ReportFusionNet
from .resnet import RESNET_SPECS, ResidualBlock, ResNet, ResNetSpec
from .text import AttentionTextEncoder

__all__ = [
    "AttentionTextEncoder",
    "ReportFusionNet",
    "MODES",
    "RESNET_SPECS",
    "ClinicalAttentionNet",
    "ClinicalChannelAttention",
    "ClinicalEncoder",
    "ClinicalSpatialAttention",
    "FeatureModulation",
    "FeatureModulationNet",
    "FusionHead",
    "GatedFusionNet",
    "MonaiAugment",
    "MultiHeadGMU",
    "ResNet",
    "ResNetSpec",
    "RBCAFront",
    "RBCAInner",
    "ResidualBlock",
    "he_init_",
]
