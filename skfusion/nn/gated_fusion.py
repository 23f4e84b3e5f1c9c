"""EHR-guided spatial attention and the multi-head gated multimodal unit (GMU).

After "Fusion of medical imaging and electronic health records with attention and multi-head
mechanisms": clinical (EHR) features select image regions during feature extraction, and a
gated multimodal unit with several heads fuses the two modalities in separate subspaces; per
head k (see :class:`MultiHeadGMU`):

    h_v^k = tanh(W_v^k x_v),  h_c^k = tanh(W_c^k x_c),  z^k = sigmoid(G^k [h_v^k; h_c^k] + b^k),
    h^k = z^k * h_v^k + (1 - z^k) * h_c^k,

and the heads' outputs are concatenated. Arevalo et al.'s classic GMU is ``gate="classic"``.
"""

import torch
from torch import nn

from ._checks import check_option, check_positive_int
from ._dims import CONV, check_spatial_dims, global_average, per_channel
from .clinical import ClinicalEncoder, ClinicalShortcut
from .clinical_attention import resolve_clinical_dim
from .head import FusionHead
from .init import he_init_
from .presence import StandIn, encode_present, stand_in_for
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
    spatial_dims : {2, 3}, default=2
    """

    def __init__(self, channels, clinical_dim, hidden=None, spatial_dims=2):
        super().__init__()
        conv = CONV[check_spatial_dims(spatial_dims)]
        check_positive_int("channels", channels)
        check_positive_int("clinical_dim", clinical_dim)
        hidden = max(8, channels // 2) if hidden is None else hidden
        self.image_projection = conv(channels, hidden, 1)
        self.clinical_projection = nn.Linear(clinical_dim, hidden)
        self.score = conv(hidden, 1, 1)
        self.map_out = nn.Identity()

    def forward(self, images, clinical):
        """Return ``images * a`` with the clinically conditioned spatial map ``a``."""
        hidden = torch.tanh(
            self.image_projection(images) + per_channel(self.clinical_projection(clinical), images)
        )
        attention = self.map_out(torch.sigmoid(self.score(hidden)))
        return images * attention


GATES = ("head", "classic")

#: ``head_dim="auto"``: the GMU's output is this fraction of the pooled image features' width
#: (chosen at ResNet18 width 8, benchmarks/results/attention_start_gmu*.md), with at most
#: :data:`MAX_AUTO_HEAD_DIM` per head.
AUTO_FUSED_FRACTION = 4
MAX_AUTO_HEAD_DIM = 64


def resolve_head_dim(head_dim, image_width, n_heads):
    """``head_dim``, with "auto" read as ``image_width / (4 * n_heads)`` (the heads together a
    quarter as wide as the pooled image features), between 1 and 64."""
    if head_dim == "auto":
        check_positive_int("n_heads", n_heads)
        return max(1, min(MAX_AUTO_HEAD_DIM, image_width // (AUTO_FUSED_FRACTION * n_heads)))
    return check_positive_int("head_dim", head_dim)


class MultiHeadGMU(nn.Module):
    """Gated multimodal unit with ``n_heads`` heads of width ``head_dim`` each.

    ``gate="head"`` (default, the multi-head unit): each head ``k`` projects both modalities
    into its own subspace, ``h_v^k = tanh(W_v^k x_v)``, ``h_c^k = tanh(W_c^k x_c)``, and
    gates *within* it from its own projections, ``z^k = sigmoid(G^k [h_v^k; h_c^k] + b^k)``
    with a ``head_dim x 2 head_dim`` matrix per head; the heads' outputs
    ``z^k * h_v^k + (1 - z^k) * h_c^k`` are concatenated. The gate of a head couples the
    coordinates of that head's subspace, and is a non-linear function of the inputs, which
    no single wide GMU can express (a test checks this).

    ``gate="classic"``: Arevalo et al.'s GMU (2017), one vector gate from the raw inputs,
    ``z = sigmoid(W_z [x_v; x_c])``, over ``n_heads * head_dim`` units (the heads are then
    only a way to give its width).

    The paper this follows ("Fusion of medical imaging and electronic health records with
    attention and multi-head mechanisms") gives the idea, fusion "in different subspaces",
    but not the equations of a head: the per-head gate from the head's own projections is
    our reading.

    Parameters
    ----------
    image_dim, clinical_dim : int
        Sizes of the two input vectors.
    head_dim : int
        Output size of each head; the output has ``n_heads * head_dim`` values.
    n_heads : int, default=4
    gate : {"head", "classic"}, default="head"

    Notes
    -----
    The gates ``z`` (shape ``(n, n_heads, head_dim)``) pass through ``self.gate_out`` for
    inspection: values near 1 favour the image, near 0 the clinical features.
    """

    def __init__(self, image_dim, clinical_dim, head_dim, n_heads=4, gate="head"):
        super().__init__()
        for name, value in (
            ("image_dim", image_dim),
            ("clinical_dim", clinical_dim),
            ("head_dim", head_dim),
            ("n_heads", n_heads),
        ):
            check_positive_int(name, value)
        self.gate_kind = check_option("gate", gate, GATES)
        self.n_heads = n_heads
        self.head_dim = head_dim
        width = n_heads * head_dim
        # All heads' projections at once: head k uses rows [k * head_dim, (k + 1) * head_dim).
        self.image_projection = nn.Linear(image_dim, width, bias=False)
        self.clinical_projection = nn.Linear(clinical_dim, width, bias=False)
        if gate == "classic":
            self.gate = nn.Linear(image_dim + clinical_dim, width, bias=False)
        else:
            self.gate_weight = nn.Parameter(torch.empty(n_heads, 2 * head_dim, head_dim))
            self.gate_bias = nn.Parameter(torch.zeros(n_heads, head_dim))
            self.post_init_()
        self.gate_out = nn.Identity()
        self.out_features = width

    def post_init_(self, generator=None):
        """Initialise the per-head gates (Glorot uniform per head, zero bias)."""
        if self.gate_kind == "head":
            bound = (6.0 / (3 * self.head_dim)) ** 0.5
            with torch.no_grad():
                self.gate_weight.uniform_(-bound, bound, generator=generator)
                self.gate_bias.zero_()

    def forward(self, image_features, clinical_features):
        """Return the concatenated heads, shape ``(n, n_heads * head_dim)``."""
        h_image = torch.tanh(self.image_projection(image_features))
        h_clinical = torch.tanh(self.clinical_projection(clinical_features))
        n = h_image.shape[0]
        if self.gate_kind == "classic":
            z = torch.sigmoid(self.gate(torch.cat([image_features, clinical_features], dim=1)))
            z = z.view(n, self.n_heads, self.head_dim)
        else:
            both = torch.cat(
                [
                    h_image.view(n, self.n_heads, self.head_dim),
                    h_clinical.view(n, self.n_heads, self.head_dim),
                ],
                dim=2,
            )
            z = torch.sigmoid(torch.einsum("nki,kij->nkj", both, self.gate_weight) + self.gate_bias)
        z = self.gate_out(z).reshape(n, -1)
        return z * h_image + (1 - z) * h_clinical


class GatedFusionNet(FusionHead):
    """ResNet with EHR-guided spatial attention after chosen stages, fused by a multi-head GMU.

    Parameters
    ----------
    n_outputs : int
    n_clinical : int
    in_channels : int, default=1
    backbone : str, default="resnet50"
    base_width : int, default=64
    clinical_dim : int or "auto", default="auto"
        Size of the clinical embedding (two FC layers); "auto" is the pooled image feature
        width of the backbone.
    attention_stages : tuple of int, default=(3, 4)
        Stages (1-4) after which the clinical spatial attention is applied.
    n_heads : int, default=4
    head_dim : int or "auto", default=64
        Width of each head. "auto": the heads together a quarter as wide as the pooled image
        features, at most 64 each (:func:`resolve_head_dim`; 4 for ResNet18 width 8, 32 for
        ResNet18 width 64, 64 for ResNet50 width 64).
    gate : {"head", "classic"}, default="head"
        See :class:`MultiHeadGMU`.
    norm_layer : callable or None, default=None
        None: batch normalisation of ``spatial_dims`` dimensions.
    clinical_shortcut : bool, default=False
        Add :class:`~skfusion.nn.clinical.ClinicalShortcut` logits.
    stem : {"standard", "small"}, default="standard"
    spatial_dims : {2, 3}, default=2
        2 for images, 3 for volumes.
    """

    def __init__(
        self,
        n_outputs,
        n_clinical,
        in_channels=1,
        backbone="resnet50",
        base_width=64,
        clinical_dim="auto",
        attention_stages=(3, 4),
        n_heads=4,
        head_dim=64,
        gate="head",
        norm_layer=None,
        clinical_shortcut=False,
        stem="standard",
        spatial_dims=2,
    ):
        super().__init__()
        check_positive_int("n_outputs", n_outputs)
        stages = tuple(sorted(set(attention_stages)))
        for stage in stages:
            check_option("attention stage", stage, {1, 2, 3, 4})
        self.attention_stages = stages
        clinical_dim = resolve_clinical_dim(clinical_dim, backbone, base_width)
        self.clinical_encoder = ClinicalEncoder(n_clinical, clinical_dim)
        self.image_encoder = ResNet(
            backbone,
            in_channels=in_channels,
            base_width=base_width,
            norm_layer=norm_layer,
            stem=stem,
            spatial_dims=spatial_dims,
        )
        self.shortcut = ClinicalShortcut(n_clinical, n_outputs) if clinical_shortcut else None
        self.spatial_attention = nn.ModuleDict(
            {
                str(stage): ClinicalSpatialAttention(
                    self.image_encoder.stages[stage - 1][-1].out_channels,
                    clinical_dim,
                    spatial_dims=spatial_dims,
                )
                for stage in stages
            }
        )
        width = self.image_encoder.out_features
        self.fusion = MultiHeadGMU(
            width, clinical_dim, resolve_head_dim(head_dim, width, n_heads), n_heads, gate
        )
        self.head = nn.Linear(self.fusion.out_features, n_outputs)
        self.missing_image = StandIn(self.image_encoder.out_features, n_clinical)
        he_init_(self)

    def forward_features(self, images, clinical, image_present=None):
        """Return the fused (GMU) feature vector. A sample without an image enters the GMU
        with the learned stand-in (a linear function of its clinical values) as its image
        features; the spatial attention has no image to act on."""
        clinical_features = self.clinical_encoder(clinical)

        def encode(images, clinical_features):
            def attend(number, features):
                if number in self.attention_stages:
                    return self.spatial_attention[str(number)](features, clinical_features)
                return features

            return global_average(self.image_encoder.forward_features(images, after_stage=attend))

        stand_in = stand_in_for(self, "missing_image", image_present, images.shape[0], clinical)
        image = encode_present(
            encode, (images, clinical_features), image_present, stand_in, self.training
        )
        return self.fusion(image, clinical_features)
