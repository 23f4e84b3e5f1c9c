"""Model files that are safe to share: JSON for everything but the weights, weights read with
``torch.load(weights_only=True)``, every name resolved from one registry, every size bounded
before anything is built, and every write atomic.

What a model file can do, and what it cannot (the threat model, tested in
``tests/_base/test_hostile_files.py``): it can choose parameter values within each estimator's
own constraints and the caps below, and the tensors of the network those parameters
describe. It cannot import a module, call a function or construct a class outside
:data:`skfusion._base.safe_names.SAFE_OBJECTS` and the caller's ``custom_objects``, make
``load`` read more than :data:`MAX_MEMBER_BYTES` per member or inflate a member more than
:data:`MAX_INFLATION` times, or build a network with more values than its weights file
holds. Every file that cannot be loaded raises :class:`ModelFileError`.
"""

import io
import json
import math
import os
import tempfile
import zipfile
import zlib
from numbers import Integral

import numpy as np
import torch

from .params import ROUTED_PREFIXES
from .safe_names import ESTIMATORS, SAFE_ESTIMATOR_NAMES, UnsafeNameError, decode, encode
from .._version import __version__
from ..preprocessing._table import TableEncoder

__all__ = ["FORMAT_VERSION", "ModelFileError", "atomic_write", "check_int", "check_number_list",
           "load", "write_model_file"]

FORMAT = "skfusion-model"
#: 2: the networks of skfusion 0.2 (the paper's RBCA block, the multi-head GMU with per-head
#: gates, DAFT after the first normalisation of the last block). Format 1 files hold
#: networks of a different architecture and are refused.
FORMAT_VERSION = 2
MEMBERS = {"meta.json", "weights.pt", "optimizer.pt", "image_weights.pt"}
#: Largest uncompressed size of ``meta.json`` and of each tensor member.
MAX_META_BYTES = 32 * 2**20
MAX_MEMBER_BYTES = 16 * 2**30
#: Largest ratio of uncompressed to compressed size of a member (tensors barely compress;
#: a zip bomb inflates a thousandfold).
MAX_INFLATION = 50
MAX_THREADS = max(64, os.cpu_count() or 1)
#: Routed parameters a file may carry: the prefixes (callbacks are never saved), and for
#: the iterators only these keys.
FILE_PREFIXES = ("module", "criterion", "optimizer", "iterator_train", "iterator_valid")
ITERATOR_KEYS = {"batch_size", "shuffle", "pin_memory", "num_workers", "persistent_workers",
                 "prefetch_factor", "timeout"}


class ModelFileError(ValueError):
    """A file that cannot be loaded as a skfusion model: damaged, edited, hostile, of an
    unsupported format, or naming objects outside the registry. The message names the file
    and what is wrong."""


def _umask():
    """The process's umask, read without changing it where the system says (Linux)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # elsewhere: set and restore at once
    os.umask(mask)
    return mask


def atomic_write(path, write):
    """Write a file through ``write(fileobj)`` so that ``path`` always holds either its old
    content or the complete new one.

    The bytes go to a temporary file in the same folder, are flushed and fsynced, and the
    temporary file is renamed over ``path`` (``os.replace``, atomic on POSIX and Windows);
    the folder is fsynced so the rename survives a crash. On any error (a full disk,
    Ctrl-C) the temporary file is removed and ``path`` is untouched. Concurrent writers
    each rename a complete file: the last one wins.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.",
                                         suffix=".tmp")
    try:
        # mkstemp creates the file readable by its owner only; give it the mode any other
        # writer would (0666 less the umask), as the file it replaces had.
        os.chmod(temporary, 0o666 & ~_umask())
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise
    try:
        directory = os.open(folder, os.O_RDONLY)
    except OSError:  # some platforms cannot open folders; the rename is still atomic
        return
    try:
        os.fsync(directory)
    except OSError:
        pass
    finally:
        os.close(directory)


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
        encoded["image_weights"] = (None if weights is None or pretrained is None else
                                    {"__pretrained__": pretrained.sha256})
    return encoded


def write_model_file(path, estimator, *, fitted, net, pretrained=None):
    """Write ``estimator`` (its parameters), ``fitted`` (its fitted attributes as plain values),
    ``net``'s weights, optimizer state and random states to ``path``, atomically, so that
    training resumes exactly where it stopped. ``pretrained``: the
    :class:`~skfusion._base.weights.PretrainedWeights` the network started from, kept whole in
    the file so that a loaded model can be refitted without the file they came from."""
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
    rng = net.get_params().get("iterator_train__random_state")
    if isinstance(rng, np.random.RandomState):
        kind, keys, position, has_gauss, gauss = rng.get_state()
        meta["fitted"]["shuffle_state"] = [kind, keys.tolist(), int(position), int(has_gauss),
                                           float(gauss)]
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
                archive.writestr("image_weights.pt", source.getvalue(),
                                 compress_type=zipfile.ZIP_STORED)
            # Tensors barely compress: stored, they read back fastest.
            archive.writestr("weights.pt", weights.getvalue(), compress_type=zipfile.ZIP_STORED)
            archive.writestr("optimizer.pt", optimizer.getvalue(),
                             compress_type=zipfile.ZIP_STORED)

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
                f"{(unknown or names)[:5]}; expected {sorted(MEMBERS)}.")
        if not {"meta.json", "weights.pt"} <= set(names):
            raise ModelFileError(f"{path!s} is not a skfusion model file (missing meta.json "
                                 "or weights.pt).")
        members = {}
        for info in infos:
            limit = MAX_META_BYTES if info.filename == "meta.json" else MAX_MEMBER_BYTES
            if info.file_size > limit:
                raise ModelFileError(
                    f"{path!s}: member {info.filename} declares {info.file_size} bytes, over "
                    f"the limit of {limit}.")
            if info.file_size > MAX_INFLATION * max(info.compress_size, 1024):
                raise ModelFileError(
                    f"{path!s}: member {info.filename} inflates from {info.compress_size} to "
                    f"{info.file_size} bytes (more than {MAX_INFLATION}x); refused as a "
                    "possible zip bomb.")
            try:
                with archive.open(info) as stream:
                    data = stream.read(info.file_size + 1)
            except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError,
                    NotImplementedError, RuntimeError) as exc:
                raise ModelFileError(f"{path!s}: member {info.filename} is damaged "
                                     f"({exc}).") from None
            if len(data) != info.file_size:
                raise ModelFileError(f"{path!s}: member {info.filename} is damaged (size "
                                     "differs from its header).")
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
            "been edited to hold code, and is not loaded.") from None
    return value


def check_int(path, field, value, low, high):
    if isinstance(value, bool) or not isinstance(value, Integral) or not low <= value <= high:
        raise ModelFileError(f"{path!s}: {field} must be an integer in [{low}, {high}]; got "
                             f"{value!r}.")
    return int(value)


def check_number_list(path, field, value, *, length=None, max_length=10**7, positive=False):
    """A list of finite numbers (``length`` of them, if given), or a ModelFileError."""
    if not isinstance(value, list) or not len(value) <= max_length or (
            length is not None and len(value) != length) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            and (not positive or v > 0) for v in value):
        raise ModelFileError(f"{path!s}: fitted.{field} must be a list of "
                             f"{'' if length is None else f'{length} '}finite"
                             f"{' positive' if positive else ''} numbers.")
    return value


def _check_meta(path, meta):
    if not isinstance(meta, dict):
        raise ModelFileError(f"{path!s}: meta.json must hold a JSON object; got "
                             f"{type(meta).__name__}.")
    if meta.get("format") != FORMAT:
        raise ModelFileError(f"{path!s} is not a skfusion model file (format "
                             f"{meta.get('format')!r}).")
    version = meta.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ModelFileError(f"{path!s}: format_version must be a positive integer; got "
                             f"{version!r}.")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path!s} uses model file format {version}, written by skfusion "
            f"{meta.get('skfusion_version')}; this skfusion reads format {FORMAT_VERSION}. "
            "Upgrade skfusion to load it.")
    if version < FORMAT_VERSION:
        raise ModelFileError(
            f"{path!s} uses model file format {version} (skfusion "
            f"{meta.get('skfusion_version')}), whose networks have another architecture "
            "(format 2 changed the RBCA block, the multi-head GMU and the DAFT placement); "
            "its weights cannot be loaded into today's networks. Refit the model, or load it "
            "with the skfusion that wrote it (pip install 'skfusion<0.2').")
    for field, kind in (("params", dict), ("fitted", dict), ("estimator", str)):
        if not isinstance(meta.get(field), kind):
            raise ModelFileError(f"{path!s}: meta.json field {field!r} must be a "
                                 f"{kind.__name__}; got {type(meta.get(field)).__name__}.")
    if meta["estimator"] not in SAFE_ESTIMATOR_NAMES or meta["estimator"] not in ESTIMATORS:
        raise ModelFileError(f"{path!s} holds an unknown estimator {meta['estimator']!r}; "
                             f"expected one of {list(SAFE_ESTIMATOR_NAMES)}.")


def _check_params(path, cls, raw, custom_objects):
    own = set(cls._get_param_names())
    params = {}
    for name, value in raw.items():
        prefix = name.split("__", 1)[0] if "__" in name else None
        if prefix is None and name not in own:
            raise ModelFileError(f"{path!s}: params has {name!r}, which is not a parameter of "
                                 f"{cls.__name__}.")
        if prefix is not None and (prefix not in ROUTED_PREFIXES or prefix not in
                                   FILE_PREFIXES):
            raise ModelFileError(f"{path!s}: params has {name!r}; a model file may route "
                                 f"parameters only to {list(FILE_PREFIXES)}.")
        if prefix in ("iterator_train", "iterator_valid") and (
                name.split("__", 1)[1] not in ITERATOR_KEYS or not isinstance(
                    value, (bool, int, float)) or isinstance(value, float) and not
                math.isfinite(value)):
            raise ModelFileError(f"{path!s}: params has {name}={value!r}; expected one of "
                                 f"{sorted(ITERATOR_KEYS)} with a number.")
        try:
            params[name] = decode(value, custom_objects, where=f"params[{name!r}]")
        except UnsafeNameError as exc:
            raise ModelFileError(f"{path!s}: {exc}") from None
        except (ValueError, TypeError, RecursionError) as exc:
            raise ModelFileError(f"{path!s}: {exc}") from None
    for name, cap in cls._param_caps.items():  # the parameter records' ``cap``
        key_value = [(k, v) for k, v in params.items() if k == name or k == f"module__{name}"]
        for key, value in key_value:
            if isinstance(value, Integral) and not isinstance(value, bool) and value > cap:
                raise ModelFileError(f"{path!s}: params[{key!r}]={value} is over the cap of "
                                     f"{cap} for model files.")
    threads = params.get("n_threads")
    if threads is not None and isinstance(threads, Integral) and threads > MAX_THREADS:
        raise ModelFileError(f"{path!s}: params['n_threads']={threads} is over the cap of "
                             f"{MAX_THREADS}; edit the file or refit.")
    for key in ("iterator_train__num_workers", "iterator_valid__num_workers"):
        if isinstance(params.get(key), int) and params[key] > (os.cpu_count() or 1) * 4:
            raise ModelFileError(f"{path!s}: params[{key!r}]={params[key]} is over the cap "
                                 f"of {(os.cpu_count() or 1) * 4}.")
    return params


def _check_fitted(path, fitted):
    n_features = check_int(path, "fitted.n_features_in", fitted.get("n_features_in"), 0,
                            10**6)
    encoding = fitted.get("clinical_encoding")
    if encoding is not None:
        try:
            TableEncoder.check_state(encoding, n_features)
        except ValueError as exc:
            raise ModelFileError(f"{path!s}: fitted.{exc}") from None
    names = fitted.get("feature_names_in")
    if names is not None and (not isinstance(names, list) or len(names) != n_features
                              or not all(isinstance(n, str) for n in names)
                              or len(set(names)) != len(names)):
        raise ModelFileError(f"{path!s}: fitted.feature_names_in must be null or "
                             f"{n_features} distinct strings.")
    shape = fitted.get("image_shape")
    channels = fitted.get("channel_names_in")
    if channels is not None and (
            not isinstance(channels, list) or not isinstance(shape, list) or not shape
            or len(channels) != shape[0] or len(set(channels)) != len(channels)
            or not all(isinstance(n, str) and n.strip() for n in channels)):
        raise ModelFileError(f"{path!s}: fitted.channel_names_in must be null or one "
                             "distinct name per image channel.")
    if not isinstance(shape, list) or len(shape) not in (3, 4):
        raise ModelFileError(f"{path!s}: fitted.image_shape must be [C, H, W] or "
                             "[C, D, H, W].")
    check_int(path, "fitted.image_shape[0]", shape[0], 1, 4096)
    for axis in shape[1:]:
        check_int(path, "fitted.image_shape", axis, 1, 2**20)
    if fitted.get("slices", "channels") not in ("channels", "mean", "attention"):
        raise ModelFileError(f"{path!s}: fitted.slices must be 'channels', 'mean' or "
                             "'attention'.")
    if not isinstance(fitted.get("localization", False), bool):
        raise ModelFileError(f"{path!s}: fitted.localization must be true or false.")
    check_int(path, "fitted.seed", fitted.get("seed", 0), 0, 2**63 - 1)
    check_int(path, "fitted.n_epochs_", fitted.get("n_epochs_", 0), 0, 10**6)
    if not isinstance(fitted.get("extra", {}), dict):
        raise ModelFileError(f"{path!s}: fitted.extra must be an object.")
    shuffle = fitted.get("shuffle_state")
    if shuffle is not None:
        if not (isinstance(shuffle, list) and len(shuffle) == 5 and shuffle[0] == "MT19937"
                and isinstance(shuffle[1], list) and len(shuffle[1]) == 624
                and all(isinstance(k, int) and not isinstance(k, bool) and 0 <= k < 2**32
                        for k in shuffle[1])):
            raise ModelFileError(f"{path!s}: fitted.shuffle_state is not a random state.")
        check_int(path, "fitted.shuffle_state position", shuffle[2], 0, 624)
        check_int(path, "fitted.shuffle_state has_gauss", shuffle[3], 0, 1)
        if not isinstance(shuffle[4], (int, float)) or isinstance(shuffle[4], bool):
            raise ModelFileError(f"{path!s}: fitted.shuffle_state gauss must be a number.")
    generator = fitted.get("generator_state")
    if generator is not None and not (
            isinstance(generator, list) and len(generator) <= 10**5 and all(
                isinstance(b, int) and not isinstance(b, bool) and 0 <= b < 256
                for b in generator)):
        raise ModelFileError(f"{path!s}: fitted.generator_state is not a generator state.")


def _read_pretrained(path, marker, members, fitted):
    """The pretrained image weights a file keeps (``image_weights.pt``), checked against the
    hash its parameters and fitted state name; None when it keeps none."""
    from .weights import PretrainedWeights

    if marker is None:
        if "image_weights.pt" in members:
            raise ModelFileError(f"{path!s}: holds image_weights.pt but its params name no "
                                 "image_weights.")
        return None
    if not (isinstance(marker, dict) and set(marker) == {"__pretrained__"}
            and isinstance(marker["__pretrained__"], str)):
        raise ModelFileError(f"{path!s}: params['image_weights'] must be null or "
                             '{"__pretrained__": <sha256>}.')
    if "image_weights.pt" not in members:
        raise ModelFileError(f"{path!s}: params name pretrained image weights, but the file "
                             "holds no image_weights.pt.")
    state = _load_tensors(path, "image_weights.pt", members["image_weights.pt"])
    if not isinstance(state, dict) or not state or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise ModelFileError(f"{path!s}: image_weights.pt must map names to tensors.")
    source = fitted.get("pretrained_source", "")
    weights = PretrainedWeights(state, source=source if isinstance(source, str) else "")
    recorded = (fitted.get("image_weights") or {}).get("sha256") if isinstance(
        fitted.get("image_weights"), dict) else None
    if weights.sha256 != marker["__pretrained__"] or recorded != weights.sha256:
        raise ModelFileError(f"{path!s}: image_weights.pt does not match the hash its "
                             "params and fitted state record; the file is damaged or was "
                             "edited.")
    return weights


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
        optimizer or loss), keyed by ``"module:qualname"``; nothing is imported.

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
    members = _read_members(path)
    try:
        meta = json.loads(members["meta.json"].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ModelFileError(f"{path!s}: meta.json is not valid JSON ({exc}).") from None
    _check_meta(path, meta)
    cls = ESTIMATORS[meta["estimator"]]
    raw_params = dict(meta["params"])
    pretrained = _read_pretrained(path, raw_params.pop("image_weights", None), members,
                                  meta["fitted"])
    params = _check_params(path, cls, raw_params, custom_objects)
    if "image_weights" in meta["params"]:
        params["image_weights"] = pretrained
    fitted = meta["fitted"]
    _check_fitted(path, fitted)
    cls._target_encoder.check_state(path, fitted)
    params["device"] = device
    state = _load_tensors(path, "weights.pt", members["weights.pt"])
    if not isinstance(state, dict) or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
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
        raise ModelFileError(f"{path!s}: cannot be restored ({type(exc).__name__}: "
                             f"{first[:300]}).") from None
