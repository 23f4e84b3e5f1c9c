import pytest
import torch

from skfusion.nn import ClinicalSpatialAttention, GatedFusionNet, MultiHeadGMU


def test_single_head_gmu_equals_the_classic_formula_on_a_hand_built_example():
    gmu = MultiHeadGMU(image_dim=2, clinical_dim=2, head_dim=1, n_heads=1)
    with torch.no_grad():
        gmu.image_projection.weight.copy_(torch.tensor([[1.0, -1.0]]))
        gmu.clinical_projection.weight.copy_(torch.tensor([[0.5, 0.5]]))
        gmu.gate.weight.copy_(torch.tensor([[1.0, 0.0, 0.0, -1.0]]))
    x_v, x_c = torch.tensor([[2.0, 1.0]]), torch.tensor([[1.0, 3.0]])
    h_v = torch.tanh(torch.tensor(2.0 - 1.0))
    h_c = torch.tanh(torch.tensor(0.5 + 1.5))
    z = torch.sigmoid(torch.tensor(2.0 - 3.0))
    expected = z * h_v + (1 - z) * h_c
    torch.testing.assert_close(gmu(x_v, x_c), expected.reshape(1, 1))


def test_heads_are_independent_gmus_concatenated():
    torch.manual_seed(0)
    gmu = MultiHeadGMU(image_dim=5, clinical_dim=3, head_dim=2, n_heads=3)
    x_v, x_c = torch.randn(4, 5), torch.randn(4, 3)
    out = gmu(x_v, x_c)
    assert out.shape == (4, 6)
    for k in range(3):
        rows = slice(2 * k, 2 * k + 2)
        h_v = torch.tanh(x_v @ gmu.image_projection.weight[rows].T)
        h_c = torch.tanh(x_c @ gmu.clinical_projection.weight[rows].T)
        z = torch.sigmoid(torch.cat([x_v, x_c], 1) @ gmu.gate.weight[rows].T)
        torch.testing.assert_close(out[:, rows], z * h_v + (1 - z) * h_c)


def test_spatial_attention_map_responds_to_clinical_values():
    torch.manual_seed(0)
    attention = ClinicalSpatialAttention(channels=8, clinical_dim=4)
    maps = []
    attention.map_out.register_forward_hook(lambda m, i, o: maps.append(o))
    x = torch.randn(1, 8, 5, 5)
    attention(x, torch.randn(1, 4))
    attention(x, torch.randn(1, 4))
    assert maps[0].shape == (1, 1, 5, 5)
    assert not torch.allclose(maps[0], maps[1])
    assert maps[0].std() > 0  # not constant over positions


@pytest.mark.parametrize("stages, n_maps", [((3, 4), 2), ((), 0), ((1, 2, 3, 4), 4)])
def test_gated_fusion_net_shapes(stages, n_maps):
    net = GatedFusionNet(3, 5, backbone="resnet18", base_width=4, clinical_dim=8,
                         attention_stages=stages, n_heads=2, head_dim=4).eval()
    assert len(net.spatial_attention) == n_maps
    assert net(torch.randn(2, 1, 32, 32), torch.randn(2, 5)).shape == (2, 3)
    with pytest.raises(ValueError, match="attention stage=7"):
        GatedFusionNet(3, 5, backbone="resnet18", base_width=4, attention_stages=(7,))
