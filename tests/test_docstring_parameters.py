"""Every public estimator's and function's documented parameters match its signature, and
every documented default is the real one (as scikit-learn's test_docstring_parameters)."""

import ast
import importlib
import inspect
import math
import warnings

import pytest
from sklearn.base import BaseEstimator

numpydoc = pytest.importorskip("numpydoc.docscrape")

MODULES = [
    "skfusion",
    "skfusion.explain",
    "skfusion.metrics",
    "skfusion.datasets",
    "skfusion.evaluation",
    "skfusion.conformal",
    "skfusion.uncertainty",
    "skfusion.tuning",
    "skfusion.preprocessing",
    "skfusion.callbacks",
    "skfusion.distributed",
    "skfusion.nn",
]


def _public():
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                yield pytest.param(obj, id=f"{module_name}.{name}")


def _signature(obj):
    """Parameter names and defaults: an estimator's ``get_params``, else the signature."""
    if (
        inspect.isclass(obj)
        and issubclass(obj, BaseEstimator)
        and all(
            p.default is not p.empty or p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
            for name, p in inspect.signature(obj.__init__).parameters.items()
            if name != "self"
        )
    ):
        params = obj().get_params(deep=False)
        return list(params), params
    function = obj.__init__ if inspect.isclass(obj) else obj
    parameters = [
        p
        for p in inspect.signature(function).parameters.values()
        if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    return [p.name for p in parameters], {p.name: p.default for p in parameters}


def _same_default(text, value):
    """Whether the docstring's ``default=`` text names ``value``."""
    text = text.strip()
    if text in (repr(value), str(value), f'"{value}"', f"'{value}'"):
        return True
    if inspect.isclass(value) or callable(value):
        return text.endswith(getattr(value, "__name__", "\0"))
    if isinstance(value, float) and math.isnan(value):
        return text in ("np.nan", "nan", "numpy.nan")
    try:
        literal = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return False
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return isinstance(literal, (int, float)) and math.isclose(literal, value)
    return literal == value


@pytest.mark.parametrize("obj", list(_public()))
def test_documented_parameters_and_defaults_match_the_signature(obj):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numpydoc's notes on unknown sections
        documented = numpydoc.NumpyDocString(inspect.cleandoc(obj.__doc__ or ""))["Parameters"]
    names, defaults = _signature(obj)
    listed = [n.strip() for entry in documented for n in entry.name.split(",")]
    assert [n for n in names if n not in listed] == [], "undocumented parameters"
    assert [n for n in listed if n not in names and not n.startswith("*")] == [], (
        "documented parameters the signature does not have"
    )
    for entry in documented:
        if "default=" not in entry.type or "," in entry.name:
            continue
        text = entry.type.split("default=", 1)[1]
        assert _same_default(text, defaults[entry.name]), (
            f"{entry.name}: documented default {text!r}, actual {defaults[entry.name]!r}"
        )
