"""The family-module contract: a module that cannot take the core's keywords fails when the
family is defined; a module that cannot pool slice stacks is refused, with the fix, before a
fit builds its network."""

import pytest
from torch import nn

from skfusion._base.core.contract import CORE_KEYWORDS
from skfusion._tasks.classification import BaseFusionClassifier
from skfusion.datasets import make_brain_cohort


class _LateNet(nn.Module):
    """Late fusion, as in docs/developers.md: no FusionHead."""

    def __init__(
        self, n_outputs, n_clinical, in_channels=1, spatial_dims=2, clinical_shortcut=False
    ):
        super().__init__()
        self.image = nn.Sequential(
            nn.Conv2d(in_channels, 4, 3, padding=1),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(4, n_outputs),
        )
        self.clinical = nn.Linear(n_clinical, n_outputs)

    def forward(self, images, clinical):
        return (self.image(images) + self.clinical(clinical)) / 2


def test_a_module_without_a_core_keyword_fails_when_the_family_is_defined():
    class _NoShortcutNet(nn.Module):
        def __init__(self, n_outputs, n_clinical, in_channels=1, spatial_dims=2):
            super().__init__()

    with pytest.raises(
        TypeError,
        match=r"_NoShortcutNet does not take the keyword\(s\) "
        r"\['clinical_shortcut'\]",
    ):

        class _Late(BaseFusionClassifier):
            _module_class = _NoShortcutNet

    class _AnyKeywordsNet(nn.Module):  # **kwargs takes them all
        def __init__(self, **kwargs):
            super().__init__()

    class _Fine(BaseFusionClassifier):
        _module_class = _AnyKeywordsNet

    assert _Fine._module_class is _AnyKeywordsNet and "n_outputs" in CORE_KEYWORDS


def test_slice_stacks_need_a_fusion_head_and_channels_do_not():
    class _Late(BaseFusionClassifier):
        _module_class = _LateNet

    cohort = make_brain_cohort(16, n_slices=2, image_size=16, random_state=0)  # a stack
    model = _Late(max_epochs=1, batch_size=8, verbose=0)
    with pytest.raises(
        ValueError,
        match=r'slices="channels".*derive _LateNet from '
        r"FusionHead",
    ):
        model.fit(cohort.X, cohort.y)
    assert not hasattr(model, "net_")  # refused before anything was fitted
    model.set_params(slices="channels").fit(cohort.X, cohort.y)
    assert model.predict_proba(cohort.X[:2]).shape == (2, 2)


def test_image_weights_need_an_image_encoder_and_say_so(tmp_path):
    import torch
    from monai.networks.nets import resnet18

    class _Late(BaseFusionClassifier):
        _module_class = _LateNet

    torch.save(
        resnet18(spatial_dims=2, n_input_channels=1, num_classes=2).state_dict(), tmp_path / "w.pt"
    )
    cohort = make_brain_cohort(16, n_slices=1, image_size=16, random_state=0)
    model = _Late(
        max_epochs=1, batch_size=8, verbose=0, slices="channels", image_weights=tmp_path / "w.pt"
    )
    with pytest.raises(ValueError, match=r"\(_LateNet\) has no `image_encoder`"):
        model.fit(cohort.X, cohort.y)
    assert not hasattr(model, "net_")


def test_grad_cam_needs_an_image_encoder_and_says_so():
    from skfusion.explain import grad_cam

    class _Late(BaseFusionClassifier):
        _module_class = _LateNet

    cohort = make_brain_cohort(16, n_slices=1, image_size=16, random_state=0)
    model = _Late(max_epochs=1, batch_size=8, verbose=0, slices="channels")
    model.fit(cohort.X, cohort.y)
    with pytest.raises(ValueError, match=r"module _LateNet holds no `image_encoder`"):
        grad_cam(model, cohort.X[:2])
