"""ResNet backbones for 2-D slices, with optional clinical attention blocks in chosen stages.

Variants are data: :data:`RESNET_SPECS` holds the block type and the number of blocks per stage
of each standard depth (He et al., 2016). ``base_width`` scales every stage (64 is the standard
ResNet; 8-16 trains quickly on a CPU).
"""

from dataclasses import dataclass

import torch
from torch import nn

from ._checks import check_option, check_positive_int
from .rbca import ClinicalChannelAttention


@dataclass(frozen=True)
class ResNetSpec:
    """Block type and blocks per stage of one ResNet depth."""

    block: str
    depths: tuple

    @property
    def expansion(self):
        """Output channels of a block over its width (4 for bottleneck blocks, 1 for basic)."""
        return 4 if self.block == "bottleneck" else 1


RESNET_SPECS = {
    "resnet18": ResNetSpec("basic", (2, 2, 2, 2)),
    "resnet34": ResNetSpec("basic", (3, 4, 6, 3)),
    "resnet50": ResNetSpec("bottleneck", (3, 4, 6, 3)),
    "resnet101": ResNetSpec("bottleneck", (3, 4, 23, 3)),
}


class ResidualBlock(nn.Module):
    """A basic or bottleneck residual block, optionally preceded by clinical attention.

    With ``attention`` set this is the paper's Residual Block with Clinical Attention (RBCA):
    the attention module rewrites the block's input (same width) before its convolutions, and
    the shortcut still carries the original input.

    Parameters
    ----------
    in_channels : int
        Input channels.
    width : int
        Width of the block's inner convolutions; the output has ``width * expansion`` channels.
    stride : int
        Stride of the block's 3x3 convolution (2 at the start of stages 2-4).
    block : {"basic", "bottleneck"}
        Block type.
    norm_layer : callable
        2-D normalisation layer class.
    attention : torch.nn.Module or None, default=None
        A module ``attention(images, clinical)`` returning ``in_channels`` channels.
    """

    def __init__(self, in_channels, width, stride, block, norm_layer, attention=None):
        super().__init__()
        check_option("block", block, {"basic", "bottleneck"})
        expansion = 4 if block == "bottleneck" else 1
        out_channels = width * expansion
        self.attention = attention
        if block == "bottleneck":
            self.body = nn.Sequential(
                nn.Conv2d(in_channels, width, 1, bias=False),
                norm_layer(width),
                nn.ReLU(inplace=True),
                nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False),
                norm_layer(width),
                nn.ReLU(inplace=True),
                nn.Conv2d(width, out_channels, 1, bias=False),
                norm_layer(out_channels),
            )
        else:
            self.body = nn.Sequential(
                nn.Conv2d(in_channels, width, 3, stride=stride, padding=1, bias=False),
                norm_layer(width),
                nn.ReLU(inplace=True),
                nn.Conv2d(width, out_channels, 3, padding=1, bias=False),
                norm_layer(out_channels),
            )
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                norm_layer(out_channels),
            )
        else:
            self.shortcut = nn.Identity()
        self.relu = nn.ReLU(inplace=True)
        self.in_channels = in_channels
        self.out_channels = out_channels

    def forward(self, images, clinical=None):
        """Return ``relu(body(attention(x, clinical)) + shortcut(x))``."""
        inner = images if self.attention is None else self.attention(images, clinical)
        return self.relu(self.body(inner) + self.shortcut(images))


class ResNet(nn.Module):
    """A ResNet feature extractor for single- or multi-channel 2-D images of any size.

    Parameters
    ----------
    backbone : {"resnet18", "resnet34", "resnet50", "resnet101"}, default="resnet50"
        Depth, looked up in :data:`RESNET_SPECS`.
    in_channels : int, default=1
        Image channels.
    base_width : int, default=64
        Width of the first stage; stage ``s`` (1-4) has width ``base_width * 2 ** (s - 1)``.
    attention_stages : tuple of int, default=()
        Stages (numbered 1-4) whose blocks are RBCA blocks. Yang et al. use ``(2, 3, 4)``.
    clinical_dim : int or None, default=None
        Size of the clinical features the attention blocks receive; required when
        ``attention_stages`` is not empty.
    norm_layer : callable, default=torch.nn.BatchNorm2d
        2-D normalisation used in the stem, every block and every attention module.
    condition : callable or None, default=None
        ``condition(stage, block_index, in_channels)`` returns a module
        ``module(images, clinical)`` that rewrites that block's input (same channels), or
        ``None``; how FiLM and DAFT enter chosen blocks. Used where ``attention_stages``
        does not already place an RBCA.

    Attributes
    ----------
    out_features : int
        Size of the pooled feature vector, ``base_width * 8 * expansion`` (2048 for ResNet50).
    """

    def __init__(
        self,
        backbone="resnet50",
        in_channels=1,
        base_width=64,
        attention_stages=(),
        clinical_dim=None,
        norm_layer=nn.BatchNorm2d,
        condition=None,
    ):
        super().__init__()
        spec = RESNET_SPECS[check_option("backbone", backbone, RESNET_SPECS)]
        check_positive_int("in_channels", in_channels)
        check_positive_int("base_width", base_width)
        attention_stages = tuple(sorted(set(attention_stages)))
        for stage in attention_stages:
            check_option("attention stage", stage, {1, 2, 3, 4})
        if attention_stages and clinical_dim is None:
            raise ValueError(
                f"attention_stages={attention_stages} needs clinical_dim (the size of the "
                "clinical features); got clinical_dim=None."
            )
        self.backbone = backbone
        self.attention_stages = attention_stages
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, base_width, 7, stride=2, padding=3, bias=False),
            norm_layer(base_width),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, stride=2, padding=1),
        )
        stages = []
        channels = base_width
        for index, depth in enumerate(spec.depths):
            stage_number = index + 1
            width = base_width * 2**index
            blocks = []
            for block_index in range(depth):
                stride = 2 if (index > 0 and block_index == 0) else 1
                attention = None
                if stage_number in attention_stages:
                    attention = ClinicalChannelAttention(channels, clinical_dim, norm_layer)
                elif condition is not None:
                    attention = condition(stage_number, block_index, channels)
                block = ResidualBlock(channels, width, stride, spec.block, norm_layer, attention)
                blocks.append(block)
                channels = block.out_channels
            stages.append(nn.ModuleList(blocks))
        self.stages = nn.ModuleList(stages)
        self.out_features = channels

    def forward_features(self, images, clinical=None):
        """Return the last stage's feature map, shape ``(n, out_features, h, w)``."""
        features = self.stem(images)
        for stage in self.stages:
            for block in stage:
                features = block(features, clinical)
        return features

    def forward(self, images, clinical=None):
        """Return globally average-pooled features, shape ``(n, out_features)``."""
        return torch.flatten(nn.functional.adaptive_avg_pool2d(
            self.forward_features(images, clinical), 1), 1)
