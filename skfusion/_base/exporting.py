"""``export``: a fitted estimator's network as an ONNX or TorchScript file for an inference
service, with a signature that says which inputs it takes and what it returns."""

import os

from sklearn.utils.validation import check_is_fitted

from .._net.export_graph import FORMATS, export_network
from .persistence import atomic_write
from .text import _WORD, PAD, UNK
from .._version import __version__

__all__ = ["ExportMixin"]


def _clinical_plan(encoder):
    """The numeric encoding as arrays the graph applies, or None where it is not plain
    arithmetic (categorical columns need strings, which the graph does not take)."""
    if encoder is None or not encoder.columns_ or any(k != "numeric" for k in encoder.kinds_):
        return None
    return {key: [s[key] for s in encoder.stats_]
            for key in ("median", "mean", "scale", "indicator")}


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
        raise ValueError(f"path={path!r} contains a NUL character, which no file name can "
                         "hold; pass a plain file path.")
    if os.path.isdir(path):
        raise IsADirectoryError(f"path={path!r} is a folder; pass a file path inside it, "
                                "e.g. os.path.join(path, 'model.onnx').")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"path={path!r}: the folder {folder} does not exist.")
    if not os.access(folder, os.W_OK):
        raise PermissionError(f"path={path!r}: the folder {folder} is not writable (a "
                              "read-only file system or folder); choose another folder.")
    return path


class ExportMixin:
    """``export`` for :class:`skfusion._base.estimator.BaseFusionEstimator`; the task layer supplies
    ``_export_head`` (the output transform as data)."""

    def export(self, path, *, format="onnx"):
        """Write the fitted network to ``path`` for inference outside Python.

        The file computes what ``predict_proba`` (classifiers), ``predict`` (regressors) or
        the risk score (survival models) compute, from arrays: the images as the network reads
        them and, for models that read clinical values, the clinical row. Numeric clinical
        columns go in raw, in ``feature_names_in_`` order, with the estimator's own median
        imputation (NaN allowed), standardisation and missing-value indicators inside the
        graph; a table with categorical columns goes in encoded instead
        (``estimator.clinical_encoder_.transform(table)``; the signature holds the encoding).

        Parameters
        ----------
        path : str or path-like
            File to write (``.onnx`` or ``.pt`` by convention).
        format : {"onnx", "torchscript"}, default="onnx"
            ONNX needs ``pip install "skfusion[export]"`` (onnx, onnxscript); run it with
            onnxruntime. TorchScript files load with ``torch.jit.load`` in Python or C++
            (LibTorch).

        Returns
        -------
        signature : dict
            JSON values, also stored in the file (ONNX metadata ``skfusion_signature``;
            TorchScript extra file ``skfusion_signature.json``): the inputs (name, dtype,
            shape with ``"n_samples"`` for the batch axis), the clinical columns and whether
            their encoding is in the graph, the output and its meaning (classes for
            classifiers), and for report models the vocabulary and tokenizer.
        """
        check_is_fitted(self)
        if format not in FORMATS:
            raise ValueError(f"format must be one of {list(FORMATS)}; got {format!r}.")
        path = _check_export_path(path)
        encoder = getattr(self, "clinical_encoder_", None)
        plan = _clinical_plan(encoder)
        uses_clinical = self._uses_clinical() and self.n_features_in_ > 0
        head = self._export_head()
        n_encoded = encoder.n_outputs_ if encoder is not None else self.n_features_in_
        inputs = [{"name": "images", "dtype": "float32",
                   "shape": ["n_samples", *map(int, self.image_shape_)],
                   "description": "images as the estimator reads them after its input "
                                  f"check (slices read as {self.slices_ or 'channels'!r})"}]
        clinical = None
        if uses_clinical:
            columns = [str(c) for c in (self.feature_names_in_ if self.feature_names_in_
                                        is not None else range(self.n_features_in_))]
            folded = plan is not None
            inputs.append({"name": "clinical", "dtype": "float32",
                           "shape": ["n_samples", len(columns) if folded else n_encoded]})
            clinical = {"encoding_in_graph": folded, "columns": columns,
                        "encoded_names": None if encoder is None else encoder.output_names_,
                        "encoding": None if encoder is None or folded else encoder.get_state()}
        tokens = None
        if "vocabulary_" in self._extra_fitted:
            tokens = {"length": int(self.report_length_), "pad": PAD, "unknown": UNK,
                      "vocabulary": dict(self.vocabulary_), "word_pattern": _WORD.pattern,
                      "rule": "lower-case the report, take the words matching word_pattern, "
                              "map them to ids (unknown words to 'unknown'), cut at length, "
                              "pad with 'pad'"}
            inputs.append({"name": "tokens", "dtype": "int64",
                           "shape": ["n_samples", int(self.report_length_)]})
        signature = {"skfusion_version": __version__, "estimator": type(self).__name__,
                     "format": format, "inputs": inputs, "clinical": clinical,
                     "tokens": tokens, "output": head["output"]}
        # The task network alone: a localisation head's masks are not exported.
        module = getattr(self.net_.module_, "inner", self.net_.module_)
        # Written to a temporary file beside ``path`` and renamed over it: a full disk or an
        # interrupted export leaves the old file whole, and a link is replaced, not followed.
        atomic_write(path, lambda stream: export_network(
            module, stream, format=format, image_shape=tuple(self.image_shape_),
            n_clinical=n_encoded, uses_clinical=uses_clinical,
            clinical_plan=plan if uses_clinical else None,
            tokens_length=None if tokens is None else tokens["length"],
            head={k: v for k, v in head.items() if k != "output"}, signature=signature))
        return signature
