"""Pretrained weights into a :class:`~skfusion.nn.resnet.ResNet`: skfusion's own layout, and
the layout torchvision's ResNets and MONAI's ``monai.networks.nets.ResNet`` write (2-D and
3-D; MedicalNet's 3-D weights as MONAI reads them), with the first convolution adapted to the
network's input channels.

The key mapping (torchvision/MONAI -> ours)::

    conv1, bn1                      -> stem.0, stem.1 (only the "standard" 7x7 stem)
    layer{s}.{b}.conv1, .bn1        -> stages.{s-1}.{b}.conv1, .norm1
    basic:      .conv2, .bn2        -> .body.0, .body.1   (.body.3, .body.4 behind an RBCA)
    bottleneck: .conv2, .bn2, .conv3, .bn3 -> .body.0, .body.1, .body.3, .body.4
    .downsample.0, .downsample.1    -> .shortcut.0, .shortcut.1
    fc                              -> (no place: the classification head of the source)

Where our network differs from the source, every tensor that has a place in ours is loaded
and the rest is reported: an RBCA block's front replaces the block's first convolution (its
``conv1``/``bn1`` have no place), FiLM/DAFT's first normalisation has no affine parameters
(its ``bn1.weight``/``bn1.bias`` have no place); MONAI's ``bias_downsample=True`` writes a
bias our shortcut convolution does not have: it is folded, exactly, into the running mean of
the normalisation that follows. Loading is refused, with the reason, when the weights are of
another depth (their stages hold another number of blocks), when the stem does not map (a
"small" stem, another kernel), when a stage gets no tensor at all, when a tensor's shape
differs other than in the input channels (another depth or width), or when
2-D weights meet a 3-D network. MedicalNet's resnet10/18/34 use a parameter-free shortcut
(its "type A") that our ResNet does not have: their stage-opening blocks' shortcuts stay at
their initialisation and are reported as not loaded; MedicalNet's resnet50 (type B) maps
whole.

What a file cannot show: the stride of the first convolution. Our "standard" stem is
torchvision's (7x7, stride 2, then max pooling); MONAI's ``ResNet`` defaults to
``conv1_t_stride=1``, so its default network reads a map twice as fine after the stem. The
weights load either way (a stride has no tensor); for the features a MONAI network with
``conv1_t_stride=1`` computes, resample the images to half their size, or train that source
with ``conv1_t_stride=2``, which is what our stem matches.

Pure torch: nothing here reads a file (see :mod:`skfusion._base.pretrained.weights`).
"""

import re
from dataclasses import dataclass, field

import torch

__all__ = ["LoadReport", "adapt_input_channels", "load_resnet_weights", "source_layout"]

_NORM_KEYS = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


@dataclass
class LoadReport:
    """What :func:`load_resnet_weights` did: ``layout`` of the source ("skfusion" or
    "torchvision"), ``loaded`` (our keys that received a tensor), ``not_loaded`` (our keys
    that kept their initialisation), ``unused`` (source keys with no place in ours) and
    ``adapted`` (our keys whose input channels were adapted)."""

    layout: str
    loaded: list = field(default_factory=list)
    not_loaded: list = field(default_factory=list)
    unused: list = field(default_factory=list)
    adapted: list = field(default_factory=list)


def source_layout(state):
    """ "skfusion" (our ResNet's keys), "torchvision" (torchvision's and MONAI's keys) or None."""
    if any(k.startswith(("stem.", "stages.")) for k in state):
        return "skfusion"
    if "conv1.weight" in state and any(k.startswith("layer1.") for k in state):
        return "torchvision"
    return None


def adapt_input_channels(weight, channels):
    """A first-convolution weight ``(out, c, *kernel)`` for ``channels`` input channels: each
    channel gets the sum of the source's channel weights divided by ``channels``, so an input
    whose channels are equal (a grey image, a stack of similar slices) gives the response the
    source gave to a grey image (R = G = B). Medical channels are slices or sequences, not
    colours, so no channel is matched to one colour."""
    if weight.shape[1] == channels:
        return weight
    summed = weight.sum(dim=1, keepdim=True)
    return summed.expand(-1, channels, *weight.shape[2:]) / channels


def _torchvision_map(encoder):
    """Source key -> our key for torchvision/MONAI's layout, from our encoder's structure."""
    mapping = {}
    if encoder.stem_kind == "standard":
        mapping["conv1.weight"] = "stem.0.weight"
        mapping.update({f"bn1.{k}": f"stem.1.{k}" for k in _NORM_KEYS})
    for s, stage in enumerate(encoder.stages, start=1):
        for b, block in enumerate(stage):
            source, ours = f"layer{s}.{b}.", f"stages.{s - 1}.{b}."
            pairs = [] if block.front is not None else [("conv1", "conv1"), ("bn1", "norm1")]
            if block.body[-2].kernel_size[0] == 1:  # a bottleneck ends with a 1x1 convolution
                pairs += [
                    ("conv2", "body.0"),
                    ("bn2", "body.1"),
                    ("conv3", "body.3"),
                    ("bn3", "body.4"),
                ]
            else:  # a basic block: behind an RBCA its second convolution ends the body
                pairs += (
                    [("conv2", "body.3"), ("bn2", "body.4")]
                    if block.front is not None
                    else [("conv2", "body.0"), ("bn2", "body.1")]
                )
            pairs += [("downsample.0", "shortcut.0"), ("downsample.1", "shortcut.1")]
            for theirs, mine in pairs:
                for key in _NORM_KEYS:
                    mapping[f"{source}{theirs}.{key}"] = f"{ours}{mine}.{key}"
    return mapping


def _blocks_per_stage(state, layout):
    """The number of blocks of each stage the weights hold, as a tuple."""
    pattern = (
        re.compile(r"^layer(\d+)\.(\d+)\.")
        if layout == "torchvision"
        else re.compile(r"^stages\.(\d+)\.(\d+)\.")
    )
    blocks = {}
    for key in state:
        match = pattern.match(key)
        if match:
            stage = int(match.group(1)) - (1 if layout == "torchvision" else 0)
            blocks[stage] = max(blocks.get(stage, 0), int(match.group(2)) + 1)
    return tuple(blocks.get(s, 0) for s in range(max(blocks) + 1)) if blocks else ()


def _check_depths(encoder, state, layout):
    """Refuse weights whose stages hold another number of blocks than ``encoder``'s (another
    depth: resnet18 weights in a resnet34 would leave whole blocks at their initialisation)."""
    theirs = _blocks_per_stage(state, layout)
    mine = tuple(len(stage) for stage in encoder.stages)
    if theirs and theirs != mine:
        names = {
            (2, 2, 2, 2): "resnet18",
            (3, 4, 6, 3): "resnet34 or resnet50",
            (1, 1, 1, 1): "resnet10",
            (3, 4, 23, 3): "resnet101",
        }
        hint = names.get(theirs)
        raise ValueError(
            f"the weights are of another depth: their stages hold {list(theirs)} blocks"
            + (f" (a {hint})" if hint else "")
            + f", this network's {list(mine)} "
            f"({encoder.backbone}). Pass the backbone the weights were trained with"
            + (f" (backbone={hint.split()[0]!r})" if hint else "")
            + "."
        )


def _fold_conv_biases(state, mapping, copies, layout):
    """Fold the biases of the source's convolutions, which ours do not have (MONAI's
    ``bias_downsample=True`` shortcut), into the normalisation that follows each: with
    running statistics, ``norm(conv(x) + b)`` equals ``norm(conv(x))`` whose running mean is
    lowered by ``b``, exactly (in training, batch statistics remove a constant anyway).
    Returns the source keys folded; refuses a bias whose normalisation is not loaded."""
    folded = set()
    for key in state:
        if not key.endswith(".bias"):
            continue
        conv = key[: -len(".bias")]
        if conv.endswith("downsample.0"):
            norm = conv[:-1] + "1"
        else:
            match = re.match(r"^(.*)conv(\d+)$", conv)
            if not match:
                continue
            norm = f"{match.group(1)}bn{match.group(2)}"
        if f"{conv}.weight" not in mapping:
            continue
        target = mapping.get(f"{norm}.running_mean")
        if target is None or target not in copies:
            raise ValueError(
                f"the weights give {key} a bias that this network's convolution lacks, and "
                f"its normalisation ({norm}) has no place here to fold it into; save the "
                "source without convolution biases (MONAI: bias_downsample=False)."
            )
        copies[target] = copies[target] - state[key].to(copies[target].dtype)
        folded.add(key)
    return folded


def load_resnet_weights(encoder, state):
    """Copy ``state`` (a dict of tensors in skfusion's or torchvision/MONAI's layout) into
    ``encoder`` (a :class:`~skfusion.nn.resnet.ResNet`) and return a :class:`LoadReport`.

    Raises ValueError, before anything is copied, when the weights do not fit (see the module
    docstring for what is loaded, what is reported and what is refused)."""
    layout = source_layout(state)
    if layout is None:
        sample = sorted(state)[:4]
        raise ValueError(
            f"the weights are in no layout skfusion reads (first keys {sample}); expected a "
            "skfusion image encoder ('stem.0.weight', 'stages.0.0...') or a torchvision/MONAI "
            "ResNet ('conv1.weight', 'layer1.0...')."
        )
    ours = encoder.state_dict()
    mapping = {k: k for k in state} if layout == "skfusion" else _torchvision_map(encoder)
    if "stem.0.weight" not in mapping.values() or not any(
        source in state for source, target in mapping.items() if target == "stem.0.weight"
    ):
        raise ValueError(
            f"the stem does not map: the weights' first convolution has no place in this "
            f"network (stem={encoder.stem_kind!r}); load them into a network with the "
            "standard 7x7 stem."
        )
    _check_depths(encoder, state, layout)
    copies, adapted, problems = {}, [], []
    for source, target in mapping.items():
        if source not in state or target not in ours:
            continue
        tensor = state[source]
        want = ours[target]
        if tensor.dim() != want.dim():
            problems.append(
                f"{source} is {tensor.dim() - 2}-D weights "
                f"{tuple(tensor.shape)} for {target} of a "
                f"{encoder.spatial_dims}-D network {tuple(want.shape)}"
            )
            continue
        if (
            target == "stem.0.weight"
            and tensor.shape[1] != want.shape[1]
            and tensor.shape[0] == want.shape[0]
            and tensor.shape[2:] == want.shape[2:]
        ):
            tensor = adapt_input_channels(tensor, want.shape[1])
            adapted.append(target)
        if tuple(tensor.shape) != tuple(want.shape):
            problems.append(f"{source} {tuple(tensor.shape)} -> {target} {tuple(want.shape)}")
            continue
        copies[target] = tensor
    if problems:
        raise ValueError(
            f"the weights do not fit this network ({len(problems)} tensor(s)): "
            f"{'; '.join(problems[:3])}. Match the weights' depth (backbone), width "
            "(base_width) and spatial_dims."
        )
    folded = _fold_conv_biases(state, mapping, copies, layout) if layout == "torchvision" else set()
    for number in range(1, len(encoder.stages) + 1):
        if not any(k.startswith(f"stages.{number - 1}.") for k in copies):
            raise ValueError(
                f"stage {number} of this network gets no tensor from the weights: they are "
                "not weights of this backbone (check backbone and spatial_dims)."
            )
    with torch.no_grad():
        for target, tensor in copies.items():
            ours[target].copy_(tensor.to(dtype=ours[target].dtype))
    used = {s for s, t in mapping.items() if t in copies and s in state} | folded
    return LoadReport(
        layout=layout,
        loaded=sorted(copies),
        not_loaded=sorted(set(ours) - set(copies)),
        unused=sorted(set(state) - used),
        adapted=adapted,
    )
