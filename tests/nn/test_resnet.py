import pytest
import torch
from torch import nn

from skfusion.nn import RESNET_SPECS, ClinicalChannelAttention, ResidualBlock, ResNet


@pytest.mark.parametrize(
    "backbone, base_width, in_channels, input_size, out_features",
    [
        ("resnet18", 4, 1, 32, 32),
        ("resnet34", 4, 3, 17, 32),
        ("resnet50", 4, 1, 32, 128),
        ("resnet101", 2, 2, 20, 64),
        ("resnet50", 64, 1, 64, 2048),
    ],
)
def test_output_shapes(backbone, base_width, in_channels, input_size, out_features):
    net = ResNet(backbone, in_channels=in_channels, base_width=base_width).eval()
    x = torch.randn(2, in_channels, input_size, input_size)
    assert net.out_features == out_features
    assert net(x).shape == (2, out_features)
    assert net.forward_features(x).shape[:2] == (2, out_features)


@pytest.mark.parametrize("backbone", sorted(RESNET_SPECS))
def test_block_counts_follow_the_depth_table(backbone):
    net = ResNet(backbone, base_width=2)
    assert tuple(len(stage) for stage in net.stages) == RESNET_SPECS[backbone].depths


def test_resnet50_matches_the_standard_parameter_count():
    # torchvision's resnet50 has 23,508,032 parameters without its fc layer, for RGB input.
    net = ResNet("resnet50", in_channels=3, base_width=64)
    assert sum(p.numel() for p in net.parameters()) == 23_508_032


def test_rbca_channel_counts_in_every_block():
    """Every RBCA halves its own block input (256 -> 128 + 128 at the start of stage 2)."""
    net = ResNet("resnet50", base_width=64, attention_stages=(2, 3, 4), clinical_dim=32)
    expected_inputs = {2: [256, 512, 512, 512], 3: [512] + [1024] * 5, 4: [1024, 2048, 2048]}
    for stage_number, inputs in expected_inputs.items():
        stage = net.stages[stage_number - 1]
        assert [block.in_channels for block in stage] == inputs
        for block, in_channels in zip(stage, inputs):
            attention = block.attention
            assert isinstance(attention, ClinicalChannelAttention)
            assert attention.attend_branch[0].in_channels == in_channels
            assert attention.attend_branch[0].out_channels == in_channels // 2
            assert attention.keep_branch[0].out_channels == in_channels // 2
            assert attention.clinical_projection[0].out_features == in_channels // 2
            assert attention.clinical_projection[0].in_features == 32
            assert block.body[0].in_channels == in_channels
    assert all(block.attention is None for block in net.stages[0])


def test_norm_layer_reaches_every_block():
    net = ResNet(
        "resnet50",
        base_width=4,
        attention_stages=(2, 3, 4),
        clinical_dim=8,
        norm_layer=lambda c: nn.GroupNorm(1, c),
    )
    assert not any(isinstance(m, nn.BatchNorm2d) for m in net.modules())
    assert sum(isinstance(m, nn.GroupNorm) for m in net.modules()) > 50


def test_attention_blocks_need_clinical_features():
    net = ResNet("resnet18", base_width=4, attention_stages=(2,), clinical_dim=8).eval()
    with pytest.raises(ValueError, match="needs clinical features"):
        net(torch.randn(2, 1, 16, 16))
    assert net(torch.randn(2, 1, 16, 16), torch.randn(2, 8)).shape == (2, 32)


def test_clinical_values_change_image_features_only_with_attention():
    torch.manual_seed(0)
    images = torch.randn(4, 1, 32, 32)
    c1, c2 = torch.randn(4, 8), torch.randn(4, 8)
    attended = ResNet("resnet18", base_width=4, attention_stages=(2, 3, 4), clinical_dim=8).eval()
    plain = ResNet("resnet18", base_width=4).eval()
    assert not torch.allclose(attended(images, c1), attended(images, c2))
    assert torch.equal(plain(images, c1), plain(images, c2))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(backbone="resnet51"), r"did you mean 'resnet50'"),
        (dict(base_width=0), "base_width must be an int >= 1"),
        (dict(in_channels=2.5), "in_channels must be an int"),
        (dict(attention_stages=(5,)), "attention stage=5 is not supported"),
        (dict(attention_stages=(2,)), "needs clinical_dim"),
    ],
)
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=f"(?i){match}"):
        ResNet(**kwargs)


def test_residual_block_with_attention_keeps_shapes():
    attention = ClinicalChannelAttention(16, 8)
    block = ResidualBlock(16, 8, 2, "bottleneck", nn.BatchNorm2d, attention).eval()
    out = block(torch.randn(2, 16, 8, 8), torch.randn(2, 8))
    assert out.shape == (2, 32, 4, 4)


def test_channel_attention_weights_follow_the_formula():
    torch.manual_seed(0)
    module = ClinicalChannelAttention(4, 3).eval()
    seen = {}
    module.gate.register_forward_hook(lambda m, i, o: seen.setdefault("weights", o))
    x, t = torch.randn(2, 4, 5, 5), torch.randn(2, 3)
    out = module(x, t)
    attended = module.attend_branch(x)
    projected = module.clinical_projection(t)
    weights = torch.sigmoid((attended * projected[:, :, None, None]).mean((2, 3)))
    torch.testing.assert_close(seen["weights"], weights)
    torch.testing.assert_close(out[:, :2], attended * weights[:, :, None, None])
    torch.testing.assert_close(out[:, 2:], module.keep_branch(x))
    with pytest.raises(ValueError, match="even"):
        ClinicalChannelAttention(5, 3)
