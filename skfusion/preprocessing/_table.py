"""The estimators' own clinical preprocessing (``clinical_preprocessing="auto"``): a hospital
table as it comes — text categories, missing values, columns in any unit — turned into the
numbers a network reads, learned in ``fit`` and kept as plain JSON values in model files.

Numeric columns: missing values are imputed with the training median and, for a column that
had missing values in training, a 0/1 indicator column is added (whether a value was measured
often carries information); then each column is standardised with the training mean and SD.
Categorical columns (text, pandas ``category`` or boolean dtype): one-hot encoded, with
"missing" as a category of its own when training had missing values; a category not seen in
training encodes as all zeros. Written here rather than with scikit-learn's ColumnTransformer
so that the fitted state is data (means, categories), never a pickled object.
"""

import numpy as np
import pandas as pd

__all__ = ["TableEncoder"]


class TableEncoder:
    """Encode a clinical table (DataFrame or 2-D array) into float32 network inputs."""

    def fit(self, table):
        frame = _as_frame(table)
        self.columns_ = [str(c) for c in frame.columns]
        self.kinds_, self.stats_ = [], []
        for name in frame.columns:
            column = frame[name]
            if _is_categorical(column):
                present = column.dropna()
                categories = sorted({str(v) for v in present})
                self.kinds_.append("categorical")
                self.stats_.append({"categories": categories, "missing": bool(column.isna().any())})
            else:
                values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64)
                finite = values[np.isfinite(values)]
                median = float(np.median(finite)) if len(finite) else 0.0
                filled = np.where(np.isfinite(values), values, median)
                scale = float(filled.std())
                self.kinds_.append("numeric")
                self.stats_.append(
                    {
                        "median": median,
                        "mean": float(filled.mean()),
                        "scale": scale if scale > 0 else 1.0,
                        "indicator": bool((~np.isfinite(values)).any()),
                    }
                )
        return self

    @property
    def n_outputs_(self):
        return len(self.output_names_)

    def _outputs(self):
        """(output name, input column) of every encoded column, in order."""
        outputs = []
        for name, kind, stats in zip(self.columns_, self.kinds_, self.stats_):
            if kind == "numeric":
                outputs.append((name, name))
                if stats["indicator"]:
                    outputs.append((f"{name}_missing", name))
            else:
                outputs += [(f"{name}={c}", name) for c in stats["categories"]]
                if stats["missing"]:
                    outputs.append((f"{name}=<missing>", name))
        return outputs

    @property
    def output_names_(self):
        return [name for name, _ in self._outputs()]

    @property
    def output_columns_(self):
        """The input column each output comes from (a missing-value indicator or a one-hot
        column belongs to its column)."""
        return [column for _, column in self._outputs()]

    def transform(self, table):
        """Float32 array (n_samples, n_outputs_). ``table`` has the fitted columns, in order."""
        frame = _as_frame(table, self.columns_)
        parts = []
        for name, kind, stats in zip(frame.columns, self.kinds_, self.stats_):
            column = frame[name]
            if kind == "numeric":
                values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64)
                if column.notna().any() and np.isnan(values[column.notna().to_numpy()]).any():
                    bad = column[column.notna() & np.isnan(values)].iloc[0]
                    raise ValueError(
                        f"X.clinical column {name!r} held numbers in fit but now has "
                        f"{bad!r}; pass numbers (or NaN for a missing value)."
                    )
                missing = ~np.isfinite(values)
                filled = np.where(missing, stats["median"], values)
                parts.append((filled - stats["mean"]) / stats["scale"])
                if stats["indicator"]:
                    parts.append(missing.astype(np.float64))
            else:
                text = column.map(lambda v: None if _is_missing(v) else str(v))
                for category in stats["categories"]:
                    parts.append((text == category).to_numpy(dtype=np.float64))
                if stats["missing"]:
                    parts.append(text.isna().to_numpy(dtype=np.float64))
        if not parts:
            return np.zeros((len(frame), 0), dtype=np.float32)
        values = np.column_stack(parts)
        with np.errstate(over="ignore"):
            values32 = values.astype(np.float32)
        if not np.isfinite(values32).all():
            raise ValueError(
                "X.clinical has values beyond the float32 range after "
                "standardisation; check the column units."
            )
        return np.ascontiguousarray(values32)

    def get_state(self):
        """The fitted state as plain JSON values."""
        return {
            "columns": list(self.columns_),
            "kinds": list(self.kinds_),
            "stats": [dict(s) for s in self.stats_],
        }

    @staticmethod
    def check_state(state, n_features):
        """Raise a ValueError unless ``state`` is a well-formed fitted state for
        ``n_features`` columns (model files are checked before anything is built)."""
        import math

        def number(value):
            return (
                isinstance(value, (int, float))
                and not isinstance(value, bool)
                and math.isfinite(value)
            )

        if not isinstance(state, dict) or set(state) != {"columns", "kinds", "stats"}:
            raise ValueError("clinical_encoding must hold columns, kinds and stats.")
        columns, kinds, stats = state["columns"], state["kinds"], state["stats"]
        if not (
            isinstance(columns, list)
            and isinstance(kinds, list)
            and isinstance(stats, list)
            and len(columns) == len(kinds) == len(stats) == n_features
        ):
            raise ValueError(f"clinical_encoding must describe {n_features} columns.")
        if not all(isinstance(c, str) for c in columns):
            raise ValueError("clinical_encoding columns must be strings.")
        total = 0
        for kind, stat in zip(kinds, stats):
            if kind == "numeric":
                if not (
                    isinstance(stat, dict)
                    and set(stat) == {"median", "mean", "scale", "indicator"}
                    and number(stat["median"])
                    and number(stat["mean"])
                    and number(stat["scale"])
                    and stat["scale"] > 0
                    and isinstance(stat["indicator"], bool)
                ):
                    raise ValueError("clinical_encoding has a malformed numeric column.")
                total += 1 + stat["indicator"]
            elif kind == "categorical":
                if not (
                    isinstance(stat, dict)
                    and set(stat) == {"categories", "missing"}
                    and isinstance(stat["categories"], list)
                    and all(isinstance(c, str) for c in stat["categories"])
                    and isinstance(stat["missing"], bool)
                ):
                    raise ValueError("clinical_encoding has a malformed categorical column.")
                total += len(stat["categories"]) + stat["missing"]
            else:
                raise ValueError(f"clinical_encoding has a column of kind {kind!r}.")
        if total > 10**6:
            raise ValueError(
                f"clinical_encoding encodes {total} values per sample; over the cap of 10**6."
            )

    @classmethod
    def from_state(cls, state):
        encoder = cls()
        encoder.columns_ = list(state["columns"])
        encoder.kinds_ = list(state["kinds"])
        encoder.stats_ = [dict(s) for s in state["stats"]]
        return encoder


def _is_missing(value):
    return (
        value is None
        or (isinstance(value, float) and np.isnan(value))
        or value is pd.NA
        or value is pd.NaT
    )


def _is_categorical(column):
    dtype = column.dtype
    if isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(dtype):
        return True
    if pd.api.types.is_numeric_dtype(dtype):
        return False
    present = column.dropna()
    converted = pd.to_numeric(present, errors="coerce")
    return bool(converted.isna().any())  # any text that is not a number


def _as_frame(table, columns=None):
    if isinstance(table, pd.DataFrame):
        frame = table.copy()
        frame.columns = [str(c) for c in frame.columns]
    else:
        array = np.asarray(table, dtype=object if np.asarray(table).dtype.kind in "OUS" else None)
        frame = pd.DataFrame(array, columns=[str(i) for i in range(array.shape[1])])
    if columns is not None:
        frame.columns = list(columns)
    return frame
