"""Model files that are safe to share: JSON for everything but the weights, and weights read
with ``torch.load(weights_only=True)``, so loading a file never runs code from it."""

import importlib
import io
import json
import zipfile

import numpy as np
import torch

__all__ = ["FORMAT_VERSION", "load", "write_model_file"]

FORMAT = "skfusion-model"
FORMAT_VERSION = 1
#: Modules whose classes and functions a model file may name (optimizer, criterion...).
_TRUSTED_MODULES = ("torch.", "skfusion.", "skorch.")


def _encode(name, value):
    """JSON form of a parameter value, or a TypeError naming the parameter."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, (list, tuple)) and all(
            v is None or isinstance(v, (bool, int, float, str)) for v in value):
        return {"__tuple__" if isinstance(value, tuple) else "__list__": list(value)}
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"__dict__": {k: _encode(f"{name}[{k!r}]", v) for k, v in value.items()}}
    if isinstance(value, torch.Tensor):
        return {"__tensor__": value.detach().cpu().tolist(), "dtype": str(value.dtype)}
    if isinstance(value, type) or callable(value) and hasattr(value, "__qualname__"):
        module = getattr(value, "__module__", "") or ""
        qualname = getattr(value, "__qualname__", "")
        if "<" not in qualname:  # lambdas and local functions cannot be named
            return {"__object__": f"{module}:{qualname}"}
    raise TypeError(
        f"parameter {name}={value!r} cannot be written to a safe model file (only numbers, "
        "strings, lists, dicts, tensors and importable classes or functions can). Set it to "
        "a plain value before fitting, or use pickle for files you only share with yourself."
    )


def _decode(value, custom_objects):
    if isinstance(value, dict):
        if "__tuple__" in value:
            return tuple(value["__tuple__"])
        if "__list__" in value:
            return list(value["__list__"])
        if "__dict__" in value:
            return {k: _decode(v, custom_objects) for k, v in value["__dict__"].items()}
        if "__tensor__" in value:
            dtype = getattr(torch, value["dtype"].replace("torch.", ""))
            return torch.tensor(value["__tensor__"], dtype=dtype)
        if "__object__" in value:
            return _resolve(value["__object__"], custom_objects)
    return value


def _resolve(path, custom_objects):
    if path in custom_objects:
        return custom_objects[path]
    module, _, qualname = path.partition(":")
    if not (module + ".").startswith(_TRUSTED_MODULES):
        raise ValueError(
            f"the model file names {path!r}, which is outside torch, skorch and skfusion; "
            f"loading does not import it. If you trust it, pass "
            f"custom_objects={{{path!r}: <the object>}}."
        )
    target = importlib.import_module(module)
    for part in qualname.split("."):
        target = getattr(target, part)
    return target


def write_model_file(path, estimator, *, fitted, net):
    """Write ``estimator`` (its parameters), ``fitted`` (its fitted attributes as plain values),
    ``net``'s weights and optimizer state, and its shuffling state to ``path``, so that
    training resumes exactly where it stopped."""
    from . import __version__

    params = estimator.get_params(deep=False)
    params.pop("callbacks", None)  # training-time only
    encoded = {name: _encode(name, value) for name, value in params.items()}
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "skfusion_version": __version__,
        "torch_version": torch.__version__,
        "estimator": type(estimator).__name__,
        "params": encoded,
        "fitted": fitted,
    }
    rng = net.get_params().get("iterator_train__random_state")
    if isinstance(rng, np.random.RandomState):
        kind, keys, position, has_gauss, gauss = rng.get_state()
        meta["fitted"]["shuffle_state"] = [kind, keys.tolist(), int(position), int(has_gauss),
                                           float(gauss)]
    weights = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in net.module_.state_dict().items()}, weights)
    optimizer = io.BytesIO()
    torch.save(_to_cpu(net.optimizer_.state_dict()), optimizer)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("meta.json", json.dumps(meta, indent=2))
        archive.writestr("weights.pt", weights.getvalue())
        archive.writestr("optimizer.pt", optimizer.getvalue())


def _to_cpu(value):
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, dict):
        return {k: _to_cpu(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_cpu(v) for v in value)
    return value


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
        Objects the file names outside torch, skorch and skfusion (a custom optimizer or
        loss), keyed by ``"module:qualname"``; nothing else is imported.

    Returns
    -------
    estimator : fitted skfusion estimator
    """
    import skfusion

    custom_objects = custom_objects or {}
    try:
        archive = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, OSError) as exc:
        raise ValueError(f"{path!s} is not a skfusion model file ({exc}).") from None
    with archive:
        names = set(archive.namelist())
        if not {"meta.json", "weights.pt"} <= names:
            raise ValueError(f"{path!s} is not a skfusion model file (missing meta.json or "
                             "weights.pt).")
        meta = json.loads(archive.read("meta.json"))
        weights = archive.read("weights.pt")
        optimizer = archive.read("optimizer.pt") if "optimizer.pt" in names else None
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path!s} is not a skfusion model file (format {meta.get('format')!r}).")
    version = meta.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ValueError(
            f"{path!s} uses model file format {version!r}, written by skfusion "
            f"{meta.get('skfusion_version')}; this skfusion ({skfusion.__version__}) reads "
            f"format {FORMAT_VERSION} and older. Upgrade skfusion to load it."
        )
    cls = getattr(skfusion, meta["estimator"], None)
    if cls is None or not hasattr(cls, "_restore"):
        raise ValueError(f"{path!s} holds an unknown estimator {meta['estimator']!r}.")
    params = {name: _decode(value, custom_objects) for name, value in meta["params"].items()}
    params["device"] = device
    state = torch.load(io.BytesIO(weights), map_location="cpu", weights_only=True)
    optimizer_state = None if optimizer is None else torch.load(
        io.BytesIO(optimizer), map_location="cpu", weights_only=True)
    return cls._restore(params, meta["fitted"], state, optimizer_state, source=str(path))
