"""``export``: a fitted estimator's network as an ONNX or TorchScript file for an inference
service, with a signature that says which inputs it takes and what it returns."""

import os

from sklearn.utils.validation import check_is_fitted

from ..._net.export_graph import FORMATS, export_network
from ..._version import __version__
from ..files.atomic import atomic_write

__all__ = ["export"]


def _clinical_plan(encoder):
    """The numeric encoding as arrays the graph applies, or None where it is not plain
    arithmetic (categorical columns need strings, which the graph does not take)."""
    if encoder is None or not encoder.columns_ or any(k != "numeric" for k in encoder.kinds_):
        return None
    return {
        key: [s[key] for s in encoder.stats_] for key in ("median", "mean", "scale", "indicator")
    }


def _check_export_path(path):
    """``path`` as a string naming a file to write, or an error saying what is wrong."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a file path; got {type(path).__name__}.")
    path = os.fspath(path)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not path:
        raise ValueError("path='' names no file; pass a file path such as 'model.onnx'.")
    if "\0" in path:
        raise ValueError(
            f"path={path!r} contains a NUL character, which no file name can "
            "hold; pass a plain file path."
        )
    if os.path.isdir(path):
        raise IsADirectoryError(
            f"path={path!r} is a folder; pass a file path inside it, "
            "e.g. os.path.join(path, 'model.onnx')."
        )
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"path={path!r}: the folder {folder} does not exist.")
    if not os.access(folder, os.W_OK):
        raise PermissionError(
            f"path={path!r}: the folder {folder} is not writable (a "
            "read-only file system or folder); choose another folder."
        )
    return path


def export(estimator, path, *, format="onnx"):
    """What :meth:`BaseFusionEstimator.export` writes and returns (its docstring)."""
    check_is_fitted(estimator)
    if format not in FORMATS:
        raise ValueError(f"format must be one of {list(FORMATS)}; got {format!r}.")
    path = _check_export_path(path)
    encoder = getattr(estimator, "clinical_encoder_", None)
    plan = _clinical_plan(encoder)
    uses_clinical = estimator._uses_clinical() and estimator.n_features_in_ > 0
    head = estimator._export_head()
    n_encoded = encoder.n_outputs_ if encoder is not None else estimator.n_features_in_
    inputs = [
        {
            "name": "images",
            "dtype": "float32",
            "shape": ["n_samples", *map(int, estimator.image_shape_)],
            "description": "images as the estimator reads them after its input "
            f"check (slices read as {estimator.slices_ or 'channels'!r})",
        }
    ]
    clinical = None
    if uses_clinical:
        columns = [
            str(c)
            for c in (
                estimator.feature_names_in_
                if estimator.feature_names_in_ is not None
                else range(estimator.n_features_in_)
            )
        ]
        folded = plan is not None
        inputs.append(
            {
                "name": "clinical",
                "dtype": "float32",
                "shape": ["n_samples", len(columns) if folded else n_encoded],
            }
        )
        clinical = {
            "encoding_in_graph": folded,
            "columns": columns,
            "encoded_names": None if encoder is None else encoder.output_names_,
            "encoding": None if encoder is None or folded else encoder.get_state(),
        }
    tokens = None
    extras = estimator._extra_inputs
    extra = None if extras is None else extras(estimator).export_input()
    if extra is not None:
        graph_input, tokens = extra
        inputs.append(graph_input)
    # The presence masks: which patients have an image (a report); the network's learned
    # stand-in takes the place of a missing one. Absent from models built before stand-ins.
    module = getattr(estimator.net_.module_, "inner", estimator.net_.module_)
    held = {name.rpartition(".")[2] for name, _ in module.named_modules()}
    presence = [
        mask
        for mask, stand_in in (("image_present", "missing_image"), ("text_present", "missing_text"))
        if stand_in in held and (mask == "image_present" or tokens is not None)
    ]
    for mask in presence:
        inputs.append(
            {
                "name": mask,
                "dtype": "bool",
                "shape": ["n_samples"],
                "description": "True where the patient has an "
                + ("image" if mask == "image_present" else "report")
                + "; False: predicted without it (what its slot holds is not read)",
            }
        )
    signature = {
        "skfusion_version": __version__,
        "estimator": type(estimator).__name__,
        "format": format,
        "inputs": inputs,
        "clinical": clinical,
        "tokens": tokens,
        "output": head["output"],
    }
    # The task network alone (above): a localisation head's masks are not exported.
    # Written to a temporary file beside ``path`` and renamed over it: a full disk or an
    # interrupted export leaves the old file whole, and a link is replaced, not followed.
    atomic_write(
        path,
        lambda stream: export_network(
            module,
            stream,
            format=format,
            image_shape=tuple(estimator.image_shape_),
            n_clinical=n_encoded,
            uses_clinical=uses_clinical,
            clinical_plan=plan if uses_clinical else None,
            tokens_length=None if tokens is None else tokens["length"],
            presence=presence,
            head={k: v for k, v in head.items() if k != "output"},
            signature=signature,
        ),
    )
    return signature
