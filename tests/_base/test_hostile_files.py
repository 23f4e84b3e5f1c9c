"""Hostile model files: nothing in a file can import, call or construct anything outside the
registry, inflate memory beyond a stated bound, or end in any error but ModelFileError.

Every crafted case below is loaded; ``pytest`` prints how many cases ran (see conftest).
An audit hook watches every load for imports, ``os.system``, ``subprocess`` and ``exec``.
"""

import collections
import io
import json
import os
import pickle
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import skfusion
from skfusion import ClinicalAttentionClassifier, ModelFileError
from skfusion._base.files.persistence import read_reading

from ..conftest import TINY, make_data

CASES = collections.Counter()
_EVENTS = []
_WATCH = {"active": False}
_FORBIDDEN_EVENTS = (
    "import",
    "os.system",
    "subprocess.Popen",
    "os.exec",
    "os.posix_spawn",
    "os.spawn",
    "exec",
    "compile",
    "os.fork",
    "ctypes.dlopen",
)


def _audit(event, args):
    if _WATCH["active"] and event.startswith(_FORBIDDEN_EVENTS):
        _EVENTS.append((event, str(args)[:80]))


sys.addaudithook(_audit)

DANGEROUS_NAMES = [
    "torch:os.system",
    "torch.utils.collect_env:run",
    "os:system",
    "builtins:eval",
    "builtins:exec",
    "subprocess:Popen",
    "pickle:loads",
    "this:s",
    "antigravity:geohash",
    "skfusion:load",
    "skfusion._base.files.persistence:atomic_write",
    "torch.optim.adam:Adam.__init__.__globals__",
    "torch.optim.adam:Adam.__class__",
    "torch.nn.modules.loss:CrossEntropyLoss.__subclasses__",
    "torch:load",
    "numpy:load",
    "torch.optim.adam:Adam ",
    "torch.optim.adam:adam",
    "torch.optim.adam",
]


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    X, y = make_data(n=20)
    clf = ClinicalAttentionClassifier(**TINY).fit(X, y)
    path = clf.save(tmp_path_factory.mktemp("good") / "good.skf")
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    skfusion.load(path)  # warm: first loads may import lazily; later ones must not
    return path, members, clf, X


def _write(path, members, *, compress=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(path, "w", compression=compress) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def _with_meta(members, edit):
    meta = json.loads(members["meta.json"])
    edit(meta)
    return {**members, "meta.json": json.dumps(meta).encode()}


def _must_refuse(path, kind, *, custom_objects=None, marker=None):
    _EVENTS.clear()
    _WATCH["active"] = True
    try:
        with pytest.raises(ModelFileError) as info:
            skfusion.load(path, custom_objects=custom_objects)
    finally:
        _WATCH["active"] = False
    assert str(path) in str(info.value)
    assert not _EVENTS, f"{kind}: {_EVENTS[:3]}"
    if marker is not None:
        assert not os.path.exists(marker), f"{kind}: code ran"
    CASES[kind] += 1
    return info.value


def test_good_file_loads_without_imports_or_calls(good):
    path, _, clf, X = good
    _EVENTS.clear()
    _WATCH["active"] = True
    try:
        loaded = skfusion.load(path)
    finally:
        _WATCH["active"] = False
    assert not _EVENTS, _EVENTS[:3]
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


@pytest.mark.parametrize("name", DANGEROUS_NAMES)
def test_names_outside_the_registry_are_refused_in_every_field(good, tmp_path, name):
    path, members, _, _ = good
    marker = tmp_path / "pwned-marker"
    fields = {
        "criterion": {"criterion__command": f"touch {marker}"},
        "optimizer": {"optimizer__command": f"touch {marker}"},
        "module__norm_layer": {},
        "criterion__weight": {},
        "optimizer__foreach": {},
        "mode": {},
    }
    for field, extra in fields.items():

        def edit(meta, field=field, extra=extra):
            meta["params"][field] = {"__object__": name}
            meta["params"].update(extra)

        bad = _write(tmp_path / "evil.skf", _with_meta(members, edit))
        _must_refuse(bad, "code execution through a parameter", marker=marker)

        def nested(meta, field=field):
            meta["params"][field] = {"__dict__": {"a": {"__object__": name}}}

        bad = _write(tmp_path / "evil.skf", _with_meta(members, nested))
        _must_refuse(bad, "code execution nested in a dict", marker=marker)


def test_the_reported_reproducer_runs_nothing(good, tmp_path):
    path, members, _, _ = good
    marker = tmp_path / "pwned-marker"

    def edit(meta):
        meta["params"]["criterion"] = {"__object__": "torch:os.system"}
        meta["params"]["criterion__command"] = f"touch {marker}"

    error = _must_refuse(
        _write(tmp_path / "evil.skf", _with_meta(members, edit)),
        "code execution: the issue's reproducer",
        marker=marker,
    )
    assert "custom_objects" in str(error)


@pytest.mark.parametrize(
    "estimator",
    [
        "load",
        "ModelFileError",
        "__class__",
        "_persistence",
        "ClinicalAttentionClassifier.fit",
        "",
        "nn",
        "datasets",
    ],
)
def test_estimator_field_names_only_estimators(good, tmp_path, estimator):
    _, members, _, _ = good
    bad = _write(
        tmp_path / "evil.skf", _with_meta(members, lambda m: m.update(estimator=estimator))
    )
    _must_refuse(bad, "estimator field")


def test_custom_objects_admit_exactly_the_names_given(good, tmp_path):
    path, members, clf, X = good

    class MyLoss(torch.nn.CrossEntropyLoss):
        pass

    name = "mypkg.losses:MyLoss"
    bad = _write(
        tmp_path / "custom.skf",
        _with_meta(members, lambda m: m["params"].update(criterion={"__object__": name})),
    )
    _must_refuse(bad, "custom name not passed")
    _must_refuse(bad, "custom name misspelt", custom_objects={name + "s": MyLoss})
    loaded = skfusion.load(bad, custom_objects={name: MyLoss})
    assert loaded.criterion is MyLoss
    CASES["custom name passed (loads)"] += 1


OVERSIZED = {
    "base_width": 2048,
    "n_threads": 1500,
    "clinical_dim": 10**9,
    "batch_size": 10**12,
    "module__base_width": 10**6,
    "iterator_valid__num_workers": 10**4,
    "iterator_valid__collate_fn": 1,
    "callbacks__print_log__sink": 1,
    "max_epochs": 10**12,
    "lr": -1.0,
    "mode": "fulll",
    "backbone": "resnet1000",
    "module__n_outputs": 10**7,
    "module__clinical_dim": 10**8,
}


@pytest.mark.parametrize("field", sorted(OVERSIZED))
def test_oversized_or_invalid_parameters_are_refused_before_building(good, tmp_path, field):
    _, members, _, _ = good
    bad = _write(
        tmp_path / "big.skf",
        _with_meta(members, lambda m: m["params"].update({field: OVERSIZED[field]})),
    )
    error = _must_refuse(bad, "oversized or invalid parameter")
    assert field.split("__")[-1] in str(error) or "weights do not fit" in str(error), error


#: Parameters added since the suite was written (augmentation policies, pretrained weights,
#: convergence), edited to what ``fit`` would refuse: a file must not get past ``load`` with
#: them either.
NEWER_PARAMETERS = {
    "augment policy degrees huge": ("augment", {"degrees": 1e9}),
    "augment policy flip above 1": ("augment", {"flip": 2.0}),
    "augment policy unknown key": ("augment", {"shear": 0.1}),
    "augment policy nested": ("augment", {"degrees": {"a": 1}}),
    "augment unknown word": ("augment", "fliplr"),
    "augment number": ("augment", 0.5),
    "freeze stages too many": ("freeze", 99),
    "freeze unknown word": ("freeze", "everything"),
    "freeze a bool": ("freeze", True),
    "tol negative": ("tol", -1.0),
    "image_weights a path": ("image_weights", "/etc/passwd"),
    "image_weights unknown hash": ("image_weights", {"__pretrained__": "0" * 64}),
    "n_iter_no_change zero": ("n_iter_no_change", 0),
}


@pytest.mark.parametrize("case", sorted(NEWER_PARAMETERS))
def test_newer_parameters_edited_out_of_range_are_refused(good, tmp_path, case):
    _, members, _, _ = good
    field, value = NEWER_PARAMETERS[case]
    bad = _write(
        tmp_path / "new.skf", _with_meta(members, lambda m: m["params"].update({field: value}))
    )
    error = _must_refuse(bad, "newer parameter edited")
    assert field in str(error), error


FITTED_EDITS = {
    "classes one": lambda f: f.update(classes=["AD"]),
    "classes not a list": lambda f: f.update(classes="AD"),
    "classes_dtype void": lambda f: f.update(classes_dtype="V1000000000"),
    "classes_dtype junk": lambda f: f.update(classes_dtype="not a dtype"),
    "n_features_in huge": lambda f: f.update(n_features_in=10**12),
    "n_features_in negative": lambda f: f.update(n_features_in=-1),
    "feature names wrong count": lambda f: f.update(feature_names_in=["a"]),
    "feature names repeated": lambda f: f.update(feature_names_in=["a", "a", "b"]),
    "image_shape short": lambda f: f.update(image_shape=[1, 16]),
    "image_shape huge": lambda f: f.update(image_shape=[10**6, 16, 16]),
    "image_shape strings": lambda f: f.update(image_shape=["1", "16", "16"]),
    "n_epochs huge": lambda f: f.update(n_epochs_=10**12),
    "seed float": lambda f: f.update(seed=1.5),
    "shuffle_state junk": lambda f: f.update(shuffle_state=["MT19937", [1, 2], 0, 0, 0.0]),
    "shuffle_state wrong kind": lambda f: f.update(shuffle_state=[1, 2, 3, 4, 5]),
    "generator_state junk": lambda f: f.update(generator_state=[999]),
    "generator_state short": lambda f: f.update(generator_state=[1, 2, 3]),
    "extra not a dict": lambda f: f.update(extra=[1]),
    "fitted missing classes": lambda f: f.pop("classes"),
    "clinical_encoding not a dict": lambda f: f.update(clinical_encoding=[1]),
    "clinical_encoding wrong column count": lambda f: f["clinical_encoding"].update(
        columns=["a"], kinds=["numeric"], stats=[f["clinical_encoding"]["stats"][0]]
    ),
    "clinical_encoding kind unknown": lambda f: f["clinical_encoding"]["kinds"].__setitem__(
        0, "pickle"
    ),
    "clinical_encoding scale zero": lambda f: f["clinical_encoding"]["stats"][0].update(scale=0.0),
    "clinical_encoding huge categories": lambda f: f["clinical_encoding"].update(
        kinds=["categorical"] * 3,
        stats=[{"categories": [str(i) for i in range(400000)], "missing": False}] * 3,
    ),
}


TASK_FITTED_EDITS = {
    "regressor": {
        "target_mean missing": lambda f: f.pop("target_mean"),
        "target_mean empty": lambda f: f.update(target_mean=[], target_scale=[]),
        "target_mean strings": lambda f: f.update(target_mean=["1"]),
        "target_mean infinite": lambda f: f.update(target_mean=[1e400]),
        "target_scale zero": lambda f: f.update(target_scale=[0.0]),
        "target_scale wrong length": lambda f: f.update(target_scale=[1.0, 1.0]),
        "target_ndim 3": lambda f: f.update(target_ndim=3),
        "target_ndim 1 with 2 outputs": lambda f: f.update(
            target_mean=[0.0, 1.0], target_scale=[1.0, 1.0]
        ),
        "huge output count": lambda f: f.update(
            target_mean=[0.0] * 10**6, target_scale=[1.0] * 10**6, target_ndim=2
        ),
    },
    "survival": {
        "times decreasing": lambda f: f.update(unique_times=f["unique_times"][::-1]),
        "hazard decreasing": lambda f: f.update(
            baseline_cumulative_hazard=f["baseline_cumulative_hazard"][::-1]
        ),
        "hazard wrong length": lambda f: f.update(baseline_cumulative_hazard=[0.1]),
        "hazard negative": lambda f: f.update(
            baseline_cumulative_hazard=[-1.0] * len(f["unique_times"])
        ),
        "risk_offset text": lambda f: f.update(risk_offset="0"),
        "times not a list": lambda f: f.update(unique_times={"a": 1}),
    },
}


@pytest.fixture(scope="module", params=sorted(TASK_FITTED_EDITS))
def good_task_file(request, tmp_path_factory):
    X, y = make_data(n=20)
    index = (y == "AD").astype(float)
    if request.param == "regressor":
        model = skfusion.ClinicalAttentionRegressor(**TINY).fit(X, index + 0.1 * np.arange(20))
    else:
        target = skfusion.survival_target(np.arange(20) % 3 > 0, 1 + np.arange(20) % 7 + index)
        model = skfusion.ClinicalAttentionSurvival(**TINY).fit(X, target)
    path = model.save(tmp_path_factory.mktemp(request.param) / "good.skf")
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    np.testing.assert_array_equal(skfusion.load(path).predict(X), model.predict(X))
    return request.param, members


def test_malformed_target_states_are_refused(good_task_file, tmp_path):
    task, members = good_task_file
    for case, edit in TASK_FITTED_EDITS[task].items():
        bad = _write(tmp_path / "target.skf", _with_meta(members, lambda m: edit(m["fitted"])))
        _must_refuse(bad, f"malformed {task} state")


@pytest.mark.parametrize("case", sorted(FITTED_EDITS))
def test_malformed_fitted_state_is_refused(good, tmp_path, case):
    _, members, _, _ = good
    bad = _write(
        tmp_path / "fitted.skf", _with_meta(members, lambda m: FITTED_EDITS[case](m["fitted"]))
    )
    _must_refuse(bad, "malformed fitted state")


META_TEXTS = {
    "null": b"null",
    "list": b"[]",
    "number": b"1",
    "string": b'"x"',
    "truncated": b"{",
    "not utf-8": b"\xff\xfe{}",
    "empty": b"",
    "deep nesting": b"[" * 100000 + b"]" * 100000,
    "NaN": b'{"format": NaN}',
}


@pytest.mark.parametrize("case", sorted(META_TEXTS))
def test_malformed_json_documents_are_refused(good, tmp_path, case):
    _, members, _, _ = good
    bad = _write(tmp_path / "json.skf", {**members, "meta.json": META_TEXTS[case]})
    _must_refuse(bad, "malformed JSON")


META_EDITS = {
    "format_version true": lambda m: m.update(format_version=True),
    "format_version 0": lambda m: m.update(format_version=0),
    "format_version -5": lambda m: m.update(format_version=-5),
    "format_version string": lambda m: m.update(format_version="2"),
    "format_version float": lambda m: m.update(format_version=2.0),
    "format_version legacy 1": lambda m: m.update(format_version=1),
    "format_version newer": lambda m: m.update(format_version=99),
    "format other": lambda m: m.update(format="pickle"),
    "params null": lambda m: m.update(params=None),
    "params list": lambda m: m.update(params=[1, 2]),
    "params unknown name": lambda m: m["params"].update(not_a_param=1),
    "params bad prefix": lambda m: m["params"].update(modul__x=1),
    "param list of objects": lambda m: m["params"].update(callbacks={"__list__": [{"a": 1}]}),
    "param unknown encoding": lambda m: m["params"].update(lr={"__set__": [1]}),
    "param tensor dtype": lambda m: m["params"].update(
        criterion__weight={"__tensor__": [1.0, 2.0], "dtype": "torch.complex128"}
    ),
    "param tensor ragged": lambda m: m["params"].update(
        criterion__weight={"__tensor__": [[1.0], [1.0, 2.0]], "dtype": "torch.float32"}
    ),
    "param tensor dtype not text": lambda m: m["params"].update(
        criterion__weight={"__tensor__": [1.0], "dtype": ["os.system"]}
    ),
    "fitted null": lambda m: m.update(fitted=None),
    "estimator null": lambda m: m.update(estimator=None),
    "architecture edited": lambda m: m["params"].update(mode="concat"),
    "backbone edited": lambda m: m["params"].update(backbone="resnet34"),
    "reading list": lambda m: m.update(reading=[1]),
    "reading unknown option": lambda m: m.update(reading={"exec": "x"}),
    "reading size text": lambda m: m.update(reading={"size": "64"}),
    "reading size bool": lambda m: m.update(reading={"size": True}),
    "reading size huge": lambda m: m.update(reading={"size": 10**9}),
    "reading column object": lambda m: m.update(reading={"image_column": {"a": 1}}),
    "reading column long": lambda m: m.update(reading={"image_column": "x" * 5000}),
}


@pytest.mark.parametrize("case", sorted(META_EDITS))
def test_malformed_fields_are_refused(good, tmp_path, case):
    _, members, _, _ = good
    bad = _write(tmp_path / "fields.skf", _with_meta(members, META_EDITS[case]))
    error = _must_refuse(bad, "malformed field")
    if case.startswith("reading"):  # the command line's reader refuses it too
        with pytest.raises(ModelFileError, match="reading"):
            read_reading(bad)
    if case == "format_version legacy 1":
        assert "format 1" in str(error) and "Refit" in str(error)


class _Planted:
    def __reduce__(self):
        return (os.system, ("echo planted > /dev/null",))


def _tensor_bytes(value):
    buffer = io.BytesIO()
    torch.save(value, buffer)
    return buffer.getvalue()


def _member_cases(members):
    weights = torch.load(io.BytesIO(members["weights.pt"]), weights_only=True)
    renamed = {("x" + k if i == 0 else k): v for i, (k, v) in enumerate(weights.items())}
    reshaped = dict(weights)
    first = next(iter(reshaped))
    reshaped[first] = torch.zeros(7, 7)
    return {
        "pickle planted in weights": {**members, "weights.pt": pickle.dumps(_Planted())},
        "pickle planted in optimizer": {**members, "optimizer.pt": pickle.dumps(_Planted())},
        "torch file with planted object": {
            **members,
            "weights.pt": _tensor_bytes({"a": _Planted()}),
        },
        "weights garbage": {**members, "weights.pt": b"\x00" * 100},
        "weights a list": {**members, "weights.pt": _tensor_bytes([torch.zeros(2)])},
        "weights renamed": {**members, "weights.pt": _tensor_bytes(renamed)},
        "weights reshaped": {**members, "weights.pt": _tensor_bytes(reshaped)},
        "weights missing one": {
            **members,
            "weights.pt": _tensor_bytes(dict(list(weights.items())[1:])),
        },
        "optimizer garbage": {**members, "optimizer.pt": b"junk"},
        "optimizer a list": {**members, "optimizer.pt": _tensor_bytes([1, 2])},
        "missing weights": {k: v for k, v in members.items() if k != "weights.pt"},
        "missing meta": {k: v for k, v in members.items() if k != "meta.json"},
        "extra member": {**members, "run.py": b"import os"},
        "extra folder member": {**members, "../evil.json": b"{}"},
    }


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_damaged_and_planted_members_are_refused(good, tmp_path):
    _, members, _, _ = good
    for case, content in _member_cases(members).items():
        _must_refuse(_write(tmp_path / "member.skf", content), f"member: {case}")
    (tmp_path / "junk.skf").write_bytes(b"not a zip")
    _must_refuse(tmp_path / "junk.skf", "not a zip archive")
    raw = (tmp_path / "member.skf").read_bytes()
    (tmp_path / "truncated.skf").write_bytes(raw[: len(raw) // 2])
    _must_refuse(tmp_path / "truncated.skf", "truncated archive")
    corrupted = bytearray(_write(tmp_path / "crc.skf", members).read_bytes())
    corrupted[200] ^= 0xFF
    (tmp_path / "crc.skf").write_bytes(bytes(corrupted))
    _must_refuse(tmp_path / "crc.skf", "corrupted bytes")
    duplicated = tmp_path / "dup.skf"
    with zipfile.ZipFile(duplicated, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        with pytest.warns(UserWarning, match="Duplicate name"):
            archive.writestr("meta.json", b"{}")
    _must_refuse(duplicated, "duplicated member")


_BOMB_SCRIPT = textwrap.dedent("""
    import json, resource, sys, zipfile
    import skfusion
    good, folder = sys.argv[1], sys.argv[2]
    members = {n: zipfile.ZipFile(good).read(n) for n in zipfile.ZipFile(good).namelist()}
    meta = json.loads(members["meta.json"])
    def write(name, content, **meta_edit):
        m = dict(meta, **meta_edit)
        path = f"{folder}/{name}.skf"
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
            for member, data in {**members, "meta.json": json.dumps(m).encode(),
                                 **content}.items():
                z.writestr(member, data)
        return path
    zeros = bytes(256 * 2**20)
    cases = {
        "weights bomb": write("w", {"weights.pt": zeros}),
        "optimizer bomb": write("o", {"optimizer.pt": zeros}),
        "meta bomb": write("m", {"meta.json": b" " * (64 * 2**20) + json.dumps(meta).encode()}),
        "huge base_width": write("b", {}, params={**meta["params"], "base_width": 1024,
                                                   "module__base_width": 1024}),
        "huge vocabulary-free width": write("c", {}, params={**meta["params"],
                                                             "clinical_dim": 65536}),
    }
    del zeros
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for name, path in cases.items():
        try:
            skfusion.load(path)
        except skfusion.ModelFileError as exc:
            print("refused", name, str(exc)[:120])
        else:
            print("LOADED", name)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print("peak-growth-mb", (after - before) / 1024)
""")


@pytest.mark.slow
def test_zip_bombs_and_huge_networks_stay_within_the_memory_bound(good, tmp_path):
    """Loading the bombs raises the process's peak memory by less than 200 MB (a 256 MB
    member inflating, or a width-1024 ResNet being built, would exceed it)."""
    path, _, _, _ = good
    result = subprocess.run(
        [sys.executable, "-c", _BOMB_SCRIPT, str(path), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    refused = [line for line in lines if line.startswith("refused")]
    assert len(refused) == 5 and not any(line.startswith("LOADED") for line in lines), lines
    growth = float(lines[-1].split()[-1])
    assert growth < 200, lines
    CASES["zip bomb or huge network (subprocess)"] += len(refused)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
    | st.sampled_from(DANGEROUS_NAMES),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                ["__object__", "__tensor__", "dtype", "__dict__", "__list__", "__tuple__", "a"]
            )
            | st.text(max_size=6),
            children,
            max_size=3,
        )
    ),
    max_leaves=12,
)


@pytest.mark.slow
@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    field=st.sampled_from(
        [
            "criterion",
            "optimizer",
            "module__norm_layer",
            "lr",
            "mode",
            "criterion__weight",
            "base_width",
            "clinical_dim",
            "optimizer__weight_decay",
            "n_threads",
            "random_state",
            "iterator_valid__batch_size",
        ]
    ),
    value=json_values,
    target=st.sampled_from(["params", "fitted", "top"]),
)
def test_generated_documents_never_import_or_call(good, tmp_path, field, value, target):
    """Property: whatever JSON a file holds, load imports and calls nothing outside the
    registry, and ends in a model or a ModelFileError."""
    path, members, _, _ = good

    def edit(meta):
        if target == "params":
            meta["params"][field] = value
        elif target == "fitted":
            meta["fitted"][field.split("__")[-1]] = value
            meta["fitted"]["classes"] = value if field == "mode" else meta["fitted"]["classes"]
        else:
            meta[field] = value

    bad = _write(tmp_path / "gen.skf", _with_meta(members, edit))
    _EVENTS.clear()
    _WATCH["active"] = True
    try:
        skfusion.load(bad)
        outcome = "loaded"
    except ModelFileError:
        outcome = "refused"
    finally:
        _WATCH["active"] = False
    assert not _EVENTS, _EVENTS[:3]
    CASES[f"generated document ({outcome})"] += 1


def test_a_files_reading_options_round_trip_and_older_files_have_none(good, tmp_path):
    from skfusion._base.files.model_files import save

    path, _, clf, X = good
    assert read_reading(path) == {}
    reading = {
        "image_column": "file",
        "id_column": None,
        "size": 16,
        "color": "gray",
        "normalize": "zscore",
        "slices": 1,
    }
    written = save(clf, tmp_path / "read.skf", reading=reading)
    assert read_reading(written) == reading
    assert np.array_equal(skfusion.load(written).predict_proba(X), clf.predict_proba(X))
