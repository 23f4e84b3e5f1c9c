import ast
import pathlib

import pytest
import torch
from torch import nn

import skfusion.nn
from skfusion.nn import ClinicalAttentionNet, ClinicalChannelAttention, ClinicalEncoder


def count(module):
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize(
    "mode, has_image, has_clinical, has_attention, head_in",
    [
        ("image", True, False, False, 32),
        ("clinical", False, True, False, 8),
        ("concat", True, True, False, 40),
        ("full", True, True, True, 40),
    ],
)
def test_modes_build_the_described_network(mode, has_image, has_clinical, has_attention, head_in):
    net = ClinicalAttentionNet(3, 5, mode=mode, backbone="resnet18", base_width=4, clinical_dim=8)
    assert (net.image_encoder is not None) == has_image
    assert (net.clinical_encoder is not None) == has_clinical
    n_attention = sum(isinstance(m, ClinicalChannelAttention) for m in net.modules())
    assert (n_attention == 6) == has_attention  # resnet18: 2 blocks in each of stages 2-4
    assert (n_attention == 0) == (not has_attention)
    assert net.head.in_features == head_in
    assert net.head.out_features == 3
    out = net.eval()(torch.randn(2, 1, 16, 16), torch.randn(2, 5))
    assert out.shape == (2, 3)


def test_parameter_counts_add_up_across_modes():
    kwargs = dict(backbone="resnet18", base_width=4, clinical_dim=8)
    image = ClinicalAttentionNet(2, 5, mode="image", **kwargs)
    clinical = ClinicalAttentionNet(2, 5, mode="clinical", **kwargs)
    concat = ClinicalAttentionNet(2, 5, mode="concat", **kwargs)
    full = ClinicalAttentionNet(2, 5, mode="full", **kwargs)
    head = lambda n: n * 2 + 2  # noqa: E731
    # The stand-in of a missing image: a bias of the image features' width, plus a weight
    # per clinical value where the network reads them.
    assert count(image.missing_image) == 32 and count(concat.missing_image) == 32 * 6
    assert count(concat) - head(40) - 32 * 6 == (
        (count(image) - head(32) - 32) + (count(clinical) - head(8))
    )
    assert count(full) > count(concat)


@pytest.mark.parametrize("backbone", ["resnet18", "resnet50"])
def test_full_costs_at_most_1_3_times_concat(backbone):
    """The paper halves the channels so that an RBCA costs about what its block costs."""
    concat = ClinicalAttentionNet(2, 237, mode="concat", backbone=backbone)
    full = ClinicalAttentionNet(2, 237, mode="full", backbone=backbone)
    assert count(full) <= 1.3 * count(concat)


@pytest.mark.parametrize(
    "backbone, base_width, expected",
    [("resnet50", 64, 2048), ("resnet18", 64, 512), ("resnet18", 8, 64), ("resnet101", 4, 128)],
)
def test_auto_clinical_dim_follows_the_image_features(backbone, base_width, expected):
    for mode in ("concat", "full", "clinical"):
        net = ClinicalAttentionNet(2, 9, mode=mode, backbone=backbone, base_width=base_width)
        assert net.clinical_encoder.out_features == expected
    net = ClinicalAttentionNet(2, 9, mode="full", backbone=backbone, base_width=base_width)
    assert net.image_encoder.out_features == expected
    assert net.head.in_features == 2 * expected


@pytest.mark.parametrize("backbone", ["resnet18", "resnet34", "resnet50"])
def test_odd_base_width_builds_every_mode(backbone):
    for mode in ("image", "concat", "full"):
        net = ClinicalAttentionNet(2, 3, mode=mode, backbone=backbone, base_width=5).eval()
        assert net(torch.randn(2, 1, 32, 32), torch.randn(2, 3)).shape == (2, 2)


def test_paper_configuration_sizes():
    net = ClinicalAttentionNet(2, 237, mode="full")
    assert net.image_encoder.out_features == 2048
    assert net.clinical_encoder.out_features == 2048
    assert net.head.in_features == 2048 + 2048


def test_image_mode_ignores_clinical_values():
    torch.manual_seed(0)
    net = ClinicalAttentionNet(2, 5, mode="image", backbone="resnet18", base_width=4).eval()
    images = torch.randn(3, 1, 16, 16)
    assert torch.equal(net(images, torch.randn(3, 5)), net(images, None))


def test_he_initialisation():
    torch.manual_seed(0)
    net = ClinicalAttentionNet(2, 5, mode="full", backbone="resnet50", base_width=16)
    conv = net.image_encoder.stages[2][0].body[0]
    fan_out = conv.out_channels * 9
    assert conv.weight.std().item() == pytest.approx((2 / fan_out) ** 0.5, rel=0.1)
    bn = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    assert all(torch.all(m.weight == 1) and torch.all(m.bias == 0) for m in bn)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(mode="ful"), "did you mean 'full'"),
        (dict(n_outputs=0), "n_outputs must be an int >= 1"),
        (dict(clinical_dim=0), "clinical_dim must be an int >= 1"),
    ],
)
def test_invalid_arguments(kwargs, match):
    params = dict(n_outputs=2, n_clinical=3, backbone="resnet18", base_width=4)
    params.update(kwargs)
    with pytest.raises(ValueError, match=f"(?i){match}"):
        ClinicalAttentionNet(**params)


def test_clinical_encoder_has_two_fully_connected_layers():
    encoder = ClinicalEncoder(7, 16)
    linears = [m for m in encoder.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(7, 16), (16, 16)]


def test_nn_never_imports_sklearn():
    folder = pathlib.Path(skfusion.nn.__file__).parent
    for path in folder.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            for name in names:
                assert not name.startswith(("sklearn", "skorch", "pandas")), (path, name)
