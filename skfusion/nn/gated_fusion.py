"""EHR-guided spatial attention and the multi-head gated multimodal unit (GMU).

After "Fusion of medical imaging and electronic health records with attention and multi-head
mechanisms": clinical (EHR) features select image regions during feature extraction, and a
gated multimodal unit with several heads fuses the two modalities. The GMU follows Arevalo et
al.'s equations, per head k:

    h_v = tanh(W_v x_v),  h_c = tanh(W_c x_c),  z = sigmoid(W_z [x_v; x_c]),
    h^k = z * h_v + (1 - z) * h_c,

and the heads' outputs are concatenated.
"""

import torch
from torch import nn

from ._checks import check_option, check_positive_int
from .clinical import ClinicalEncoder
from .init import he_init_
from .resnet import ResNet


class ClinicalSpatialAttention(nn.Module):
    """A spatial attention map over a feature map, conditioned on clinical features.

    ``a(h, w) = sigmoid(v^T tanh(W_x x(h, w) + W_c c))`` (additive attention, one weight per
    position), and the output is ``x * a``. The map passes through ``self.map_out`` (an
    identity module) so forward hooks can read it, shape ``(n, 1, h, w)``.

    Parameters
    ----------
    channels : int
        Channels of the feature map.
    clinical_dim : int
        Size of the clinical feature vector.
    hidden : int, default=None
        Width of the attention's hidden layer (default: ``max(8, channels // 2)``).
    """

    def __init__(self, channels, clinical_dim, hidden=None):
        super().__init__()
        check_positive_int("channels", channels)
        check_positive_int("clinical_dim", clinical_dim)
        hidden = max(8, channels // 2) if hidden is None else hidden
        self.image_projection = nn.Conv2d(channels, hidden, 1)
        self.clinical_projection = nn.Linear(clinical_dim, hidden)
        self.score = nn.Conv2d(hidden, 1, 1)
        self.map_out = nn.Identity()

    def forward(self, images, clinical):
        """Return ``images * a`` with the clinically conditioned spatial map ``a``."""
        hidden = torch.tanh(self.image_projection(images)
                            + self.clinical_projection(clinical)[:, :, None, None])
        attention = self.map_out(torch.sigmoid(self.score(hidden)))
        return images * attention


class MultiHeadGMU(nn.Module):
    """Gated multimodal unit with ``n_heads`` heads of width ``head_dim`` each.

    Parameters
    ----------
    image_dim, clinical_dim : int
        Sizes of the two input vectors.
    head_dim : int
        Output size of each head; the output has ``n_heads * head_dim`` values.
    n_heads : int, default=4
        ``1`` is the classic GMU.

    Notes
    -----
    The gates ``z`` (shape ``(n, n_heads, head_dim)``) pass through ``self.gate_out`` for
    inspection: values near 1 favour the image, near 0 the clinical features.
    """

    def __init__(self, image_dim, clinical_dim, head_dim, n_heads=4):
        super().__init__()
        for name, value in (("image_dim", image_dim), ("clinical_dim", clinical_dim),
                            ("head_dim", head_dim), ("n_heads", n_heads)):
            check_positive_int(name, value)
        self.n_heads = n_heads
        self.head_dim = head_dim
        width = n_heads * head_dim
        # All heads at once: head k uses rows [k * head_dim, (k + 1) * head_dim).
        self.image_projection = nn.Linear(image_dim, width, bias=False)
        self.clinical_projection = nn.Linear(clinical_dim, width, bias=False)
        self.gate = nn.Linear(image_dim + clinical_dim, width, bias=False)
        self.gate_out = nn.Identity()
        self.out_features = width

    def forward(self, image_features, clinical_features):
        """Return the concatenated heads, shape ``(n, n_heads * head_dim)``."""
        h_image = torch.tanh(self.image_projection(image_features))
        h_clinical = torch.tanh(self.clinical_projection(clinical_features))
        z = torch.sigmoid(self.gate(torch.cat([image_features, clinical_features], dim=1)))
        z = self.gate_out(z.view(-1, self.n_heads, self.head_dim)).reshape(z.shape)
        return z * h_image + (1 - z) * h_clinical


class GatedFusionNet(nn.Module):
    """ResNet with EHR-guided spatial attention after chosen stages, fused by a multi-head GMU.

    Parameters
    ----------
    n_classes : int
    n_clinical : int
    in_channels : int, default=1
    backbone : str, default="resnet50"
    base_width : int, default=64
    clinical_dim : int, default=256
        Size of the clinical embedding (two FC layers).
    attention_stages : tuple of int, default=(3, 4)
        Stages (1-4) after which the clinical spatial attention is applied.
    n_heads : int, default=4
    head_dim : int, default=64
    norm_layer : callable, default=torch.nn.BatchNorm2d
    """

    def __init__(self, n_classes, n_clinical, in_channels=1, backbone="resnet50",
                 base_width=64, clinical_dim=256, attention_stages=(3, 4), n_heads=4,
                 head_dim=64, norm_layer=nn.BatchNorm2d):
        super().__init__()
        check_positive_int("n_classes", n_classes, minimum=2)
        stages = tuple(sorted(set(attention_stages)))
        for stage in stages:
            check_option("attention stage", stage, {1, 2, 3, 4})
        self.attention_stages = stages
        self.clinical_encoder = ClinicalEncoder(n_clinical, clinical_dim)
        self.image_encoder = ResNet(backbone, in_channels=in_channels, base_width=base_width,
                                    norm_layer=norm_layer)
        self.spatial_attention = nn.ModuleDict({
            str(stage): ClinicalSpatialAttention(
                self.image_encoder.stages[stage - 1][-1].out_channels, clinical_dim)
            for stage in stages
        })
        self.fusion = MultiHeadGMU(self.image_encoder.out_features, clinical_dim, head_dim,
                                   n_heads)
        self.head = nn.Linear(self.fusion.out_features, n_classes)
        he_init_(self)

    def forward_features(self, images, clinical):
        """Return the fused (GMU) feature vector."""
        clinical_features = self.clinical_encoder(clinical)
        features = self.image_encoder.stem(images)
        for number, stage in enumerate(self.image_encoder.stages, start=1):
            for block in stage:
                features = block(features)
            if number in self.attention_stages:
                features = self.spatial_attention[str(number)](features, clinical_features)
        pooled = torch.flatten(nn.functional.adaptive_avg_pool2d(features, 1), 1)
        return self.fusion(pooled, clinical_features)

    def forward_head(self, features):
        """Return logits from fused features."""
        return self.head(features)

    def forward(self, images, clinical=None):
        """Return logits, shape ``(n, n_classes)``."""
        return self.forward_head(self.forward_features(images, clinical))
