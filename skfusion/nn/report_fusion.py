"""Image + clinical report network: CNN features, BiLSTM-attention text features, fusion."""

import torch
from torch import nn

from ._checks import check_option
from .clinical import ClinicalEncoder, ClinicalShortcut
from .gated_fusion import MultiHeadGMU
from .head import FusionHead
from .init import he_init_
from .presence import StandIn, encode_present, stand_in_for
from .resnet import ResNet
from .text import AttentionTextEncoder

FUSIONS = ("concat", "gated")


class ReportFusionNet(FusionHead):
    """Fuse image slices, report text and (optionally) clinical values.

    Parameters
    ----------
    n_outputs : int
    n_clinical : int
        Clinical values per sample; 0 leaves the clinical path out.
    vocabulary_size : int
        Token ids of the report vocabulary (0 pads, 1 is unknown).
    in_channels : int, default=1
    backbone : str, default="resnet50"
    base_width : int, default=64
    embedding_dim, hidden_size : int, default=64
        Text encoder sizes.
    clinical_dim : int, default=64
        Clinical embedding size (when ``n_clinical > 0``).
    fusion : {"concat", "gated"}, default="concat"
        "concat": image, text (and clinical) features concatenated into the head. "gated": a
        gated multimodal unit between the image features and the text (+ clinical) features.
    n_heads, head_dim : int, default=4, 64
        GMU size for ``fusion="gated"``.
    norm_layer : callable, default=None
        Normalisation layer class of the image backbone (``None``: batch normalisation of
        ``spatial_dims``).
    clinical_shortcut : bool, default=False
        Add :class:`~skfusion.nn.clinical.ClinicalShortcut` logits (when ``n_clinical > 0``).
    stem : {"standard", "small"}, default="standard"
    spatial_dims : {2, 3}, default=2
        2 for images, 3 for volumes.
    """

    def __init__(
        self,
        n_outputs,
        n_clinical,
        vocabulary_size,
        in_channels=1,
        backbone="resnet50",
        base_width=64,
        embedding_dim=64,
        hidden_size=64,
        clinical_dim=64,
        fusion="concat",
        n_heads=4,
        head_dim=64,
        norm_layer=None,
        clinical_shortcut=False,
        stem="standard",
        spatial_dims=2,
    ):
        super().__init__()
        check_option("fusion", fusion, FUSIONS)
        self.fusion_kind = fusion
        self.image_encoder = ResNet(
            backbone,
            in_channels=in_channels,
            base_width=base_width,
            norm_layer=norm_layer,
            stem=stem,
            spatial_dims=spatial_dims,
        )
        self.shortcut = (
            ClinicalShortcut(n_clinical, n_outputs) if clinical_shortcut and n_clinical else None
        )
        self.text_encoder = AttentionTextEncoder(vocabulary_size, embedding_dim, hidden_size)
        self.clinical_encoder = ClinicalEncoder(n_clinical, clinical_dim) if n_clinical else None
        other = self.text_encoder.out_features + (clinical_dim if n_clinical else 0)
        if fusion == "gated":
            self.fusion = MultiHeadGMU(self.image_encoder.out_features, other, head_dim, n_heads)
            width = self.fusion.out_features
        else:
            self.fusion = None
            width = self.image_encoder.out_features + other
        self.head = nn.Linear(width, n_outputs)
        self.missing_image = StandIn(self.image_encoder.out_features, n_clinical)
        self.missing_text = StandIn(self.text_encoder.out_features, n_clinical)
        he_init_(self)

    def forward_features(self, images, clinical, tokens, image_present=None, text_present=None):
        """Return the fused feature vector. A sample without an image (``image_present``
        False) or without a report (``text_present`` False) gets that encoder's learned
        stand-in (a linear function of its clinical values, or a constant without them)."""
        n = images.shape[0]
        reads = clinical if self.clinical_encoder is not None else None
        image = encode_present(
            self.image_encoder,
            (images,),
            image_present,
            stand_in_for(self, "missing_image", image_present, n, reads),
            self.training,
        )
        parts = [
            encode_present(
                self.text_encoder,
                (tokens,),
                text_present,
                stand_in_for(self, "missing_text", text_present, n, reads),
                self.training,
            )
        ]
        if self.clinical_encoder is not None:
            parts.append(self.clinical_encoder(clinical))
        other = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
        if self.fusion is not None:
            return self.fusion(image, other)
        return torch.cat([image, other], dim=1)

    def forward(self, images, clinical=None, tokens=None, image_present=None, text_present=None):
        """Return the outputs, shape ``(n, n_outputs)``: class logits, standardised targets
        or log-risk."""
        if tokens is None:
            raise ValueError("ReportFusionNet needs report tokens; got tokens=None.")
        return self.output(
            self.forward_features(images, clinical, tokens, image_present, text_present), clinical
        )
