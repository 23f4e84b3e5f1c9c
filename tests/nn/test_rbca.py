"""skfusion.nn.rbca: the clinical attention starts as the paper's or as the plain block
("neutral"), and the setting reaches every RBCA of the network."""

import pytest
import torch

from skfusion import ClinicalAttentionClassifier
from skfusion.nn import ClinicalAttentionNet, ClinicalChannelAttention
from skfusion.nn.init import he_init_

from ..conftest import TINY, make_data


def _weights(attention, reduced, clinical):
    captured = []
    hook = attention.gate.register_forward_hook(lambda m, i, o: captured.append(o))
    attention.eval()(reduced, clinical)
    hook.remove()
    return captured[0]


@pytest.mark.parametrize("start, constant", [("paper", False), ("neutral", True)])
def test_neutral_attention_starts_at_one_half_for_every_patient(start, constant):
    attention = he_init_(ClinicalChannelAttention(6, 4, start=start),
                         generator=torch.Generator().manual_seed(0))
    with torch.no_grad():  # running statistics other than the start's
        attention.clinical_projection[1].running_var.fill_(1.0)
    reduced, clinical = torch.rand(5, 6, 3, 3) + 0.5, torch.randn(5, 4)
    weights = _weights(attention, reduced, clinical)
    assert torch.allclose(weights, torch.full_like(weights, 0.5)) is constant


def test_an_unknown_start_is_refused():
    with pytest.raises(ValueError, match=r"start='zero' is not supported; expected one of "
                                         r"\['neutral', 'paper'\]"):
        ClinicalChannelAttention(4, 3, start="zero")


def test_the_start_reaches_every_rbca_and_training_moves_it():
    net = ClinicalAttentionNet(2, 3, backbone="resnet18", base_width=4, clinical_dim=8,
                               attention_start="neutral")
    attentions = [m for m in net.modules() if isinstance(m, ClinicalChannelAttention)]
    assert len(attentions) == 6  # stages 2-4, two blocks each
    assert all(a.start == "neutral" and not a.clinical_projection[1].weight.any()
               for a in attentions)
    X, y = make_data(n=24)
    model = ClinicalAttentionClassifier(**{**TINY, "max_epochs": 3},
                                        attention_start="neutral").fit(X, y)
    fitted = [m for m in model.net_.module_.modules()
              if isinstance(m, ClinicalChannelAttention)]
    assert all(a.start == "neutral" for a in fitted)
    assert any(a.clinical_projection[1].weight.abs().max() > 0 for a in fitted)
