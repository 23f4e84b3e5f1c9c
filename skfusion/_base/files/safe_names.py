"""The one registry of names a model file may hold, and the JSON encoding of parameters.

A model file names classes and functions (an optimizer, a loss, a normalisation layer) as
``"module:qualname"`` strings. Loading resolves a name by *exact* lookup in
:data:`SAFE_OBJECTS`, the classes skfusion itself writes, or in the caller's
``custom_objects``; nothing is imported, and no attribute is followed. A new estimator
whose parameters name another class adds it here.
"""

import numpy as np
import torch
from torch import nn

__all__ = [
    "ESTIMATORS",
    "SAFE_ESTIMATOR_NAMES",
    "SAFE_OBJECTS",
    "SAFE_TENSOR_DTYPES",
    "decode",
    "encode",
    "name_of",
    "register_estimator",
]


def name_of(obj):
    """The ``"module:qualname"`` name of a class or function."""
    return f"{getattr(obj, '__module__', '')}:{getattr(obj, '__qualname__', '')}"


_OPTIMIZERS = (
    torch.optim.Adam,
    torch.optim.AdamW,
    torch.optim.SGD,
    torch.optim.RMSprop,
    torch.optim.Adagrad,
    torch.optim.Adadelta,
    torch.optim.Adamax,
    torch.optim.NAdam,
    torch.optim.RAdam,
)
_LOSSES = (
    nn.CrossEntropyLoss,
    nn.NLLLoss,
    nn.BCEWithLogitsLoss,
    nn.MSELoss,
    nn.L1Loss,
    nn.SmoothL1Loss,
    nn.HuberLoss,
)
_LAYERS = (
    nn.BatchNorm2d,
    nn.BatchNorm3d,
    nn.InstanceNorm2d,
    nn.InstanceNorm3d,
    nn.GroupNorm,
    nn.LayerNorm,
    nn.ReLU,
    nn.GELU,
    nn.SiLU,
    nn.LeakyReLU,
)

#: Every class or function a model file may name, keyed by its ``"module:qualname"``.
SAFE_OBJECTS = {name_of(obj): obj for obj in (*_OPTIMIZERS, *_LOSSES, *_LAYERS)}

#: The estimators a model file may name: one family per row, one class per task.
SAFE_ESTIMATOR_NAMES = (
    "ClinicalAttentionClassifier",
    "ClinicalAttentionRegressor",
    "ClinicalAttentionSurvival",
    "GatedFusionClassifier",
    "GatedFusionRegressor",
    "GatedFusionSurvival",
    "FeatureModulationClassifier",
    "FeatureModulationRegressor",
    "FeatureModulationSurvival",
    "ReportFusionClassifier",
    "ReportFusionRegressor",
    "ReportFusionSurvival",
    "ReportGenerator",
    "ImageClinicalPretrainer",
)

#: Name -> class of the estimators defined so far (filled as their modules are imported, by
#: :func:`register_estimator`); only names in :data:`SAFE_ESTIMATOR_NAMES` join.
ESTIMATORS = {}


def register_estimator(cls):
    """Make ``cls`` loadable from model files, if its name is in the safe list."""
    if cls.__name__ in SAFE_ESTIMATOR_NAMES and cls.__module__.startswith("skfusion."):
        ESTIMATORS[cls.__name__] = cls
    return cls


#: Tensor dtypes a model file may declare for a tensor parameter.
SAFE_TENSOR_DTYPES = {
    str(d): d
    for d in (
        torch.float16,
        torch.bfloat16,
        torch.float32,
        torch.float64,
        torch.int32,
        torch.int64,
        torch.bool,
    )
}


class UnsafeNameError(ValueError):
    """A model file names an object outside the registry and ``custom_objects``."""


def encode(name, value):
    """JSON form of a parameter value, or a TypeError naming the parameter."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, (list, tuple)) and all(
        v is None or isinstance(v, (bool, int, float, str)) for v in value
    ):
        return {"__tuple__" if isinstance(value, tuple) else "__list__": list(value)}
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"__dict__": {k: encode(f"{name}[{k!r}]", v) for k, v in value.items()}}
    if isinstance(value, torch.Tensor):
        return {"__tensor__": value.detach().cpu().tolist(), "dtype": str(value.dtype)}
    if isinstance(value, type) or callable(value) and hasattr(value, "__qualname__"):
        qualname = getattr(value, "__qualname__", "")
        if "<" not in qualname:  # lambdas and local functions cannot be named
            return {"__object__": name_of(value)}
    raise TypeError(
        f"parameter {name}={value!r} cannot be written to a safe model file (only numbers, "
        "strings, lists, dicts, tensors and importable classes or functions can). Set it to "
        "a plain value before fitting (random_state: an int), or use pickle for files you "
        "only share with yourself."
    )


def decode(value, custom_objects, *, where="params"):
    """The parameter value a JSON form stands for; raises ValueError for anything else."""
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if not isinstance(value, dict) or len(value) not in (1, 2):
        raise ValueError(
            f"{where}: expected a number, string, null or an encoded value; "
            f"got {type(value).__name__}"
        )
    if set(value) in ({"__tuple__"}, {"__list__"}):
        items = next(iter(value.values()))
        if not isinstance(items, list) or not all(
            v is None or isinstance(v, (bool, int, float, str)) for v in items
        ):
            raise ValueError(f"{where}: a list or tuple must hold plain values")
        return tuple(items) if "__tuple__" in value else list(items)
    if set(value) == {"__dict__"} and isinstance(value["__dict__"], dict):
        return {
            str(k): decode(v, custom_objects, where=f"{where}[{k!r}]")
            for k, v in value["__dict__"].items()
        }
    if set(value) == {"__tensor__", "dtype"}:
        dtype = SAFE_TENSOR_DTYPES.get(value["dtype"]) if isinstance(value["dtype"], str) else None
        if dtype is None:
            raise ValueError(
                f"{where}: tensor dtype {value['dtype']!r} is not one of "
                f"{sorted(SAFE_TENSOR_DTYPES)}"
            )
        try:
            return torch.tensor(value["__tensor__"], dtype=dtype)
        except (TypeError, ValueError, RuntimeError, OverflowError) as exc:
            raise ValueError(f"{where}: not a tensor ({exc})") from None
    if set(value) == {"__object__"}:
        name = value["__object__"]
        if not isinstance(name, str):
            raise ValueError(f"{where}: an object name must be a string")
        if name in custom_objects:
            return custom_objects[name]
        if name in SAFE_OBJECTS:
            return SAFE_OBJECTS[name]
        raise UnsafeNameError(
            f"{where} names {name!r}, which is not among the classes skfusion writes; "
            f"loading imports nothing. If you trust it, pass "
            f"custom_objects={{{name!r}: <the object>}}."
        )
    raise ValueError(f"{where}: unknown encoded value with keys {sorted(value)[:5]}")
