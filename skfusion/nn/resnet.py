"""ResNet backbones, 2-D (slices) or 3-D (volumes) by ``spatial_dims``, with optional clinical
attention blocks in chosen stages.

Variants are data: :data:`RESNET_SPECS` holds the block type and the number of blocks per stage
of each standard depth (He et al., 2016). ``base_width`` scales every stage (64 is the standard
ResNet; 8-16 trains quickly on a CPU).
"""

from dataclasses import dataclass

from torch import nn

from ._checks import check_option, check_positive_int
from ._dims import CONV, MAX_POOL, check_spatial_dims, default_norm, global_average
from .rbca import FORMS, RBCAFront, RBCAInner


@dataclass(frozen=True)
class ResNetSpec:
    """Block type and blocks per stage of one ResNet depth.

    Parameters
    ----------
    block : {"basic", "bottleneck"}
        The residual block of every stage.
    depths : tuple of int
        Blocks in each of the four stages.
    """

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


#: Stems: "standard" is He et al.'s (7x7 convolution with stride 2, then 3x3 max pooling:
#: a quarter of the resolution before stage 1, made for 224x224 photographs); "small"
#: keeps the resolution (3x3 convolution with stride 1, no pooling), the usual choice for
#: small images (CIFAR-style ResNets), at 16 times the computation of the stages.
STEMS = ("standard", "small")


class ResidualBlock(nn.Module):
    """A basic or bottleneck residual block, optionally an RBCA or clinically modulated.

    Without options this is He et al.'s block. Two seams let clinical data in:

    * ``front`` (the paper's RBCA, :class:`~skfusion.nn.rbca.RBCAFront`) replaces the block's
      first convolution: a 1x1 reduction to half of ``width`` and ``[CAM(R), R]`` back to
      ``width`` channels; the two convolutions that follow are the bottleneck's 3x3 and 1x1
      (basic blocks: both 3x3 convolutions, the first with the stride).
    * ``attention`` (the ``"inner"`` RBCA, :class:`~skfusion.nn.rbca.RBCAInner`) rewrites the
      first convolution's output after its norm and ReLU; the block is otherwise the plain
      block.
    * ``modulation`` (FiLM/DAFT) rewrites the output of the first convolution's
      normalisation, before its ReLU (DAFT's placement); that normalisation then has no
      affine parameters of its own, as in the DAFT authors' configuration.

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
        Normalisation layer class (of ``spatial_dims`` dimensions).
    front : torch.nn.Module or None, default=None
        A module ``front(images, clinical)`` returning ``width`` channels.
    modulation : torch.nn.Module or None, default=None
        A module ``modulation(features, clinical)`` returning ``width`` channels.
    attention : torch.nn.Module or None, default=None
        A module ``attention(features, clinical)`` returning ``width`` channels.
    spatial_dims : {2, 3}, default=2
        2 for images, 3 for volumes.
    """

    def __init__(
        self,
        in_channels,
        width,
        stride,
        block,
        norm_layer,
        front=None,
        modulation=None,
        spatial_dims=2,
        attention=None,
    ):
        super().__init__()
        conv = CONV[check_spatial_dims(spatial_dims)]
        check_option("block", block, {"basic", "bottleneck"})
        if sum(seam is not None for seam in (front, modulation, attention)) > 1:
            raise ValueError(
                "a block takes one of an RBCA front, an RBCA attention or a "
                "modulation, not several."
            )
        expansion = 4 if block == "bottleneck" else 1
        out_channels = width * expansion
        self.front = front
        self.modulation = modulation
        self.attention = attention
        if front is None:
            first_kernel, first_stride = (1, 1) if block == "bottleneck" else (3, stride)
            self.conv1 = conv(
                in_channels,
                width,
                first_kernel,
                stride=first_stride,
                padding=first_kernel // 2,
                bias=False,
            )
            self.norm1 = (
                norm_layer(width, affine=False) if modulation is not None else norm_layer(width)
            )
        layers = []
        if block == "bottleneck":
            layers += [
                conv(width, width, 3, stride=stride, padding=1, bias=False),
                norm_layer(width),
                nn.ReLU(inplace=True),
                conv(width, out_channels, 1, bias=False),
                norm_layer(out_channels),
            ]
        else:
            if front is not None:  # the reduction took no stride: the first 3x3 takes it
                layers += [
                    conv(width, width, 3, stride=stride, padding=1, bias=False),
                    norm_layer(width),
                    nn.ReLU(inplace=True),
                ]
            layers += [
                conv(width, out_channels, 3, padding=1, bias=False),
                norm_layer(out_channels),
            ]
        self.body = nn.Sequential(*layers)
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                conv(in_channels, out_channels, 1, stride=stride, bias=False),
                norm_layer(out_channels),
            )
        else:
            self.shortcut = nn.Identity()
        self.relu = nn.ReLU(inplace=True)
        self.in_channels = in_channels
        self.out_channels = out_channels

    def __setstate__(self, state):
        super().__setstate__(state)
        if "attention" not in self.__dict__ and "attention" not in self._modules:
            self.attention = None  # a block pickled before the "inner" RBCA existed

    def forward(self, images, clinical=None):
        """Return ``relu(body(first(x, clinical)) + shortcut(x))``."""
        if self.front is not None:
            inner = self.front(images, clinical)
        else:
            inner = self.norm1(self.conv1(images))
            if self.modulation is not None:
                inner = self.modulation(inner, clinical)
            inner = self.relu(inner)
            if self.attention is not None:
                inner = self.attention(inner, clinical)
        return self.relu(self.body(inner) + self.shortcut(images))


class ResNet(nn.Module):
    """A ResNet feature extractor for 2-D images or 3-D volumes of any size and channels.

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
    norm_layer : callable or None, default=None
        Normalisation used in the stem, every block and every attention module; None is
        batch normalisation of ``spatial_dims`` dimensions.
    stem : {"standard", "small"}, default="standard"
        See :data:`STEMS`.
    spatial_dims : {2, 3}, default=2
        2 for images ``(n, C, H, W)``, 3 for volumes ``(n, C, D, H, W)`` (MONAI's name):
        every convolution, normalisation and pooling is built for that many dimensions.
    condition : callable or None, default=None
        ``condition(stage, block_index, width)`` returns a module
        ``module(features, clinical)`` that rewrites the normalised output of that block's
        first convolution (``width`` channels), or ``None``; how FiLM and DAFT enter chosen
        blocks. Used where ``attention_stages`` does not already place an RBCA.
    attention_start : {"paper", "neutral"}, default="paper"
        How the RBCA blocks' clinical attention starts
        (:class:`~skfusion.nn.rbca.ClinicalChannelAttention`).
    attention_form : {"paper", "inner"}, default="paper"
        Where the RBCA blocks' attention sits: a reduction in front of the block
        (:class:`~skfusion.nn.rbca.RBCAFront`) or inside the plain block
        (:class:`~skfusion.nn.rbca.RBCAInner`); see :mod:`skfusion.nn.rbca`.

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
        norm_layer=None,
        condition=None,
        stem="standard",
        spatial_dims=2,
        attention_start="paper",
        attention_form="paper",
    ):
        super().__init__()
        check_option("attention_form", attention_form, FORMS)
        spatial_dims = check_spatial_dims(spatial_dims)
        norm_layer = default_norm(norm_layer, spatial_dims)
        conv = CONV[spatial_dims]
        check_option("stem", stem, STEMS)
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
        if stem == "standard":
            self.stem = nn.Sequential(
                conv(in_channels, base_width, 7, stride=2, padding=3, bias=False),
                norm_layer(base_width),
                nn.ReLU(inplace=True),
                MAX_POOL[spatial_dims](3, stride=2, padding=1),
            )
        else:
            self.stem = nn.Sequential(
                conv(in_channels, base_width, 3, stride=1, padding=1, bias=False),
                norm_layer(base_width),
                nn.ReLU(inplace=True),
            )
        self.stem_kind = stem
        stages = []
        channels = base_width
        for index, depth in enumerate(spec.depths):
            stage_number = index + 1
            width = base_width * 2**index
            blocks = []
            for block_index in range(depth):
                stride = 2 if (index > 0 and block_index == 0) else 1
                front = modulation = attention = None
                if stage_number in attention_stages and attention_form == "inner":
                    attention = RBCAInner(width, clinical_dim, attention_start)
                elif stage_number in attention_stages:
                    front = RBCAFront(
                        channels, width, clinical_dim, norm_layer, spatial_dims, attention_start
                    )
                elif condition is not None:
                    modulation = condition(stage_number, block_index, width)
                block = ResidualBlock(
                    channels,
                    width,
                    stride,
                    spec.block,
                    norm_layer,
                    front=front,
                    modulation=modulation,
                    spatial_dims=spatial_dims,
                    attention=attention,
                )
                blocks.append(block)
                channels = block.out_channels
            stages.append(nn.ModuleList(blocks))
        self.stages = nn.ModuleList(stages)
        self.out_features = channels
        self.spatial_dims = spatial_dims
        #: Channels of the maps a localisation head taps (the stem, then stages 1-4).
        self.pyramid_channels = (base_width, *(stage[-1].out_channels for stage in stages))
        self.taps = None

    def forward_features(self, images, clinical=None, after_stage=None):
        """Return the last stage's feature map, shape ``(n, out_features, *spatial)``.

        ``after_stage(number, features)``, when given, rewrites each stage's output (stage
        numbers 1-4) before the next stage reads it. While ``self.taps`` is a list (a
        localisation head sets it around a forward pass), the stem's output before its
        pooling and every stage's output are appended to it, finest first (channels:
        :attr:`pyramid_channels`)."""
        taps = self.taps
        if taps is None:
            features = self.stem(images)
        else:
            features = self.stem[:3](images)
            taps.append(features)
            features = self.stem[3:](features)
        for number, stage in enumerate(self.stages, start=1):
            for block in stage:
                features = block(features, clinical)
            if after_stage is not None:
                features = after_stage(number, features)
            if taps is not None:
                taps.append(features)
        return features

    def forward(self, images, clinical=None):
        """Return globally average-pooled features, shape ``(n, out_features)``."""
        return global_average(self.forward_features(images, clinical))
