"""Pretrained image weights: torchvision/MONAI/MedicalNet layouts mapped into our ResNet
(features equal to the source's), files and fitted estimators as ``image_weights``,
``freeze``, what model files keep, and the refusals."""

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator

import skfusion
from skfusion import (
    ClinicalAttentionClassifier,
    FeatureModulationClassifier,
    GatedFusionRegressor,
    ModelFileError,
    PretrainedWeights,
)
from skfusion.nn.pretrained import load_resnet_weights
from skfusion.nn.resnet import ResNet

from ...conftest import TINY, TINY_NO_CLINICAL_DIM, make_data

monai = pytest.importorskip(
    "monai.networks.nets", reason="MONAI is the reference layout (pip install 'skfusion[test]')"
)


def monai_resnet(backbone, spatial_dims, in_channels, width=16, **kwargs):
    """MONAI's ResNet in torchvision's layout (2-D) or MedicalNet's (3-D), random weights
    and statistics, in eval mode."""
    block, layers = {
        "resnet18": ("basic", [2, 2, 2, 2]),
        "resnet34": ("basic", [3, 4, 6, 3]),
        "resnet50": ("bottleneck", [3, 4, 6, 3]),
    }[backbone]
    torch.manual_seed(0)
    net = monai.ResNet(
        block,
        layers,
        [width, 2 * width, 4 * width, 8 * width],
        spatial_dims=spatial_dims,
        n_input_channels=in_channels,
        conv1_t_stride=2,
        bias_downsample=False,
        feed_forward=False,
        **kwargs,
    )
    for module in net.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.running_mean.normal_(0, 0.1)
            module.running_var.uniform_(0.5, 1.5)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.normal_(0, 0.1)
    return net.eval()


@pytest.mark.parametrize(
    "backbone, spatial_dims, in_channels",
    [
        ("resnet18", 2, 3),
        ("resnet50", 2, 3),
        ("resnet18", 3, 1),
        ("resnet34", 3, 1),
        ("resnet50", 3, 1),
    ],
)
def test_foreign_weights_give_the_sources_pooled_features(backbone, spatial_dims, in_channels):
    source = monai_resnet(backbone, spatial_dims, in_channels)
    ours = ResNet(
        backbone, in_channels=in_channels, base_width=16, spatial_dims=spatial_dims
    ).eval()
    report = load_resnet_weights(ours, source.state_dict())
    assert report.layout == "torchvision" and not report.not_loaded and not report.unused
    x = torch.randn(2, in_channels, *[24] * spatial_dims)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), source(x), atol=1e-5, rtol=0)


def test_a_grey_input_gets_what_the_rgb_source_gives_a_grey_image():
    source = monai_resnet("resnet18", 2, 3)
    for channels in (1, 2, 5):
        ours = ResNet("resnet18", in_channels=channels, base_width=16).eval()
        report = load_resnet_weights(ours, source.state_dict())
        assert report.adapted == ["stem.0.weight"]
        grey = torch.randn(2, 1, 24, 24)
        with torch.no_grad():
            torch.testing.assert_close(
                ours(grey.expand(-1, channels, -1, -1)),
                source(grey.expand(-1, 3, -1, -1)),
                atol=1e-5,
                rtol=1e-5,
            )


def test_medicalnet_type_a_shortcuts_have_no_tensors_to_load():
    """MedicalNet's resnet10/18/34 shortcut is parameter-free: the stage-opening shortcuts of
    ours keep their initialisation, and the report says so."""
    source = monai_resnet("resnet18", 3, 1, shortcut_type="A")
    ours = ResNet("resnet18", in_channels=1, base_width=16, spatial_dims=3)
    report = load_resnet_weights(ours, source.state_dict())
    assert report.not_loaded and all(".shortcut." in k for k in report.not_loaded)


@pytest.mark.parametrize(
    "change, match",
    [
        (dict(base_width=8), r"do not fit this network.*base_width"),
        (dict(spatial_dims=3), "2-D weights"),
        (dict(backbone="resnet50"), r"another depth.*\(resnet50\)"),
        (dict(stem="small"), "the stem does not map"),
        (
            dict(backbone="resnet34"),
            r"another depth: their stages hold \[2, 2, 2, 2\] blocks \(a "
            r"resnet18\), this network's \[3, 4, 6, 3\].*backbone='resnet18'",
        ),
    ],
)
def test_weights_that_do_not_map_are_refused_with_the_reason(change, match):
    source = monai_resnet("resnet18", 2, 1)
    settings = dict(backbone="resnet18", in_channels=1, base_width=16, spatial_dims=2)
    ours = ResNet(**{**settings, **change})
    before = {k: v.clone() for k, v in ours.state_dict().items()}
    with pytest.raises(ValueError, match=match):
        load_resnet_weights(ours, source.state_dict())
    assert all(torch.equal(before[k], v) for k, v in ours.state_dict().items())


@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_monai_shortcut_biases_are_folded_exactly(spatial_dims):
    """MONAI's bias_downsample=True: the shortcut convolution's bias moves into the running
    mean of the normalisation after it, and the features are the source's."""
    source = monai_resnet("resnet18", spatial_dims, 1)
    source_biased = monai.ResNet(
        "basic",
        [2, 2, 2, 2],
        [16, 32, 64, 128],
        spatial_dims=spatial_dims,
        n_input_channels=1,
        conv1_t_stride=2,
        bias_downsample=True,
        feed_forward=False,
    )
    state = source.state_dict()
    biases = {
        k: torch.randn_like(v)
        for k, v in source_biased.state_dict().items()
        if k.endswith("downsample.0.bias")
    }
    assert len(biases) == 3
    source_biased.load_state_dict({**state, **biases})
    source_biased.eval()
    ours = ResNet("resnet18", in_channels=1, base_width=16, spatial_dims=spatial_dims).eval()
    report = load_resnet_weights(ours, source_biased.state_dict())
    assert not report.unused and not report.not_loaded
    x = torch.randn(2, 1, *[24] * spatial_dims)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), source_biased(x), atol=1e-5, rtol=0)


@pytest.fixture(scope="module")
def source_files(tmp_path_factory):
    """The same MONAI resnet18 (width 4) as .pt, .pth (MedicalNet's wrapping) and
    .safetensors."""
    from safetensors.torch import save_file

    folder = tmp_path_factory.mktemp("weights")
    state = monai_resnet("resnet18", 2, 3, width=4).state_dict()
    torch.save(state, folder / "plain.pt")
    torch.save(
        {"state_dict": {f"module.{k}": v for k, v in state.items()}}, folder / "medicalnet.pth"
    )
    save_file({k: v.contiguous() for k, v in state.items()}, folder / "w.safetensors")
    return folder, state


@pytest.mark.parametrize("name", ["plain.pt", "medicalnet.pth", "w.safetensors"])
def test_every_file_kind_loads_into_an_estimator(source_files, name):
    folder, state = source_files
    X, y = make_data(n=16)
    model = ClinicalAttentionClassifier(
        **{**TINY, "mode": "image", "max_epochs": 1}, image_weights=str(folder / name)
    ).fit(X, y)
    assert model.image_weights_sha256_ == PretrainedWeights(state).sha256
    assert len(model.image_weights_loaded_) == 120 and not model.image_weights_not_loaded_


def test_parts_with_no_source_are_reported_not_loaded(source_files):
    folder, _ = source_files
    X, y = make_data(n=16)
    paper = ClinicalAttentionClassifier(
        **{**TINY, "max_epochs": 1},
        attention_form="paper",
        image_weights=folder / "plain.pt",
    ).fit(X, y)
    assert "layer2.0.conv1.weight" in paper.image_weights_unused_  # an RBCA front's place
    assert any(".front." in k for k in paper.image_weights_not_loaded_)
    # The inner form keeps the plain block: every convolution loads, only the attention's
    # clinical projections have no source.
    inner = ClinicalAttentionClassifier(
        **{**TINY, "max_epochs": 1}, image_weights=folder / "plain.pt"
    ).fit(X, y)
    assert "layer2.0.conv1.weight" not in inner.image_weights_unused_
    assert "stages.1.0.conv1.weight" in inner.image_weights_loaded_
    assert inner.image_weights_not_loaded_ and all(
        ".attention." in k for k in inner.image_weights_not_loaded_
    )
    daft = FeatureModulationClassifier(
        **{**TINY_NO_CLINICAL_DIM, "max_epochs": 1}, image_weights=folder / "plain.pt"
    ).fit(X, y)
    assert "layer4.1.bn1.weight" in daft.image_weights_unused_  # affine-free under DAFT
    assert "stages.3.1.norm1.running_mean" in daft.image_weights_loaded_


@pytest.mark.parametrize(
    "freeze, fixed, trained",
    [
        ("stem", ["stem."], ["stages.0.", "stages.3."]),
        (2, ["stem.", "stages.0.", "stages.1."], ["stages.2.", "stages.3."]),
        ("encoder", ["stem.", "stages."], []),
    ],
)
def test_freeze_holds_pretrained_parts_and_their_statistics(source_files, freeze, fixed, trained):
    folder, _ = source_files
    X, y = make_data(n=16)
    model = ClinicalAttentionClassifier(
        **{**TINY, "mode": "image", "lr": 1e-2}, image_weights=folder / "plain.pt", freeze=freeze
    ).fit(X, y)
    start = ResNet("resnet18", in_channels=1, base_width=4)
    load_resnet_weights(start, torch.load(folder / "plain.pt", weights_only=True))
    before, after = start.state_dict(), model.image_encoder_state_dict()
    for key, value in after.items():
        if key.endswith("num_batches_tracked"):
            continue
        same = torch.equal(value, before[key])
        if key.startswith(tuple(fixed)):
            assert same, key
        if key.startswith(tuple(trained)) and key.endswith("weight"):
            assert not same, key


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(freeze="stem"), ValueError, "nothing pretrained to hold"),
        (dict(image_weights="missing.pt"), FileNotFoundError, "no such file"),
        (dict(mode="clinical", image_weights="x.pt"), ValueError, "no image path"),
        (dict(image_weights=3), ValueError, "'image_weights' parameter"),
        (dict(freeze=5, image_weights="x.pt"), ValueError, "'freeze' parameter"),
        (
            dict(freeze=True, image_weights="x.pt"),
            ValueError,
            r"'freeze' parameter.*not a bool: freeze='encoder'.*Got True",
        ),
    ],
)
def test_bad_settings_are_refused_before_training(kwargs, error, match):
    X, y = make_data(n=12)
    model = ClinicalAttentionClassifier(**{**TINY, **kwargs})
    with pytest.raises(error, match=match):
        model.fit(X, y)
    assert not hasattr(model, "net_")


def test_a_file_that_is_not_plain_weights_is_refused(tmp_path):
    class Payload:
        def __reduce__(self):
            return (print, ("this must never run",))

    torch.save({"conv1.weight": Payload()}, tmp_path / "evil.pt")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    torch.save({"encoder": torch.ones(2)}, tmp_path / "other.pt")
    X, y = make_data(n=12)
    for name, match in (
        ("evil.pt", "cannot be read as weights"),
        ("junk.pth", "cannot be read as weights"),
        ("other.pt", "no layout skfusion reads"),
    ):
        with pytest.raises(ValueError, match=match):
            ClinicalAttentionClassifier(**TINY, image_weights=tmp_path / name).fit(X, y)


def test_a_supervised_source_task_hands_its_encoder_on_and_files_keep_the_weights(tmp_path):
    X, y = make_data(n=24)
    source = GatedFusionRegressor(**{**TINY, "n_heads": 2, "head_dim": 4, "max_epochs": 1})
    source.fit(X, np.linspace(0, 1, 24))
    model = ClinicalAttentionClassifier(
        **{**TINY, "mode": "concat"}, image_weights=FrozenEstimator(source), freeze=1
    )
    model.fit(X, y)
    assert clone(model).image_weights.estimator is source  # clone keeps the fitted source
    assert (
        model.image_weights_sha256_ == PretrainedWeights(source.image_encoder_state_dict()).sha256
    )
    model.save(tmp_path / "m.skf")
    loaded = skfusion.load(tmp_path / "m.skf")
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X), atol=1e-6)
    assert isinstance(loaded.image_weights, PretrainedWeights)
    assert loaded.image_weights.sha256 == model.image_weights_sha256_
    refit = clone(loaded).fit(X, y)  # the weights came with the file, not from a path
    np.testing.assert_allclose(refit.predict_proba(X), model.predict_proba(X), atol=1e-5)
    # Frozen parts stay frozen when a loaded model trains on.
    frozen = [
        n for n, p in loaded.net_.module_.image_encoder.named_parameters() if not p.requires_grad
    ]
    assert frozen and all(n.startswith(("stem.", "stages.0.")) for n in frozen)


def test_a_model_file_whose_weights_were_swapped_is_refused(tmp_path):
    import zipfile

    X, y = make_data(n=16)
    source = ClinicalAttentionClassifier(**{**TINY, "mode": "image", "max_epochs": 1})
    source.fit(X, y)
    model = ClinicalAttentionClassifier(
        **{**TINY, "max_epochs": 1}, image_weights=FrozenEstimator(source)
    ).fit(X, y)
    model.save(tmp_path / "m.skf")
    with zipfile.ZipFile(tmp_path / "m.skf") as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    state = source.image_encoder_state_dict()
    state["stem.0.weight"] = state["stem.0.weight"] + 1
    import io

    buffer = io.BytesIO()
    torch.save(state, buffer)
    members["image_weights.pt"] = buffer.getvalue()
    with zipfile.ZipFile(tmp_path / "edited.skf", "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(ModelFileError, match="does not match the hash"):
        skfusion.load(tmp_path / "edited.skf")
