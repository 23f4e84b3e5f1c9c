"""The image shortcut: a linear function of the image's principal components beside the deep
network (pure torch)."""

import numpy as np
import pytest
import torch

from skfusion._net.maps import image_encoder_of
from skfusion.nn import ClinicalAttentionNet, he_init_
from skfusion.nn.image_shortcut import PIXEL_BUDGET, ImageShortcut, ImageShortcutNet, pool_factor
from skfusion.nn.slice_stack import SliceStackNet


@pytest.mark.parametrize(
    "shape, factor",
    [((1, 64, 64), 1), ((1, 128, 128), 2), ((10, 64, 64), 4), ((1, 64, 64, 64), 4), ((3, 5, 5), 1)],
)
def test_pooling_keeps_each_sample_within_the_budget(shape, factor):
    assert pool_factor(shape) == factor
    path = ImageShortcut(2, shape)
    pooled = path.pooled(torch.zeros(3, *shape))
    assert pooled.shape[0] == 3 and pooled.shape[1] == path.mean.numel() <= PIXEL_BUDGET


def test_scores_are_standardised_projections_and_zero_without_an_image():
    rng = np.random.default_rng(0)
    path = ImageShortcut(2, (1, 4, 4), n_components=3)
    mean, components = rng.normal(size=16), np.linalg.qr(rng.normal(size=(16, 2)))[0].T
    path.set_components(mean, components, np.array([2.0, 0.5]))
    images = torch.as_tensor(rng.normal(size=(5, 1, 4, 4)), dtype=torch.float32)
    scores = path.scores(images, torch.tensor([True, True, False, True, True]))
    expected = (images.reshape(5, -1).double().numpy() - mean) @ components.T / [2.0, 0.5]
    expected[2] = 0.0
    np.testing.assert_allclose(scores[:, :2].numpy(), expected, atol=1e-5)
    assert torch.all(scores[:, 2] == 0)  # the unset component reads nothing
    assert torch.all(path(images) == 0)  # the linear layer starts at zero


@pytest.mark.parametrize("stacked", [False, True])
def test_a_new_network_outputs_its_linear_paths_and_reaches_the_deep_network(stacked):
    kwargs = dict(
        n_clinical=4, mode="full", backbone="resnet18", base_width=4, clinical_shortcut=True
    )
    if stacked:
        net = ImageShortcutNet(
            SliceStackNet,
            2,
            (3, 16, 16),
            image_components=5,
            net_class=ClinicalAttentionNet,
            **kwargs,
        )
        images = torch.randn(4, 3, 16, 16)
    else:
        net = ImageShortcutNet(ClinicalAttentionNet, 2, (1, 16, 16), image_components=5, **kwargs)
        images = torch.randn(4, 1, 16, 16)
    he_init_(net, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        net.shortcut.weight.normal_()
        net.image_shortcut.linear.weight.normal_()
        net.image_shortcut.components.normal_()
    net.eval()
    clinical = torch.randn(4, 4)
    torch.testing.assert_close(
        net(images, clinical), net.shortcut(clinical) + net.image_shortcut(images)
    )
    assert image_encoder_of(net)[0] is not None  # found on the deep network
    assert hasattr(net, "slice_weights_out") == stacked


def test_delegation_survives_copy_and_pickle_and_refuses_dunder_names():
    import copy
    import io

    net = ImageShortcutNet(
        ClinicalAttentionNet,
        2,
        (1, 16, 16),
        image_components=3,
        n_clinical=4,
        mode="concat",
        backbone="resnet18",
        base_width=4,
    )
    for twin in (copy.deepcopy(net), torch.load(_saved(net, io), weights_only=False)):
        assert twin.head.in_features == net.head.in_features  # reached through the wrapper
    assert not hasattr(net, "__missing_dunder__")
    with pytest.raises(AttributeError, match="no_such_attribute"):
        net.no_such_attribute


def _saved(module, io):
    buffer = io.BytesIO()
    torch.save(module, buffer)
    buffer.seek(0)
    return buffer
