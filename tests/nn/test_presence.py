"""skfusion.nn.presence: the encoder reads only the samples that have the modality, and a
learned stand-in takes the others' place, in training and in evaluation."""

import torch
from torch import nn

from skfusion.nn import ClinicalAttentionNet
from skfusion.nn.presence import StandIn, encode_present


def encoder():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))


def test_training_encodes_the_present_samples_alone():
    net = encoder().train()
    x = torch.randn(6, 3)
    present = torch.tensor([True, False, True, True, False, True])
    stand_in = torch.full((6, 4), 7.0)
    out = encode_present(net, (x,), present, stand_in, training=True)
    alone = encoder().train()(x[present])  # batch statistics of the present samples only
    torch.testing.assert_close(out[present], alone)
    assert (out[~present] == 7.0).all()
    # What the absent samples hold changes nothing.
    x2 = x.clone()
    x2[~present] = 1e6
    torch.testing.assert_close(
        encode_present(encoder().train(), (x2,), present, stand_in, training=True), out
    )


def test_evaluation_selects_per_sample_and_needs_no_data_dependent_shapes():
    net = encoder().eval()
    x = torch.randn(5, 3)
    present = torch.tensor([False, True, True, False, True])
    stand_in = torch.zeros(5, 4)
    out = encode_present(net, (x,), present, stand_in, training=False)
    torch.testing.assert_close(out[present], net(x)[present])
    assert (out[~present] == 0).all()
    # One present sample in a training batch: the whole batch goes through (batch norm
    # needs two), and the stand-in is still selected.
    one = torch.tensor([True, False, False, False, False])
    out = encode_present(encoder().train(), (x,), one, stand_in, training=True)
    assert (out[1:] == 0).all()
    assert encode_present(net, (x,), None, None, training=False).shape == (5, 4)


def test_stand_ins_start_at_zero_and_follow_the_clinical_values():
    stand_in = StandIn(4, n_clinical=2)
    clinical = torch.randn(3, 2)
    assert (stand_in(3, clinical) == 0).all()
    with torch.no_grad():
        stand_in.weight.fill_(1.0)
    torch.testing.assert_close(stand_in(3, clinical)[:, 0], clinical.sum(1))
    assert StandIn(4)(3).shape == (3, 4)
    # Its parameters are not drawn: a network's other weights start as they did before.
    net = ClinicalAttentionNet(
        2, 3, mode="concat", backbone="resnet18", base_width=4, clinical_dim=8
    )
    assert (net.missing_image.weight == 0).all() and (net.missing_image.bias == 0).all()
