"""Model files that are safe to share: JSON for everything but the weights, weights read with
``torch.load(weights_only=True)``, every name resolved from one registry, every size bounded
before anything is built, and every write atomic.

What a model file can do, and what it cannot (the threat model, tested in
``tests/_base/test_hostile_files.py``): it can choose parameter values within each estimator's
own constraints and the caps below, and the tensors of the network those parameters
describe. It cannot import a module, call a function or construct a class outside
:data:`skfusion._base.files.safe_names.SAFE_OBJECTS` and the caller's ``custom_objects``, make
``load`` read more than :data:`MAX_MEMBER_BYTES` per member or inflate a member more than
:data:`MAX_INFLATION` times, or build a network with more values than its weights file
holds. Every file that cannot be loaded raises :class:`ModelFileError`.
"""

import io
import json
import zipfile
import zlib

import numpy as np
import torch

from ..._version import __version__
from .atomic import atomic_write
from .file_checks import (
    FORMAT,
    FORMAT_VERSION,
    ModelFileError,
    check_fitted,
    check_int,
    check_meta,
    check_number_list,
    check_params,
    estimator_class,
)
from .safe_names import encode

__all__ = [
    "FORMAT_VERSION",
    "READING",
    "ModelFileError",
    "atomic_write",
    "check_int",
    "check_number_list",
    "load",
    "read_reading",
    "write_model_file",
]

MEMBERS = {"meta.json", "weights.pt", "optimizer.pt", "image_weights.pt"}
#: Largest uncompressed size of ``meta.json`` and of each tensor member.
MAX_META_BYTES = 32 * 2**20
MAX_MEMBER_BYTES = 16 * 2**30
#: Largest ratio of uncompressed to compressed size of a member (tensors barely compress;
#: a zip bomb inflates a thousandfold).
MAX_INFLATION = 50


#: How the command line read the training table, kept in a model file's optional
#: ``reading`` field so that ``predict`` reads new tables the same way: option -> the types
#: a value may have.
READING = {
    "image_column": (str,),
    "id_column": (str, type(None)),
    "size": (int,),
    "color": (str,),
    "normalize": (str,),
    "slices": (int,),
}


def check_reading(path, reading):
    """The ``reading`` field of a model file, checked: known options, plain values."""
    if reading is None:
        return {}
    if not isinstance(reading, dict) or not set(reading) <= set(READING):
        raise ModelFileError(
            f"{path!s}: meta.json field 'reading' must map some of "
            f"{sorted(READING)} to values; got {str(reading)[:200]}."
        )
    for key, value in reading.items():
        if (
            not isinstance(value, READING[key])
            or isinstance(value, bool)
            or (isinstance(value, str) and len(value) > 1000)
        ):
            raise ModelFileError(
                f"{path!s}: reading.{key} is {str(value)[:100]!r}; expected "
                f"{' or '.join(t.__name__ for t in READING[key])}."
            )
        if isinstance(value, int):
            check_int(path, f"reading.{key}", value, 1, 2**16)
    return dict(reading)


def encode_params(estimator, pretrained=None):
    """The estimator's parameters as a model file writes them (callbacks left out; a custom
    augmentation callable as "custom"; pretrained image weights as their hash, their tensors
    going into the file's ``image_weights.pt``); a TypeError names any that cannot be."""
    params = estimator.get_params(deep=False)
    params.pop("callbacks", None)  # training-time only
    if callable(params.get("augment")):  # a custom policy: the file says one was used
        params["augment"] = "custom"
    for key in [k for k in params if k.startswith("callbacks__")]:
        del params[key]
    has_weights = "image_weights" in params
    weights = params.pop("image_weights", None)
    encoded = {name: encode(name, value) for name, value in params.items()}
    if has_weights:
        encoded["image_weights"] = (
            None if weights is None or pretrained is None else {"__pretrained__": pretrained.sha256}
        )
    return encoded


def write_model_file(path, estimator, *, fitted, net, pretrained=None, reading=None):
    """Write ``estimator`` (its parameters), ``fitted`` (its fitted attributes as plain values),
    ``net``'s weights, optimizer state and random states to ``path``, atomically, so that
    training resumes exactly where it stopped. ``pretrained``: the
    :class:`~skfusion._base.pretrained.weights.PretrainedWeights` the network started from,
    kept whole in the file so that a loaded model can be refitted without the file they came
    from."""
    encoded = encode_params(estimator, pretrained)
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "skfusion_version": __version__,
        "torch_version": torch.__version__,
        "estimator": type(estimator).__name__,
        "params": encoded,
        "fitted": dict(fitted),
    }
    if reading:
        meta["reading"] = check_reading(path, reading)
    rng = net.get_params().get("iterator_train__random_state")
    if isinstance(rng, np.random.RandomState):
        kind, keys, position, has_gauss, gauss = rng.get_state()
        meta["fitted"]["shuffle_state"] = [
            kind,
            keys.tolist(),
            int(position),
            int(has_gauss),
            float(gauss),
        ]
    generator = getattr(net, "generator_", None)
    if generator is not None:
        meta["fitted"]["generator_state"] = generator.get_state().tolist()
    weights = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in net.module_.state_dict().items()}, weights)
    optimizer = io.BytesIO()
    torch.save(_to_cpu(net.optimizer_.state_dict()), optimizer)
    source = None
    if pretrained is not None and encoded.get("image_weights") is not None:
        meta["fitted"]["pretrained_source"] = pretrained.source[:1000]
        source = io.BytesIO()
        torch.save(dict(pretrained.state), source)
    text = json.dumps(meta, indent=2)

    def write(stream):
        with zipfile.ZipFile(stream, "w") as archive:
            archive.writestr("meta.json", text, compress_type=zipfile.ZIP_DEFLATED)
            if source is not None:
                archive.writestr(
                    "image_weights.pt", source.getvalue(), compress_type=zipfile.ZIP_STORED
                )
            # Tensors barely compress: stored, they read back fastest.
            archive.writestr("weights.pt", weights.getvalue(), compress_type=zipfile.ZIP_STORED)
            archive.writestr("optimizer.pt", optimizer.getvalue(), compress_type=zipfile.ZIP_STORED)

    atomic_write(path, write)


def _to_cpu(value):
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, dict):
        return {k: _to_cpu(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_cpu(v) for v in value)
    return value


def _read_members(path):
    """The members of the archive at ``path`` as bytes, after checking names and sizes."""
    try:
        archive = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise ModelFileError(f"{path!s} is not a skfusion model file ({exc}).") from None
    with archive:
        infos = archive.infolist()
        names = [info.filename for info in infos]
        unknown = sorted(set(names) - MEMBERS)
        if unknown or len(names) != len(set(names)):
            raise ModelFileError(
                f"{path!s} is not a skfusion model file: unexpected or repeated members "
                f"{(unknown or names)[:5]}; expected {sorted(MEMBERS)}."
            )
        if not {"meta.json", "weights.pt"} <= set(names):
            raise ModelFileError(
                f"{path!s} is not a skfusion model file (missing meta.json or weights.pt)."
            )
        members = {}
        for info in infos:
            limit = MAX_META_BYTES if info.filename == "meta.json" else MAX_MEMBER_BYTES
            if info.file_size > limit:
                raise ModelFileError(
                    f"{path!s}: member {info.filename} declares {info.file_size} bytes, over "
                    f"the limit of {limit}."
                )
            if info.file_size > MAX_INFLATION * max(info.compress_size, 1024):
                raise ModelFileError(
                    f"{path!s}: member {info.filename} inflates from {info.compress_size} to "
                    f"{info.file_size} bytes (more than {MAX_INFLATION}x); refused as a "
                    "possible zip bomb."
                )
            try:
                with archive.open(info) as stream:
                    data = stream.read(info.file_size + 1)
            except (
                zipfile.BadZipFile,
                zlib.error,
                OSError,
                EOFError,
                ValueError,
                NotImplementedError,
                RuntimeError,
            ) as exc:
                raise ModelFileError(
                    f"{path!s}: member {info.filename} is damaged ({exc})."
                ) from None
            if len(data) != info.file_size:
                raise ModelFileError(
                    f"{path!s}: member {info.filename} is damaged (size differs from its header)."
                )
            members[info.filename] = data
    return members


def _load_tensors(path, member, data):
    try:
        value = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except MemoryError:
        raise
    except Exception as exc:  # torch's unpickler raises many types on hostile input
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelFileError(
            f"{path!s}: {member} is not a plain tensor file ({first[:200]}); it may have "
            "been edited to hold code, and is not loaded."
        ) from None
    return value


def _read_pretrained(path, marker, members, fitted):
    """The pretrained image weights a file keeps (``image_weights.pt``), checked against the
    hash its parameters and fitted state name; None when it keeps none."""
    from ..pretrained.weights import PretrainedWeights

    if marker is None:
        if "image_weights.pt" in members:
            raise ModelFileError(
                f"{path!s}: holds image_weights.pt but its params name no image_weights."
            )
        return None
    if not (
        isinstance(marker, dict)
        and set(marker) == {"__pretrained__"}
        and isinstance(marker["__pretrained__"], str)
    ):
        raise ModelFileError(
            f"{path!s}: params['image_weights'] must be null or {{\"__pretrained__\": <sha256>}}."
        )
    if "image_weights.pt" not in members:
        raise ModelFileError(
            f"{path!s}: params name pretrained image weights, but the file "
            "holds no image_weights.pt."
        )
    state = _load_tensors(path, "image_weights.pt", members["image_weights.pt"])
    if (
        not isinstance(state, dict)
        or not state
        or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items())
    ):
        raise ModelFileError(f"{path!s}: image_weights.pt must map names to tensors.")
    source = fitted.get("pretrained_source", "")
    weights = PretrainedWeights(state, source=source if isinstance(source, str) else "")
    recorded = (
        (fitted.get("image_weights") or {}).get("sha256")
        if isinstance(fitted.get("image_weights"), dict)
        else None
    )
    if weights.sha256 != marker["__pretrained__"] or recorded != weights.sha256:
        raise ModelFileError(
            f"{path!s}: image_weights.pt does not match the hash its "
            "params and fitted state record; the file is damaged or was "
            "edited."
        )
    return weights


def _read_meta(path, custom_objects=None):
    """The file's members and its checked ``meta.json`` (reading options included)."""
    members = _read_members(path)
    try:
        meta = json.loads(members["meta.json"].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ModelFileError(f"{path!s}: meta.json is not valid JSON ({exc}).") from None
    check_meta(path, meta, custom_objects)
    check_reading(path, meta.get("reading"))
    return members, meta


def read_reading(path):
    """The reading options a model file keeps (``{}`` where it keeps none), checked."""
    return check_reading(path, _read_meta(path)[1].get("reading"))


def load(path, *, device="cpu", custom_objects=None):
    """Load a model written by ``estimator.save(path)``, without running code from the file.

    Parameters
    ----------
    path : str or path-like
        The model file.
    device : str, default="cpu"
        Where the loaded network lives ("auto" picks CUDA when available). A model trained on
        a GPU loads on a CPU.
    custom_objects : dict, default=None
        Classes or functions the file names beyond those skfusion writes itself (a custom
        optimizer or loss), keyed by ``"module:qualname"``, and the estimator class of a
        family of your own (keyed by its name); nothing is imported.

    Returns
    -------
    estimator : fitted skfusion estimator

    Raises
    ------
    ModelFileError
        (a ``ValueError``) for every file that cannot be loaded, naming the file and what is
        wrong. ``FileNotFoundError`` when there is no file.
    """
    custom_objects = dict(custom_objects or {})
    members, meta = _read_meta(path, custom_objects)
    cls = estimator_class(path, meta, custom_objects)
    raw_params = dict(meta["params"])
    pretrained = _read_pretrained(
        path, raw_params.pop("image_weights", None), members, meta["fitted"]
    )
    params = check_params(path, cls, raw_params, custom_objects)
    for name, value in cls._defaults_before.items():  # a file of an earlier release
        if name not in raw_params:
            params.setdefault(name, value)
    if "image_weights" in meta["params"]:
        params["image_weights"] = pretrained
    fitted = meta["fitted"]
    check_fitted(path, fitted)
    cls._target_encoder.check_state(path, fitted)
    params["device"] = device
    state = _load_tensors(path, "weights.pt", members["weights.pt"])
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise ModelFileError(f"{path!s}: weights.pt must map names to tensors.")
    optimizer_state = None
    if "optimizer.pt" in members:
        optimizer_state = _load_tensors(path, "optimizer.pt", members["optimizer.pt"])
        if not isinstance(optimizer_state, dict):
            raise ModelFileError(f"{path!s}: optimizer.pt must hold an optimizer state.")
    try:
        return cls._restore(params, fitted, state, optimizer_state, source=str(path))
    except ModelFileError:
        raise
    except (KeyboardInterrupt, MemoryError):
        raise
    except Exception as exc:  # any other failure means the file does not describe a model
        first = str(exc).splitlines()[0] if str(exc) else ""
        raise ModelFileError(
            f"{path!s}: cannot be restored ({type(exc).__name__}: {first[:300]})."
        ) from None
