"""skfusion.nn.rbca: the clinical attention starts as the paper's or as the plain block
("neutral"), and the setting reaches every RBCA of the network."""

import pytest
import torch

from skfusion import ClinicalAttentionClassifier
from skfusion.nn import ClinicalAttentionNet, ClinicalChannelAttention
from skfusion.nn.init import he_init_
from skfusion.nn.rbca import RBCAInner

from ..conftest import TINY, make_data


def _weights(attention, reduced, clinical):
    captured = []
    hook = attention.gate.register_forward_hook(lambda m, i, o: captured.append(o))
    attention.eval()(reduced, clinical)
    hook.remove()
    return captured[0]


@pytest.mark.parametrize("start, constant", [("paper", False), ("neutral", True)])
def test_neutral_attention_starts_at_one_half_for_every_patient(start, constant):
    attention = he_init_(
        ClinicalChannelAttention(6, 4, start=start), generator=torch.Generator().manual_seed(0)
    )
    with torch.no_grad():  # running statistics other than the start's
        attention.clinical_projection[1].running_var.fill_(1.0)
    reduced, clinical = torch.rand(5, 6, 3, 3) + 0.5, torch.randn(5, 4)
    weights = _weights(attention, reduced, clinical)
    assert torch.allclose(weights, torch.full_like(weights, 0.5)) is constant


def test_an_unknown_start_is_refused():
    with pytest.raises(
        ValueError,
        match=r"start='zero' is not supported; expected one of "
        r"\['neutral', 'paper'\]",
    ):
        ClinicalChannelAttention(4, 3, start="zero")


def test_the_start_reaches_every_rbca_and_training_moves_it():
    net = ClinicalAttentionNet(
        2, 3, backbone="resnet18", base_width=4, clinical_dim=8, attention_start="neutral"
    )
    attentions = [m for m in net.modules() if isinstance(m, ClinicalChannelAttention)]
    assert len(attentions) == 6  # stages 2-4, two blocks each
    assert all(
        a.start == "neutral" and not a.clinical_projection[1].weight.any() for a in attentions
    )
    X, y = make_data(n=24)
    model = ClinicalAttentionClassifier(**{**TINY, "max_epochs": 3}, attention_start="neutral").fit(
        X, y
    )
    fitted = [m for m in model.net_.module_.modules() if isinstance(m, ClinicalChannelAttention)]
    assert all(a.start == "neutral" for a in fitted)
    assert any(a.clinical_projection[1].weight.abs().max() > 0 for a in fitted)


def _without_attention(net):
    for module in net.modules():
        if getattr(module, "attention", None) is not None and hasattr(module, "modulation"):
            module.attention = None
    return net


def test_the_inner_form_with_the_neutral_start_is_the_plain_block():
    """Every weight is 1 for every patient, so the network computes what it computes with
    its attention modules taken out (the plain ResNet of mode "concat")."""
    torch.manual_seed(0)
    net = he_init_(
        ClinicalAttentionNet(
            2,
            3,
            backbone="resnet18",
            base_width=4,
            clinical_dim=8,
            attention_form="inner",
            attention_start="neutral",
        ),
        generator=torch.Generator().manual_seed(1),
    ).eval()
    attentions = [m for m in net.modules() if isinstance(m, RBCAInner)]
    assert len(attentions) == 6 and all(a.attention.centred for a in attentions)
    images, clinical = torch.randn(4, 1, 32, 32), torch.randn(4, 3)
    with torch.no_grad():
        with_attention = net(images, clinical)
        weights = _weights(attentions[0].attention, torch.rand(4, 4, 3, 3) + 0.5, torch.randn(4, 8))
        plain = _without_attention(net)(images, clinical)
    assert torch.allclose(weights, torch.ones_like(weights))
    assert torch.equal(with_attention, plain)


def test_the_inner_form_weights_half_the_channels_and_passes_the_rest():
    torch.manual_seed(0)
    inner = he_init_(
        RBCAInner(6, 4, start="paper"), generator=torch.Generator().manual_seed(0)
    ).eval()
    features, clinical = torch.rand(5, 6, 3, 3) + 0.5, torch.randn(5, 4)
    with torch.no_grad():
        out = inner(features, clinical)
    weights = _weights(inner.attention, features[:, :3], clinical)
    assert out.shape == features.shape
    assert torch.equal(out[:, 3:], features[:, 3:])
    assert torch.allclose(out[:, :3], features[:, :3] * weights[:, :, None, None])
    assert ((weights > 0) & (weights < 2)).all() and (weights > 1).any() and (weights < 1).any()


def test_the_inner_form_keeps_the_plain_block_cost_and_trains():
    sizes = {
        form: sum(
            p.numel()
            for p in ClinicalAttentionNet(
                2, 3, backbone="resnet18", base_width=4, clinical_dim=8, attention_form=form
            ).parameters()
        )
        for form in ("paper", "inner")
    }
    plain = sum(
        p.numel()
        for p in ClinicalAttentionNet(
            2, 3, backbone="resnet18", base_width=4, clinical_dim=8, mode="concat"
        ).parameters()
    )
    assert plain < sizes["inner"] < sizes["paper"]
    X, y = make_data(n=24)
    model = ClinicalAttentionClassifier(
        **{**TINY, "max_epochs": 3}, attention_form="inner", attention_start="neutral"
    ).fit(X, y)
    fitted = [m for m in model.net_.module_.modules() if isinstance(m, RBCAInner)]
    assert fitted and any(a.attention.clinical_projection[1].weight.abs().max() > 0 for a in fitted)
    assert model.predict_proba(X).shape == (24, 2)


def test_an_unknown_form_is_refused():
    with pytest.raises(ValueError, match=r"attention_form='outer' is not supported"):
        ClinicalAttentionNet(2, 3, backbone="resnet18", base_width=4, attention_form="outer")
