import pytest
import torch
from torch import nn

from skfusion.nn import RESNET_SPECS, ClinicalChannelAttention, ResidualBlock, ResNet
from skfusion.nn.rbca import RBCAFront


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


def test_rbca_structure_in_every_block():
    """The paper's block (section 2.2): one 1x1 reduction to half of the inner width,
    [CAM(R), R] back to the inner width, then the bottleneck's 3x3 and 1x1 convolutions."""
    net = ResNet("resnet50", base_width=64, attention_stages=(2, 3, 4), clinical_dim=32)
    expected_inputs = {2: [256, 512, 512, 512], 3: [512] + [1024] * 5, 4: [1024, 2048, 2048]}
    for stage_number, inputs in expected_inputs.items():
        stage = net.stages[stage_number - 1]
        width = 64 * 2 ** (stage_number - 1)
        assert [block.in_channels for block in stage] == inputs
        for index, (block, in_channels) in enumerate(zip(stage, inputs)):
            front = block.front
            assert isinstance(front, RBCAFront)
            assert not hasattr(block, "conv1")  # the reduction replaces the first conv
            reduce = front.reduce[0]
            assert (reduce.in_channels, reduce.out_channels, reduce.kernel_size) == (
                in_channels,
                width // 2,
                (1, 1),
            )
            assert isinstance(front.attention, ClinicalChannelAttention)
            projection = front.attention.clinical_projection
            assert (projection[0].in_features, projection[0].out_features) == (32, width // 2)
            assert not any(isinstance(m, nn.ReLU) for m in projection)
            convs = [m for m in block.body if isinstance(m, nn.Conv2d)]
            assert [(c.in_channels, c.out_channels, c.kernel_size) for c in convs] == [
                (width, width, (3, 3)),
                (width, 4 * width, (1, 1)),
            ]
            assert convs[0].stride == ((2, 2) if index == 0 else (1, 1))
    assert all(block.front is None for block in net.stages[0])


@pytest.mark.parametrize("backbone", ["resnet18", "resnet50"])
def test_rbca_basic_block_structure(backbone):
    net = ResNet(backbone, base_width=8, attention_stages=(2, 3, 4), clinical_dim=16)
    block = net.stages[1][0]
    width = 16
    convs = [m for m in block.body if isinstance(m, nn.Conv2d)]
    if backbone == "resnet18":
        # Reduction, then the basic block's two 3x3 convolutions (the first with the stride).
        assert [(c.in_channels, c.out_channels, c.kernel_size, c.stride) for c in convs] == [
            (width, width, (3, 3), (2, 2)),
            (width, width, (3, 3), (1, 1)),
        ]
    assert block.front.reduce[0].out_channels == width // 2
    out = net(torch.randn(2, 1, 32, 32), torch.randn(2, 16))
    assert out.shape == (2, net.out_features)


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


def test_residual_block_with_rbca_front_keeps_shapes():
    block = ResidualBlock(16, 8, 2, "bottleneck", nn.BatchNorm2d, front=RBCAFront(16, 8, 8)).eval()
    out = block(torch.randn(2, 16, 8, 8), torch.randn(2, 8))
    assert out.shape == (2, 32, 4, 4)


def test_channel_attention_weights_follow_the_formula():
    torch.manual_seed(0)
    module = ClinicalChannelAttention(4, 3).eval()
    seen = {}
    module.gate.register_forward_hook(lambda m, i, o: seen.setdefault("weights", o))
    reduced, t = torch.rand(2, 4, 5, 5), torch.randn(2, 3)
    out = module(reduced, t)
    projected = module.clinical_projection(t)
    weights = torch.sigmoid((reduced * projected[:, :, None, None]).mean((2, 3)))
    torch.testing.assert_close(seen["weights"], weights)
    torch.testing.assert_close(out, reduced * weights[:, :, None, None])
    front = RBCAFront(6, 4, 3).eval()
    x = torch.randn(2, 6, 5, 5)
    both = front(x, t)
    r = front.reduce(x)
    torch.testing.assert_close(both, torch.cat([front.attention(r, t), r], dim=1))
    with pytest.raises(ValueError, match="even"):
        RBCAFront(6, 5, 3)


def test_channel_attention_can_suppress_and_keep_channels():
    """The weights fall below 0.5 for some inputs and above for others (a ReLU after the
    clinical projection would keep them all at or above 0.5)."""
    torch.manual_seed(0)
    net = ResNet("resnet18", base_width=4, attention_stages=(2, 3, 4), clinical_dim=8)
    weights = []
    for module in net.modules():
        if isinstance(module, ClinicalChannelAttention):
            module.gate.register_forward_hook(lambda m, i, o: weights.append(o.detach()))
    net.train()
    net(torch.randn(16, 1, 32, 32), torch.randn(16, 8))
    values = torch.cat([w.flatten() for w in weights])
    assert (values < 0.4).any() and (values > 0.6).any()


@pytest.mark.parametrize(
    "stem, size, final", [("standard", 32, 1), ("small", 32, 4), ("small", 16, 2)]
)
def test_stems_keep_the_documented_resolution(stem, size, final):
    net = ResNet("resnet18", base_width=4, stem=stem).eval()
    assert net.forward_features(torch.randn(2, 1, size, size)).shape[-1] == final
    with pytest.raises(ValueError, match="(?i)did you mean 'small'"):
        ResNet("resnet18", stem="smal")
