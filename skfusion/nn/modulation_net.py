"""A ResNet whose chosen residual block is modulated by clinical values (FiLM or DAFT)."""

from torch import nn

from ._checks import check_option, check_positive_int
from .clinical import ClinicalShortcut
from .head import FusionHead
from .init import he_init_
from .modulation import METHODS, FeatureModulation
from .presence import StandIn, encode_present, stand_in_for
from .resnet import RESNET_SPECS, ResNet


class FeatureModulationNet(FusionHead):
    """Image classifier whose feature maps are scaled and shifted by clinical values.

    The modulation rewrites the normalised output of the first convolution of the last
    residual block of ``stage``, before its ReLU (the DAFT authors' placement, "location 3";
    ``stage=4`` is the network's last block); the pooled image features then go to a linear
    head. Clinical information reaches the decision only through the modulation, as in the
    DAFT paper.

    Parameters
    ----------
    n_outputs : int
        Number of output logits.
    n_clinical : int
        Clinical values per sample.
    in_channels : int, default=1
        Image channels.
    method : {"film", "daft"}, default="daft"
        See :class:`~skfusion.nn.modulation.FeatureModulation`.
    backbone : str, default="resnet50"
        ResNet depth.
    base_width : int, default=64
        Width of the first ResNet stage.
    stage : int, default=4
        Stage (1-4) whose last block is modulated.
    bottleneck_ratio : int, default=7
        Width reduction of the modulation MLP.
    norm_layer : callable or None, default=None
        None: batch normalisation of ``spatial_dims`` dimensions.
    spatial_dims : {2, 3}, default=2
        2 for images ``(n, C, H, W)``, 3 for volumes ``(n, C, D, H, W)``.
    clinical_shortcut : bool, default=False
        Add :class:`~skfusion.nn.clinical.ClinicalShortcut` logits (not in the published
        FiLM/DAFT networks, where clinical values act only through the modulation).
    stem : {"standard", "small"}, default="standard"
    """

    def __init__(
        self,
        n_outputs,
        n_clinical,
        in_channels=1,
        method="daft",
        backbone="resnet50",
        base_width=64,
        stage=4,
        bottleneck_ratio=7,
        norm_layer=None,
        clinical_shortcut=False,
        stem="standard",
        spatial_dims=2,
    ):
        super().__init__()
        check_positive_int("n_outputs", n_outputs)
        check_option("method", method, METHODS)
        check_option("stage", stage, {1, 2, 3, 4})
        last_block = (
            RESNET_SPECS[check_option("backbone", backbone, RESNET_SPECS)].depths[stage - 1] - 1
        )

        def condition(stage_number, block_index, width):
            if stage_number == stage and block_index == last_block:
                return FeatureModulation(method, width, n_clinical, bottleneck_ratio)
            return None

        self.method = method
        self.image_encoder = ResNet(
            backbone,
            in_channels=in_channels,
            base_width=base_width,
            norm_layer=norm_layer,
            condition=condition,
            stem=stem,
            spatial_dims=spatial_dims,
        )
        self.shortcut = ClinicalShortcut(n_clinical, n_outputs) if clinical_shortcut else None
        self.head = nn.Linear(self.image_encoder.out_features, n_outputs)
        self.missing_image = StandIn(self.image_encoder.out_features, n_clinical)
        he_init_(self)

    def forward_features(self, images, clinical, image_present=None):
        """Return pooled image features, modulated by the clinical values. A sample without
        an image has nothing to modulate: its features are the learned stand-in, a linear
        function of its clinical values, so the clinical values still reach its output."""
        stand_in = stand_in_for(self, "missing_image", image_present, images.shape[0], clinical)
        return encode_present(
            self.image_encoder, (images, clinical), image_present, stand_in, self.training
        )
