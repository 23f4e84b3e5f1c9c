"""Export for inference outside Python: onnxruntime and TorchScript give what the estimator
predicts, for every estimator, with the clinical encoding in the graph where it is plain
arithmetic and the signature saying what goes in and out."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

import skfusion
from skfusion import FusionInput

from ...conftest import TINY
from ...test_common import (
    FUSION_ESTIMATORS,
    outputs,
    small,
    target_for,
    tiny_inputs,  # noqa: F401  (a fixture)
)


def inputs_for(estimator, X, signature):
    """The arrays the exported file takes, as its signature describes them."""
    checked = estimator._check_X(X, fitting=False)
    images = checked.images
    arrays = {"images": np.ascontiguousarray(images, dtype=np.float32)}
    if signature["clinical"] is not None:
        if signature["clinical"]["encoding_in_graph"]:
            arrays["clinical"] = X.clinical[signature["clinical"]["columns"]].to_numpy(np.float32)
        else:
            arrays["clinical"] = estimator.clinical_encoder_.transform(X.clinical)
    if signature["tokens"] is not None:
        arrays["tokens"] = checked.extras["tokens"]
    present = X.present or {}
    for name, part in (("image_present", "images"), ("text_present", "text")):
        mask = present.get(part)
        arrays[name] = np.ones(len(X), dtype=bool) if mask is None else np.asarray(mask)
    # In the order the graph takes them.
    return {item["name"]: arrays[item["name"]] for item in signature["inputs"]}


def run_onnx(path, arrays):
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    return session.run(None, {name: arrays[name] for name in names})[0], session


def run_torchscript(path, arrays):
    files = {"skfusion_signature.json": ""}
    with warnings.catch_warnings():  # torch deprecates TorchScript; LibTorch still loads it
        warnings.simplefilter("ignore", DeprecationWarning)
        module = torch.jit.load(str(path), _extra_files=files)
    tensors = [torch.from_numpy(array) for array in arrays.values()]
    with torch.no_grad():
        return module(*tensors).numpy(), json.loads(files["skfusion_signature.json"])


@pytest.mark.parametrize("cls", FUSION_ESTIMATORS, ids=lambda c: c.__name__)
def test_torchscript_gives_what_the_estimator_predicts(cls, tiny_inputs, tmp_path):  # noqa: F811
    X, y = tiny_inputs
    estimator = small(cls, max_epochs=1).fit(X, target_for(cls, y))
    signature = estimator.export(tmp_path / "model.pt", format="torchscript")
    got, stored = run_torchscript(tmp_path / "model.pt", inputs_for(estimator, X, signature))
    assert stored == signature and stored["estimator"] == cls.__name__
    np.testing.assert_allclose(got, outputs(estimator, X), atol=1e-4)


#: Every family and every task once (TorchScript above covers every estimator).
ONNX_CASES = [
    skfusion.ClinicalAttentionClassifier,
    skfusion.GatedFusionRegressor,
    skfusion.FeatureModulationSurvival,
    skfusion.ReportFusionClassifier,
]


@pytest.mark.slow
@pytest.mark.parametrize("cls", ONNX_CASES, ids=lambda c: c.__name__)
def test_onnxruntime_gives_what_the_estimator_predicts(cls, tiny_inputs, tmp_path):  # noqa: F811
    pytest.importorskip("onnxscript")
    X, y = tiny_inputs
    estimator = small(cls, max_epochs=1).fit(X, target_for(cls, y))
    signature = estimator.export(tmp_path / "model.onnx")
    got, session = run_onnx(tmp_path / "model.onnx", inputs_for(estimator, X, signature))
    np.testing.assert_allclose(got, outputs(estimator, X), atol=1e-4)
    meta = session.get_modelmeta().custom_metadata_map
    assert json.loads(meta["skfusion_signature"]) == signature
    assert [i.name for i in session.get_inputs()] == [i["name"] for i in signature["inputs"]]
    # Any batch size: the batch axis is dynamic.
    one, _ = run_onnx(
        tmp_path / "model.onnx", {k: v[:1] for k, v in inputs_for(estimator, X, signature).items()}
    )
    np.testing.assert_allclose(one, got[:1], atol=1e-4)


def numeric_table_with_gaps(n=24, seed=0):
    rng = np.random.default_rng(seed)
    y = np.array(["AD", "NC"] * (n // 2))
    clinical = pd.DataFrame(
        {
            "age": rng.normal(70, 5, n),
            "score": rng.normal(size=n) + (y == "AD"),
            "volume": rng.normal(1500, 100, n),
        }
    )
    clinical.loc[[1, 5, 9], "score"] = np.nan
    images = rng.normal(size=(n, 16, 16)).astype(np.float32)
    return FusionInput(images, clinical), y


@pytest.mark.parametrize("format", ["torchscript", "onnx"])
def test_numeric_encoding_with_missing_values_is_inside_the_graph(format, tmp_path):
    if format == "onnx":
        pytest.importorskip("onnxscript")
    X, y = numeric_table_with_gaps()
    model = skfusion.ClinicalAttentionClassifier(mode="full", **TINY).fit(X, y)
    path = tmp_path / ("m.onnx" if format == "onnx" else "m.pt")
    signature = model.export(path, format=format)
    assert signature["clinical"]["encoding_in_graph"]
    assert signature["clinical"]["columns"] == ["age", "score", "volume"]
    assert signature["inputs"][1]["shape"] == ["n_samples", 3]  # raw columns, NaN allowed
    raw = {
        "images": X.images[:, None],
        "clinical": X.clinical.to_numpy(np.float32),
        "image_present": np.ones(len(y), dtype=bool),
    }
    assert np.isnan(raw["clinical"]).any()
    got = (run_onnx if format == "onnx" else run_torchscript)(path, raw)[0]
    np.testing.assert_allclose(got, model.predict_proba(X), atol=1e-4)


def test_categorical_tables_go_in_encoded_and_images_only_models_take_images(tmp_path):
    X, y = numeric_table_with_gaps()
    clinical = X.clinical.assign(sex=np.where(np.arange(len(y)) % 3, "F", "M"))
    X = FusionInput(X.images, clinical)
    model = skfusion.GatedFusionClassifier(n_heads=2, head_dim=8, **TINY).fit(X, y)
    signature = model.export(tmp_path / "m.pt", format="torchscript")
    assert not signature["clinical"]["encoding_in_graph"]
    assert signature["clinical"]["encoding"] == model.clinical_encoder_.get_state()
    assert signature["inputs"][1]["shape"] == ["n_samples", model.clinical_encoder_.n_outputs_]
    got, _ = run_torchscript(tmp_path / "m.pt", inputs_for(model, X, signature))
    np.testing.assert_allclose(got, model.predict_proba(X), atol=1e-4)
    image_only = skfusion.ClinicalAttentionClassifier(mode="image", **TINY).fit(X, y)
    signature = image_only.export(tmp_path / "i.pt", format="torchscript")
    assert [i["name"] for i in signature["inputs"]] == ["images", "image_present"]
    got, _ = run_torchscript(
        tmp_path / "i.pt", {"images": X.images[:, None], "image_present": np.ones(len(y), bool)}
    )
    np.testing.assert_allclose(got, image_only.predict_proba(X), atol=1e-4)


def test_slice_stacks_and_volumes_export(tmp_path):
    rng = np.random.default_rng(0)
    y = np.array(["AD", "NC"] * 6)
    clinical = pd.DataFrame({"score": rng.normal(size=12)})
    stacks = FusionInput(rng.normal(size=(12, 3, 16, 16)).astype(np.float32), clinical)
    for params in (dict(slices="attention"), dict(spatial_dims=3)):
        model = skfusion.ClinicalAttentionClassifier(mode="full", **TINY, **params).fit(stacks, y)
        signature = model.export(tmp_path / "s.pt", format="torchscript")
        got, _ = run_torchscript(tmp_path / "s.pt", inputs_for(model, stacks, signature))
        np.testing.assert_allclose(got, model.predict_proba(stacks), atol=1e-4)


def test_bad_arguments_and_unfitted_models_are_refused(tiny_inputs, tmp_path):  # noqa: F811
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        skfusion.ClinicalAttentionClassifier().export(tmp_path / "m.onnx")
    X, y = tiny_inputs
    model = small(skfusion.ClinicalAttentionClassifier, max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match=r"format must be one of \['onnx', 'torchscript'\]"):
        model.export(tmp_path / "m.onnx", format="tflite")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        model.export(tmp_path / "missing" / "m.pt", format="torchscript")


@pytest.fixture(scope="module")
def exported_model():
    from ...conftest import make_data

    X, y = make_data(n=16)
    return skfusion.ClinicalAttentionClassifier(**{**TINY, "max_epochs": 1}).fit(X, y), X


@pytest.mark.parametrize("format", ["onnx", "torchscript"])
def test_a_failed_export_leaves_the_old_file_whole(exported_model, tmp_path, monkeypatch, format):
    """A full disk once aborted the interpreter (TorchScript) or left a partial file (ONNX)
    in place of the old one."""
    import errno

    import skfusion._base.core.exporting as exporting

    model, _ = exported_model
    path = tmp_path / "m.bin"
    path.write_bytes(b"the old export")

    def full_disk(module, stream, **kwargs):
        stream.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(exporting, "export_network", full_disk)
    with pytest.raises(OSError, match="No space left"):
        model.export(path, format=format)
    assert path.read_bytes() == b"the old export"
    assert [p.name for p in tmp_path.iterdir()] == ["m.bin"]  # no temporary file left


def test_export_replaces_a_link_instead_of_writing_through_it(exported_model, tmp_path):
    import os

    model, X = exported_model
    target = tmp_path / "target.pt"
    target.write_bytes(b"not to be touched")
    link = tmp_path / "link.pt"
    link.symlink_to(target)
    model.export(link, format="torchscript")
    assert target.read_bytes() == b"not to be touched" and not link.is_symlink()
    dangling = tmp_path / "dangling.pt"
    dangling.symlink_to(tmp_path / "nowhere" / "x.pt")
    model.export(dangling, format="torchscript")
    assert dangling.is_file() and not dangling.is_symlink()
    output, _ = run_torchscript(
        dangling, inputs_for(model, X, model.export(tmp_path / "again.pt", format="torchscript"))
    )
    np.testing.assert_allclose(output, model.predict_proba(X), atol=1e-4)
    mode = os.stat(dangling).st_mode & 0o777
    mask = os.umask(0o022)
    os.umask(mask)
    assert mode == 0o666 & ~mask  # as any other writer would create it, not 0600


@pytest.mark.parametrize(
    "path, error, match",
    [
        ("", ValueError, "names no file"),
        ("a\x00b.pt", ValueError, "NUL character"),
        (".", IsADirectoryError, "is a folder"),
    ],
)
def test_export_paths_that_name_no_file_are_refused(exported_model, tmp_path, path, error, match):
    model, _ = exported_model
    with pytest.raises(error, match=match):
        model.export(path, format="torchscript")
    assert not (tmp_path / "a").exists()


def test_saved_model_files_follow_the_umask(exported_model, tmp_path):
    import os

    model, _ = exported_model
    path = tmp_path / "m.skf"
    path.write_bytes(b"old")
    os.chmod(path, 0o644)
    mask = os.umask(0o022)
    try:
        model.save(path)
    finally:
        os.umask(mask)
    assert os.stat(path).st_mode & 0o777 == 0o644  # once turned into 0600


def test_the_unrolled_bilstm_computes_what_the_packed_one_does():
    from skfusion.nn.text import AttentionTextEncoder

    encoder = AttentionTextEncoder(30, embedding_dim=6, hidden_size=5).eval()
    tokens = torch.randint(2, 30, (6, 9), generator=torch.Generator().manual_seed(0))
    for row, length in enumerate([9, 4, 1, 0, 7, 2]):
        tokens[row, length:] = 0  # padded reports of every length, one empty
    with torch.no_grad():
        packed = encoder(tokens)
        encoder.unrolled = True
        unrolled = encoder(tokens)
    torch.testing.assert_close(unrolled, packed, atol=1e-6, rtol=1e-5)
