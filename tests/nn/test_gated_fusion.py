import pytest
import torch

from skfusion.nn import ClinicalSpatialAttention, GatedFusionNet, MultiHeadGMU


def test_classic_gmu_follows_arevalos_formula_on_a_hand_built_example():
    gmu = MultiHeadGMU(image_dim=2, clinical_dim=2, head_dim=1, n_heads=1, gate="classic")
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


def test_heads_gate_within_their_own_subspace():
    torch.manual_seed(0)
    gmu = MultiHeadGMU(image_dim=5, clinical_dim=3, head_dim=2, n_heads=3)
    x_v, x_c = torch.randn(4, 5), torch.randn(4, 3)
    out = gmu(x_v, x_c)
    assert out.shape == (4, 6)
    for k in range(3):
        rows = slice(2 * k, 2 * k + 2)
        h_v = torch.tanh(x_v @ gmu.image_projection.weight[rows].T)
        h_c = torch.tanh(x_c @ gmu.clinical_projection.weight[rows].T)
        z = torch.sigmoid(torch.cat([h_v, h_c], 1) @ gmu.gate_weight[k] + gmu.gate_bias[k])
        torch.testing.assert_close(out[:, rows], z * h_v + (1 - z) * h_c)


def _gradient_rank(gmu, unit, image_dim, n_points=64):
    """Rank of the gradients of output ``unit`` w.r.t. the image input, clinical input 0."""
    torch.manual_seed(1)
    grads = []
    for _ in range(n_points):
        x_v = torch.randn(1, image_dim, dtype=torch.float64, requires_grad=True)
        out = gmu(x_v, torch.zeros(1, 3, dtype=torch.float64))
        (grad,) = torch.autograd.grad(out[0, unit], x_v)
        grads.append(grad[0])
    singular = torch.linalg.svdvals(torch.stack(grads))
    return int((singular > 1e-8 * singular[0]).sum())


def test_no_single_wide_gmu_reproduces_the_multi_head_unit():
    """In any wide (classic) GMU, with the clinical input fixed, output unit j is
    ``sigmoid(a_j . x_v + c) * tanh(w_j . x_v) + const``: a function of two projections of
    the image input, so its gradients span at most 2 dimensions, whatever the weights and
    the width. A head's unit depends on all ``head_dim`` projections of its subspace."""
    image_dim, head_dim = 8, 4
    multi = MultiHeadGMU(image_dim, 3, head_dim, n_heads=2).double()
    wide = MultiHeadGMU(image_dim, 3, head_dim, n_heads=2, gate="classic").double()
    for unit in range(2 * head_dim):
        assert _gradient_rank(wide, unit, image_dim) <= 2
        assert _gradient_rank(multi, unit, image_dim) > 2


def test_invalid_gate():
    with pytest.raises(ValueError, match="(?i)did you mean 'classic'"):
        MultiHeadGMU(4, 4, 2, gate="clasic")


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
    net = GatedFusionNet(
        3,
        5,
        backbone="resnet18",
        base_width=4,
        clinical_dim=8,
        attention_stages=stages,
        n_heads=2,
        head_dim=4,
    ).eval()
    assert len(net.spatial_attention) == n_maps
    assert net(torch.randn(2, 1, 32, 32), torch.randn(2, 5)).shape == (2, 3)
    with pytest.raises(ValueError, match="attention stage=7"):
        GatedFusionNet(3, 5, backbone="resnet18", base_width=4, attention_stages=(7,))


def test_auto_head_dim_is_a_quarter_of_the_pooled_image_width_at_most_64_per_head():
    from skfusion.nn.gated_fusion import resolve_head_dim

    small = GatedFusionNet(2, 3, backbone="resnet18", base_width=8, head_dim="auto")
    assert small.image_encoder.out_features == 64 and small.fusion.head_dim == 4
    assert small.fusion.out_features == 16 and small.head.in_features == 16
    assert resolve_head_dim("auto", 512, 4) == 32  # ResNet18 width 64
    assert resolve_head_dim("auto", 2048, 4) == 64  # ResNet50 width 64: capped
    assert resolve_head_dim("auto", 8, 4) == 1  # never zero
    assert resolve_head_dim(7, 2048, 4) == 7
    with pytest.raises(ValueError, match="head_dim"):
        resolve_head_dim(0, 64, 4)
