import pytest
import torch
from torch import nn

from skfusion.nn import FeatureModulation, FeatureModulationNet, ResNet


def test_starts_as_identity_and_follows_the_formula():
    torch.manual_seed(0)
    for method in ("film", "daft"):
        module = FeatureModulation(method, channels=6, n_clinical=3)
        x, c = torch.randn(2, 6, 4, 4), torch.randn(2, 3)
        torch.testing.assert_close(module(x, c), x)
        torch.nn.init.normal_(module.mlp[-1].weight)
        seen = {}
        module.scale_out.register_forward_hook(lambda m, i, o: seen.setdefault("scale", o))
        module.shift_out.register_forward_hook(lambda m, i, o: seen.setdefault("shift", o))
        out = module(x, c)
        expected = (1 + seen["scale"][:, :, None, None]) * x + seen["shift"][:, :, None, None]
        torch.testing.assert_close(out, expected)
        assert seen["scale"].shape == (2, 6)


def test_film_ignores_the_image_and_daft_uses_it():
    torch.manual_seed(0)
    c = torch.randn(1, 3).repeat(2, 1)
    x = torch.randn(2, 6, 4, 4)
    for method, depends_on_image in (("film", False), ("daft", True)):
        module = FeatureModulation(method, channels=6, n_clinical=3)
        torch.nn.init.normal_(module.mlp[-1].weight)
        seen = {}
        module.scale_out.register_forward_hook(lambda m, i, o: seen.setdefault("scale", o))
        module(x, c)
        same = torch.allclose(seen["scale"][0], seen["scale"][1])
        assert same != depends_on_image, method


def test_daft_input_width_and_bottleneck():
    module = FeatureModulation("daft", channels=32, n_clinical=8, bottleneck_ratio=4)
    assert module.mlp[0].in_features == 40 and module.mlp[0].out_features == 10
    assert module.mlp[-1].out_features == 64
    assert FeatureModulation("film", 32, 8).mlp[0].in_features == 8


@pytest.mark.parametrize(
    "backbone, stage, block_index, channels",
    [("resnet18", 4, 1, 32), ("resnet50", 3, 5, 16), ("resnet34", 2, 3, 8)],
)
def test_modulates_the_last_block_of_the_stage(backbone, stage, block_index, channels):
    net = FeatureModulationNet(2, 5, backbone=backbone, base_width=4, stage=stage)
    located = [
        (s + 1, b)
        for s, blocks in enumerate(net.image_encoder.stages)
        for b, block in enumerate(blocks)
        if block.modulation is not None
    ]
    assert located == [(stage, block_index)]
    block = net.image_encoder.stages[stage - 1][block_index]
    modulation = block.modulation
    assert modulation.channels == channels
    # DAFT's location: after the first convolution's normalisation, which has no affine
    # parameters of its own; the MLP has no biases and a bottleneck of 7 by default.
    assert block.norm1.affine is False
    assert block.conv1.out_channels == channels
    assert all(layer.bias is None for layer in modulation.mlp if isinstance(layer, nn.Linear))
    seen = {}
    block.norm1.register_forward_hook(lambda m, i, o: seen.__setitem__("norm", o))
    modulation.register_forward_hook(lambda m, i, o: seen.__setitem__("mod", (i[0], o)))
    net.eval()(torch.randn(2, 1, 32, 32), torch.randn(2, 5))
    assert torch.equal(seen["mod"][0], seen["norm"])
    out = net.eval()(torch.randn(2, 1, 32, 32), torch.randn(2, 5))
    assert out.shape == (2, 2)


@pytest.mark.parametrize(
    "kwargs, match", [(dict(method="dafts"), "did you mean 'daft'"), (dict(stage=5), "stage=5")]
)
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=f"(?i){match}"):
        FeatureModulationNet(2, 3, backbone="resnet18", base_width=4, **kwargs)


def test_condition_reaches_resnet_blocks():
    calls = []

    def condition(stage, block_index, channels):
        calls.append((stage, block_index, channels))
        return None

    ResNet("resnet18", base_width=4, condition=condition)
    # The modulation sees the first convolution's output: the block's width.
    assert calls == [
        (1, 0, 4),
        (1, 1, 4),
        (2, 0, 8),
        (2, 1, 8),
        (3, 0, 16),
        (3, 1, 16),
        (4, 0, 32),
        (4, 1, 32),
    ]
