"""The checks of a model file's contents (:mod:`.persistence` reads it): its format, its
parameters within each estimator's constraints and the caps below, and its fitted state.
Every failure is a :class:`ModelFileError` naming the file and the field."""

import math
import os
from numbers import Integral

from ...preprocessing._table import TableEncoder
from ..parameters.params import ROUTED_PREFIXES
from .safe_names import ESTIMATORS, SAFE_ESTIMATOR_NAMES, UnsafeNameError, decode

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "ModelFileError",
    "check_fitted",
    "check_int",
    "check_meta",
    "check_number_list",
    "check_params",
    "estimator_class",
]

FORMAT = "skfusion-model"
#: 2: the networks of skfusion 0.2 (the paper's RBCA block, the multi-head GMU with per-head
#: gates, DAFT after the first normalisation of the last block). Format 1 files hold
#: networks of a different architecture and are refused.
FORMAT_VERSION = 2
MAX_THREADS = max(64, os.cpu_count() or 1)
#: Routed parameters a file may carry: the prefixes (callbacks are never saved), and for
#: the iterators only these keys.
FILE_PREFIXES = ("module", "criterion", "optimizer", "iterator_train", "iterator_valid")
ITERATOR_KEYS = {
    "batch_size",
    "shuffle",
    "pin_memory",
    "num_workers",
    "persistent_workers",
    "prefetch_factor",
    "timeout",
}


class ModelFileError(ValueError):
    """A file that cannot be loaded as a skfusion model: damaged, edited, hostile, of an
    unsupported format, or naming objects outside the registry. The message names the file
    and what is wrong."""


def check_int(path, field, value, low, high):
    if isinstance(value, bool) or not isinstance(value, Integral) or not low <= value <= high:
        raise ModelFileError(
            f"{path!s}: {field} must be an integer in [{low}, {high}]; got {value!r}."
        )
    return int(value)


def check_number_list(path, field, value, *, length=None, max_length=10**7, positive=False):
    """A list of finite numbers (``length`` of them, if given), or a ModelFileError."""
    if (
        not isinstance(value, list)
        or not len(value) <= max_length
        or (length is not None and len(value) != length)
        or not all(
            isinstance(v, (int, float))
            and not isinstance(v, bool)
            and math.isfinite(v)
            and (not positive or v > 0)
            for v in value
        )
    ):
        raise ModelFileError(
            f"{path!s}: fitted.{field} must be a list of "
            f"{'' if length is None else f'{length} '}finite"
            f"{' positive' if positive else ''} numbers."
        )
    return value


def check_meta(path, meta, custom_objects=None):
    if not isinstance(meta, dict):
        raise ModelFileError(
            f"{path!s}: meta.json must hold a JSON object; got {type(meta).__name__}."
        )
    if meta.get("format") != FORMAT:
        raise ModelFileError(
            f"{path!s} is not a skfusion model file (format {meta.get('format')!r})."
        )
    version = meta.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ModelFileError(
            f"{path!s}: format_version must be a positive integer; got {version!r}."
        )
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path!s} uses model file format {version}, written by skfusion "
            f"{meta.get('skfusion_version')}; this skfusion reads format {FORMAT_VERSION}. "
            "Upgrade skfusion to load it."
        )
    if version < FORMAT_VERSION:
        raise ModelFileError(
            f"{path!s} uses model file format {version} (skfusion "
            f"{meta.get('skfusion_version')}), whose networks have another architecture "
            "(format 2 changed the RBCA block, the multi-head GMU and the DAFT placement); "
            "its weights cannot be loaded into today's networks. Refit the model, or load it "
            "with the skfusion that wrote it (pip install 'skfusion<0.2')."
        )
    for field, kind in (("params", dict), ("fitted", dict), ("estimator", str)):
        if not isinstance(meta.get(field), kind):
            raise ModelFileError(
                f"{path!s}: meta.json field {field!r} must be a "
                f"{kind.__name__}; got {type(meta.get(field)).__name__}."
            )
    estimator_class(path, meta, custom_objects)


def estimator_class(path, meta, custom_objects=None):
    """The class a checked ``meta.json`` names: one of skfusion's registered estimators, or
    a class the caller passed in ``custom_objects`` (a family of their own; the file names
    it, never imports it)."""
    name = meta["estimator"]
    if name in SAFE_ESTIMATOR_NAMES and name in ESTIMATORS:
        return ESTIMATORS[name]
    for value in (custom_objects or {}).values():
        if (
            isinstance(value, type)
            and value.__name__ == name
            and callable(getattr(value, "_restore", None))
        ):
            return value
    raise ModelFileError(
        f"{path!s} holds the estimator {name!r}, which is not one of skfusion's "
        f"({', '.join(SAFE_ESTIMATOR_NAMES)}). If it is a family of your own, pass its class: "
        f"skfusion.load(path, custom_objects={{{name!r}: {name}}}); nothing in the file is "
        "imported or run."
    )


def check_params(path, cls, raw, custom_objects):
    own = set(cls._get_param_names())
    params = {}
    for name, value in raw.items():
        prefix = name.split("__", 1)[0] if "__" in name else None
        if prefix is None and name not in own:
            raise ModelFileError(
                f"{path!s}: params has {name!r}, which is not a parameter of {cls.__name__}."
            )
        if prefix is not None and (prefix not in ROUTED_PREFIXES or prefix not in FILE_PREFIXES):
            raise ModelFileError(
                f"{path!s}: params has {name!r}; a model file may route "
                f"parameters only to {list(FILE_PREFIXES)}."
            )
        if prefix in ("iterator_train", "iterator_valid") and (
            name.split("__", 1)[1] not in ITERATOR_KEYS
            or not isinstance(value, (bool, int, float))
            or isinstance(value, float)
            and not math.isfinite(value)
        ):
            raise ModelFileError(
                f"{path!s}: params has {name}={value!r}; expected one of "
                f"{sorted(ITERATOR_KEYS)} with a number."
            )
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
                raise ModelFileError(
                    f"{path!s}: params[{key!r}]={value} is over the cap of {cap} for model files."
                )
    threads = params.get("n_threads")
    if threads is not None and isinstance(threads, Integral) and threads > MAX_THREADS:
        raise ModelFileError(
            f"{path!s}: params['n_threads']={threads} is over the cap of "
            f"{MAX_THREADS}; edit the file or refit."
        )
    for key in ("iterator_train__num_workers", "iterator_valid__num_workers"):
        if isinstance(params.get(key), int) and params[key] > (os.cpu_count() or 1) * 4:
            raise ModelFileError(
                f"{path!s}: params[{key!r}]={params[key]} is over the cap "
                f"of {(os.cpu_count() or 1) * 4}."
            )
    return params


def check_fitted(path, fitted):
    n_features = check_int(path, "fitted.n_features_in", fitted.get("n_features_in"), 0, 10**6)
    encoding = fitted.get("clinical_encoding")
    if encoding is not None:
        try:
            TableEncoder.check_state(encoding, n_features)
        except ValueError as exc:
            raise ModelFileError(f"{path!s}: fitted.{exc}") from None
    names = fitted.get("feature_names_in")
    if names is not None and (
        not isinstance(names, list)
        or len(names) != n_features
        or not all(isinstance(n, str) for n in names)
        or len(set(names)) != len(names)
    ):
        raise ModelFileError(
            f"{path!s}: fitted.feature_names_in must be null or {n_features} distinct strings."
        )
    shape = fitted.get("image_shape")
    channels = fitted.get("channel_names_in")
    if channels is not None and (
        not isinstance(channels, list)
        or not isinstance(shape, list)
        or not shape
        or len(channels) != shape[0]
        or len(set(channels)) != len(channels)
        or not all(isinstance(n, str) and n.strip() for n in channels)
    ):
        raise ModelFileError(
            f"{path!s}: fitted.channel_names_in must be null or one "
            "distinct name per image channel."
        )
    if not isinstance(shape, list) or len(shape) not in (3, 4):
        raise ModelFileError(f"{path!s}: fitted.image_shape must be [C, H, W] or [C, D, H, W].")
    check_int(path, "fitted.image_shape[0]", shape[0], 1, 4096)
    for axis in shape[1:]:
        check_int(path, "fitted.image_shape", axis, 1, 2**20)
    if fitted.get("slices", "channels") not in ("channels", "mean", "attention"):
        raise ModelFileError(f"{path!s}: fitted.slices must be 'channels', 'mean' or 'attention'.")
    if not isinstance(fitted.get("localization", False), bool):
        raise ModelFileError(f"{path!s}: fitted.localization must be true or false.")
    check_int(path, "fitted.seed", fitted.get("seed", 0), 0, 2**63 - 1)
    check_int(path, "fitted.n_epochs_", fitted.get("n_epochs_", 0), 0, 10**6)
    if not isinstance(fitted.get("extra", {}), dict):
        raise ModelFileError(f"{path!s}: fitted.extra must be an object.")
    shuffle = fitted.get("shuffle_state")
    if shuffle is not None:
        if not (
            isinstance(shuffle, list)
            and len(shuffle) == 5
            and shuffle[0] == "MT19937"
            and isinstance(shuffle[1], list)
            and len(shuffle[1]) == 624
            and all(
                isinstance(k, int) and not isinstance(k, bool) and 0 <= k < 2**32
                for k in shuffle[1]
            )
        ):
            raise ModelFileError(f"{path!s}: fitted.shuffle_state is not a random state.")
        check_int(path, "fitted.shuffle_state position", shuffle[2], 0, 624)
        check_int(path, "fitted.shuffle_state has_gauss", shuffle[3], 0, 1)
        if not isinstance(shuffle[4], (int, float)) or isinstance(shuffle[4], bool):
            raise ModelFileError(f"{path!s}: fitted.shuffle_state gauss must be a number.")
    generator = fitted.get("generator_state")
    if generator is not None and not (
        isinstance(generator, list)
        and len(generator) <= 10**5
        and all(isinstance(b, int) and not isinstance(b, bool) and 0 <= b < 256 for b in generator)
    ):
        raise ModelFileError(f"{path!s}: fitted.generator_state is not a generator state.")
