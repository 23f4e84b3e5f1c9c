"""Checks of user input: images, clinical tables and labels, with errors that say how to fix them.

Every check returns new arrays and never modifies what it was given, so a failed call leaves
both the user's data and any fitted estimator untouched.
"""

import warnings

import numpy as np
import pandas as pd

__all__ = [
    "check_clinical",
    "check_continuous_targets",
    "check_images",
    "check_labels",
    "check_survival_target",
]


def check_images(images, *, argument="X.images", spatial_dims=2, present=None):
    """Return ``images`` as a C-contiguous float32 array of shape ``(n, C, H, W)`` (or
    ``(n, C, D, H, W)`` with ``spatial_dims=3``).

    Accepts ``(n, H, W)`` (one channel) and ``(n, C, H, W)``; with ``spatial_dims=3``,
    volumes ``(n, D, H, W)`` (one channel) and ``(n, C, D, H, W)``. Rejects other ranks,
    non-numeric dtypes, empty input and NaN/inf values with a message naming ``argument``.
    ``present`` (bool, one per sample): samples declared without an image may hold anything
    finite or not; their slots are returned as zeros, which the network does not read.
    """
    if images is None:
        raise ValueError(
            f"{argument} is None; pass an array of shape (n_samples, H, W) or (n_samples, C, H, W)."
        )
    if hasattr(images, "detach") and hasattr(images, "requires_grad"):
        images = images.detach().cpu()  # a torch tensor, maybe part of a graph
    try:
        array = np.asarray(images)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise ValueError(
            f"{argument} could not be read as an array ({exc}); pass a numeric array of shape "
            "(n_samples, H, W) or (n_samples, C, H, W)."
        ) from None
    if array.dtype.kind == "O":
        try:
            array = array.astype(np.float64)
        except (TypeError, ValueError):
            pass
    if array.dtype.kind == "c":
        raise ValueError(
            f"{argument} has complex values (dtype {array.dtype}); pass real images, e.g. "
            "np.abs(images) for magnitude images."
        )
    if array.dtype.kind not in "biuf":
        raise ValueError(
            f"{argument} must be numeric; got dtype {array.dtype}. Convert the images to a "
            "float array, e.g. np.asarray(images, dtype=np.float32)."
        )
    if spatial_dims == 3:
        if array.ndim == 4:
            array = array[:, None]
        elif array.ndim != 5:
            raise ValueError(
                f"{argument} must have shape (n_samples, D, H, W) or (n_samples, C, D, H, W) "
                f"with spatial_dims=3; got {array.ndim} dimension(s) with shape "
                f"{array.shape}. For 2-D slices use spatial_dims=2."
            )
    elif array.ndim == 3:
        array = array[:, None]
    elif array.ndim == 4 and array.shape[-1] in (3, 4) and array.shape[1] > 4:
        raise ValueError(
            f"{argument} has shape {array.shape}, which looks channels-last (n, H, W, "
            f"{array.shape[-1]}); skfusion expects channels first, (n, C, H, W). Pass "
            "np.moveaxis(images, -1, 1)."
        )
    elif array.ndim != 4:
        raise ValueError(
            f"{argument} must have shape (n_samples, H, W) or (n_samples, C, H, W); got "
            f"{array.ndim} dimension(s) with shape {array.shape}. For a single image use "
            "images[None]; for 3-D volumes (n, D, H, W) set spatial_dims=3."
        )
    if array.shape[0] == 0:
        raise ValueError(f"{argument} has 0 samples; at least one is required.")
    if min(array.shape[2:]) == 0:
        raise ValueError(f"{argument} has an empty spatial size {array.shape[2:]}.")
    with np.errstate(over="ignore"):
        array = np.ascontiguousarray(array, dtype=np.float32)
    if not array.flags.writeable:
        array = array.copy()  # torch needs writable memory; never write to the user's array
    if present is not None and not np.all(present):
        if np.shares_memory(array, images) if isinstance(images, np.ndarray) else False:
            array = array.copy()
        array[~np.asarray(present, dtype=bool)] = 0.0  # placeholders, never read
    finite = np.isfinite(array)
    if not finite.all():
        bad = np.flatnonzero(~finite.reshape(len(array), -1).all(axis=1))
        raise ValueError(
            f"{argument} contains NaN or infinite values (after conversion to float32) in "
            f"{bad.size} sample(s), first at position(s) {bad[:5].tolist()}. Replace them "
            "(e.g. np.nan_to_num), drop those samples, or, where a patient has no image, "
            "declare it missing (a None entry in a list of images, or FusionInput(..., "
            "present={'images': mask})); values beyond the float32 range overflow to "
            "infinity."
        )
    return array


def check_clinical(
    clinical,
    *,
    n_samples,
    fitted_columns=None,
    fitted_n_features=None,
    argument="X.clinical",
    raw=False,
):
    """Return ``(values, columns)``: clinical values as float32 ``(n, F)`` and column names.

    Parameters
    ----------
    clinical : DataFrame, array-like of shape (n, F), or None
        The clinical part of X. ``None`` gives an ``(n, 0)`` array.
    n_samples : int
        Expected number of rows.
    fitted_columns : ndarray of str or None
        Column names seen in fit; a DataFrame at predict time is reordered to them and must
        have exactly these columns.
    fitted_n_features : int or None
        Number of columns seen in fit (checked at predict time).

    raw : bool, default=False
        Return the table as given (a DataFrame with the fitted columns, or an array) for the
        estimators' own preprocessing, which encodes text categories and imputes missing
        values; shapes, names, complex and infinite values are still checked.

    Without ``raw``, non-numeric columns and missing values raise a ValueError naming the
    columns and the skfusion/sklearn transformer that fixes them.
    """
    if clinical is None:
        values = np.zeros((n_samples, 0), dtype=np.float32)
        columns = None
    elif isinstance(clinical, pd.DataFrame):
        frame = clinical
        columns = np.asarray([str(c) for c in frame.columns], dtype=object)
        if len(set(columns)) != len(columns):
            duplicated = sorted({c for c in columns if list(columns).count(c) > 1})
            raise ValueError(
                f"{argument} has duplicated column names {duplicated}; give every clinical "
                "column a distinct name (e.g. frame.columns = [...])."
            )
        complex_columns = [
            str(c) for c, dtype in frame.dtypes.items() if pd.api.types.is_complex_dtype(dtype)
        ]
        if complex_columns:
            raise ValueError(
                f"{argument} has complex-valued column(s) {complex_columns}; pass real values "
                "(e.g. split them into real and imaginary parts, or take np.abs)."
            )
        if fitted_columns is not None:
            frame, columns = _align_columns(frame, fitted_columns, argument)
        if raw:
            _check_raw_shape(frame.shape, n_samples, fitted_n_features, argument)
            numeric = frame.select_dtypes("number")
            if not numeric.empty and np.isinf(numeric.to_numpy(dtype=np.float64)).any():
                raise ValueError(f"{argument} has infinite values; replace or clip them.")
            if not all(isinstance(c, str) for c in frame.columns):
                columns = None
            return frame, columns
        objects = [c for c, dtype in frame.dtypes.items() if dtype == object]  # noqa: E721
        if objects:
            # Numbers stored as Python objects are numbers; text is not.
            converted = {c: pd.to_numeric(frame[c], errors="coerce") for c in objects}
            numeric = [c for c in objects if converted[c].notna().sum() == frame[c].notna().sum()]
            if numeric:
                frame = frame.copy()
                for column in numeric:
                    frame[column] = converted[column]
        non_numeric = [
            str(c)
            for c, dtype in frame.dtypes.items()
            if not (pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype))
        ]
        if non_numeric:
            raise ValueError(
                f"{argument} has non-numeric column(s) {non_numeric}. Encode them before the "
                "classifier, e.g. make_pipeline(ClinicalTransformer(make_column_transformer("
                f"(OneHotEncoder(handle_unknown='ignore'), {non_numeric}), "
                "remainder=StandardScaler())), ...)."
            )
        values = frame.to_numpy(dtype=np.float64, na_value=np.nan)
        if not all(isinstance(c, str) for c in frame.columns):
            columns = None
    else:
        columns = None
        try:
            values = np.asarray(clinical)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"{argument} could not be read as a 2-D array ({exc}); pass a DataFrame or a "
                "numeric array of shape (n_samples, n_features)."
            ) from None
        if values.ndim == 1:
            raise ValueError(
                f"{argument} must be 2-D (n_samples, n_features); got a 1-D array of shape "
                f"{values.shape}. Use clinical.reshape(-1, 1) for a single feature."
            )
        if values.ndim != 2:
            raise ValueError(
                f"{argument} must be 2-D (n_samples, n_features); got shape {values.shape}."
            )
        if values.dtype.kind == "c":
            raise ValueError(
                f"{argument} has complex values (dtype {values.dtype}); pass real values "
                "(e.g. split them into real and imaginary parts, or take np.abs)."
            )
        if raw:
            _check_raw_shape(values.shape, n_samples, fitted_n_features, argument)
            if values.dtype.kind in "biuf" and np.isinf(values.astype(np.float64)).any():
                raise ValueError(f"{argument} has infinite values; replace or clip them.")
            return values, None
        if values.dtype.kind not in "biuf":
            try:
                values = values.astype(np.float64)
            except (TypeError, ValueError):
                raise ValueError(
                    f"{argument} contains non-numeric values (dtype {values.dtype}). Encode "
                    "categorical columns before the classifier, e.g. "
                    "ClinicalTransformer(OneHotEncoder(handle_unknown='ignore')), or pass a "
                    "DataFrame and encode only its categorical columns with a "
                    "ColumnTransformer."
                ) from None
        if fitted_columns is not None:
            warnings.warn(
                f"{argument} has no column names, but the model was fitted on a DataFrame "
                "with names; its columns are taken in the fitted order.",
                UserWarning,
                stacklevel=4,
            )
    if values.shape[0] != n_samples:
        raise ValueError(
            f"{argument} has {values.shape[0]} rows but there are {n_samples} images; pass "
            "one clinical row per image."
        )
    if fitted_n_features is not None and values.shape[1] != fitted_n_features:
        raise ValueError(
            f"{argument} has {values.shape[1]} feature(s) but the model was fitted with "
            f"{fitted_n_features}; pass the same clinical columns as in fit."
        )
    values = values.astype(np.float64, copy=False)
    missing = np.isnan(values)
    if missing.any():
        counts = missing.sum(axis=0)
        names = columns if columns is not None else np.arange(values.shape[1])
        detail = {str(names[j]): int(counts[j]) for j in np.flatnonzero(counts)}
        raise ValueError(
            f"{argument} has missing values (column: count) {detail}. Impute them first, e.g. "
            "make_pipeline(ClinicalTransformer(SimpleImputer()), <classifier>)."
        )
    if np.isinf(values).any():
        cols = np.flatnonzero(np.isinf(values).any(axis=0))
        names = columns if columns is not None else np.arange(values.shape[1])
        raise ValueError(
            f"{argument} has infinite values in column(s) {[str(names[j]) for j in cols]}; "
            "replace or clip them."
        )
    with np.errstate(over="ignore"):
        values32 = values.astype(np.float32)
    if not np.isfinite(values32).all():
        raise ValueError(
            f"{argument} has values beyond the float32 range (|x| > 3.4e38); rescale them, "
            "e.g. ClinicalTransformer(StandardScaler())."
        )
    return np.ascontiguousarray(values32), columns


def _check_raw_shape(shape, n_samples, fitted_n_features, argument):
    if shape[0] != n_samples:
        raise ValueError(
            f"{argument} has {shape[0]} rows but there are {n_samples} images; "
            "pass one clinical row per image."
        )
    if fitted_n_features is not None and shape[1] != fitted_n_features:
        raise ValueError(
            f"{argument} has {shape[1]} feature(s) but the model was fitted with "
            f"{fitted_n_features}; pass the same clinical columns as in fit."
        )


def _align_columns(frame, fitted_columns, argument):
    names = [str(c) for c in frame.columns]
    if len(set(names)) != len(names):
        duplicated = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"{argument} has duplicated column names {duplicated}.")
    fitted = list(fitted_columns)
    missing = [c for c in fitted if c not in names]
    unexpected = [c for c in names if c not in fitted]
    if missing or unexpected:
        raise ValueError(
            f"{argument} columns differ from those seen in fit: missing {missing}, "
            f"unexpected {unexpected}. Pass the clinical columns the model was fitted on."
        )
    if names != fitted:
        frame = frame.set_axis(names, axis=1)[fitted]
    return frame, np.asarray(fitted, dtype=object)


def check_labels(y, *, n_samples, argument="y"):
    """Return ``y`` as a 1-D array of classification labels with one entry per sample."""
    from sklearn.utils.multiclass import check_classification_targets, type_of_target

    if y is None:
        raise ValueError(f"{argument} is None; a classifier needs one label per sample.")
    array = np.asarray(y)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array.ravel()
    if array.ndim != 1:
        raise ValueError(
            f"{argument} must be 1-D with one label per sample; got shape {array.shape}."
        )
    if len(array) != n_samples:
        raise ValueError(
            f"{argument} has {len(array)} labels but X has {n_samples} samples; pass one "
            "label per sample."
        )
    if array.dtype == object:
        kinds = {type(v).__name__ for v in array}
        if len(kinds) > 1 and not kinds <= {"int", "float"}:
            raise ValueError(
                f"{argument} mixes label types {sorted(kinds)}; use one type for all labels, "
                "e.g. y.astype(str)."
            )
        if any(v is None or (isinstance(v, float) and np.isnan(v)) for v in array):
            raise ValueError(f"{argument} has missing labels (None/NaN); drop those samples.")
    elif array.dtype.kind == "f" and not np.isfinite(array).all():
        raise ValueError(f"{argument} has NaN or infinite labels; drop those samples.")
    try:
        check_classification_targets(array)
    except ValueError:
        raise ValueError(
            f"{argument} looks continuous (type {type_of_target(array)!r}); a classifier "
            "needs class labels such as 0/1 or 'AD'/'NC'."
        ) from None
    return array


def check_continuous_targets(y, *, n_samples, argument="y"):
    """Return ``y`` as a float64 array of shape (n,) or (n, n_outputs) of finite values."""
    if y is None:
        raise ValueError(f"{argument} is None; a regressor needs one target value per sample.")
    if hasattr(y, "detach") and hasattr(y, "requires_grad"):
        y = y.detach().cpu()
    array = np.asarray(y)
    if array.dtype.names is not None:
        raise ValueError(
            f"{argument} is a structured array (fields {list(array.dtype.names)}); a regressor "
            "needs plain numbers. For (event, time) targets use a ...Survival estimator."
        )
    if array.dtype.kind in "bOUSc" or array.dtype.kind not in "iuf":
        try:
            array = array.astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError(
                f"{argument} must hold numbers; got dtype {array.dtype}. Class labels need a "
                "...Classifier."
            ) from None
    array = array.astype(np.float64)
    if array.ndim == 2 and array.shape[1] == 0 or array.ndim not in (1, 2):
        raise ValueError(
            f"{argument} must have shape (n_samples,) or (n_samples, n_outputs); got {array.shape}."
        )
    if len(array) != n_samples:
        raise ValueError(
            f"{argument} has {len(array)} values but X has {n_samples} samples; "
            "pass one target per sample."
        )
    if not np.isfinite(array).all():
        raise ValueError(
            f"{argument} has NaN or infinite values; drop those samples or impute the targets."
        )
    return array


def check_survival_target(y, *, n_samples, argument="y"):
    """Return ``(event, time)`` from a structured array with one boolean field (the event
    indicator) and one float field (the time), as scikit-survival's ``Surv.from_arrays``
    makes (or :func:`skfusion.survival_target`)."""
    array = np.asarray(y) if y is not None else None
    how = (
        "build it with skfusion.survival_target(event, time) (or scikit-survival's "
        "Surv.from_arrays)"
    )
    if array is None or array.dtype.names is None or len(array.dtype.names) != 2:
        raise ValueError(
            f"{argument} must be a structured array with a boolean event field and a float "
            f"time field; got {'None' if array is None else f'dtype {array.dtype}'}. {how}."
        )
    kinds = {name: array.dtype[name].kind for name in array.dtype.names}
    events = [n for n, k in kinds.items() if k == "b"]
    times = [n for n, k in kinds.items() if k in "fiu"]
    if len(events) != 1 or len(times) != 1:
        raise ValueError(
            f"{argument} has fields {kinds} (numpy kinds); expected one boolean "
            f"(event) and one numeric (time) field. {how}."
        )
    if array.ndim != 1 or len(array) != n_samples:
        raise ValueError(
            f"{argument} has shape {array.shape} but X has {n_samples} samples; "
            "pass one (event, time) pair per sample."
        )
    event = array[events[0]].astype(bool)
    time = array[times[0]].astype(np.float64)
    if not np.isfinite(time).all() or (time < 0).any():
        raise ValueError(
            f"{argument}[{times[0]!r}] must hold finite times >= 0; "
            f"{int((~np.isfinite(time) | (time < 0)).sum())} do not."
        )
    return event, time
