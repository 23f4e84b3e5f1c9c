"""The clinical-attention fusion network of Yang et al. and its ablations."""

import torch
from torch import nn

from ._checks import check_option, check_positive_int
from .clinical import ClinicalEncoder, ClinicalShortcut
from .head import FusionHead
from .init import he_init_
from .presence import StandIn, encode_present, stand_in_for
from .resnet import RESNET_SPECS, ResNet

#: What each mode uses: (image path, clinical path, clinical attention in stages 2-4).
MODES = {
    "image": (True, False, False),
    "clinical": (False, True, False),
    "concat": (True, True, False),
    "full": (True, True, True),
}


class ClinicalAttentionNet(FusionHead):
    """ResNet image features, clinical features, and their concatenation into a linear head.

    Parameters
    ----------
    n_outputs : int
        Number of output logits.
    n_clinical : int
        Clinical values per sample (ignored in mode ``"image"``).
    in_channels : int, default=1
        Image channels (ignored in mode ``"clinical"``).
    mode : {"image", "clinical", "concat", "full"}, default="full"
        ``"image"``: plain ResNet, clinical values ignored. ``"clinical"``: the clinical path
        alone. ``"concat"``: plain ResNet features concatenated with clinical features.
        ``"full"``: RBCA blocks in stages 2-4 guided by the clinical features, then the
        concatenation (the paper's full model).
    backbone : {"resnet18", "resnet34", "resnet50", "resnet101"}, default="resnet50"
        ResNet depth.
    base_width : int, default=64
        Width of the first ResNet stage.
    clinical_dim : int or "auto", default="auto"
        Size of the clinical feature vector. "auto" takes the width of the pooled image
        features of the network as built (``base_width * 8 * expansion``: 2048 for ResNet50
        at width 64, 512 for ResNet18), the paper's "close to" the image feature width.
    norm_layer : callable or None, default=None
        None: batch normalisation of ``spatial_dims`` dimensions.
    spatial_dims : {2, 3}, default=2
        2 for images ``(n, C, H, W)``, 3 for volumes ``(n, C, D, H, W)``.
        2-D normalisation of the image path.
    clinical_shortcut : bool, default=False
        Add :class:`~skfusion.nn.clinical.ClinicalShortcut` logits (modes "concat" and
        "full" only).
    stem : {"standard", "small"}, default="standard"
        The ResNet's stem (see :data:`skfusion.nn.resnet.STEMS`).
    attention_start : {"paper", "neutral"}, default="paper"
        Mode "full": how the clinical attention starts. "paper": initialised as every layer
        (each patient's clinical values scale each channel by a random factor from the first
        step); "neutral": every channel weight starts at 0.5 for every patient, so each RBCA
        begins as the plain block (:mod:`skfusion.nn.rbca`).
    attention_form : {"paper", "inner"}, default="paper"
        Mode "full": where the clinical attention sits in each RBCA block. "paper": a 1x1
        reduction to half the width in front of the block, ``[CAM(R), R]`` into its
        convolutions; "inner": the plain block, the attention on half of its first
        convolution's output with weights centred at 1 (:mod:`skfusion.nn.rbca`).

    Notes
    -----
    ``forward(images, clinical)`` returns logits of shape ``(n, n_outputs)``; softmax is left to
    the loss and to ``predict_proba``. Weights start with He initialisation.
    """

    def __init__(
        self,
        n_outputs,
        n_clinical,
        in_channels=1,
        mode="full",
        backbone="resnet50",
        base_width=64,
        clinical_dim="auto",
        norm_layer=None,
        clinical_shortcut=False,
        stem="standard",
        spatial_dims=2,
        attention_start="paper",
        attention_form="paper",
    ):
        super().__init__()
        check_positive_int("n_outputs", n_outputs)
        clinical_dim = resolve_clinical_dim(clinical_dim, backbone, base_width)
        use_image, use_clinical, use_attention = MODES[check_option("mode", mode, MODES)]
        self.mode = mode
        self.clinical_encoder = ClinicalEncoder(n_clinical, clinical_dim) if use_clinical else None
        self.image_encoder = (
            ResNet(
                backbone,
                in_channels=in_channels,
                base_width=base_width,
                attention_stages=(2, 3, 4) if use_attention else (),
                clinical_dim=clinical_dim if use_attention else None,
                norm_layer=norm_layer,
                stem=stem,
                spatial_dims=spatial_dims,
                attention_start=attention_start,
                attention_form=attention_form,
            )
            if use_image
            else None
        )
        self.shortcut = (
            ClinicalShortcut(n_clinical, n_outputs)
            if clinical_shortcut and use_image and use_clinical
            else None
        )
        n_features = (self.image_encoder.out_features if use_image else 0) + (
            clinical_dim if use_clinical else 0
        )
        self.head = nn.Linear(n_features, n_outputs)
        self.missing_image = (
            StandIn(self.image_encoder.out_features, n_clinical if use_clinical else 0)
            if use_image
            else None
        )
        he_init_(self)

    def forward_features(self, images, clinical, image_present=None):
        """Return the fused feature vector that the head classifies. A sample without an
        image (``image_present`` False) gets the learned stand-in features, a linear
        function of its clinical values, in place of the image path's: in mode "full"
        the clinical attention then has no image to act on, and the clinical features still
        reach the head through the concatenation."""
        parts = []
        clinical_features = None
        if self.clinical_encoder is not None:
            clinical_features = self.clinical_encoder(clinical)
        if self.image_encoder is not None:
            stand_in = stand_in_for(
                self,
                "missing_image",
                image_present,
                images.shape[0],
                clinical if self.clinical_encoder is not None else None,
            )
            parts.append(
                encode_present(
                    self.image_encoder,
                    (images, clinical_features),
                    image_present,
                    stand_in,
                    self.training,
                )
            )
        if clinical_features is not None:
            parts.append(clinical_features)
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)


def resolve_clinical_dim(clinical_dim, backbone, base_width):
    """``clinical_dim``, with "auto" read as the pooled image feature width of the backbone."""
    if clinical_dim == "auto":
        spec = RESNET_SPECS[check_option("backbone", backbone, RESNET_SPECS)]
        return check_positive_int("base_width", base_width) * 8 * spec.expansion
    return check_positive_int("clinical_dim", clinical_dim)
