"""Estimator parameters as data: the keyword-only ``__init__`` built from declared defaults,
and the parameters routed to the skorch net by prefix (``optimizer__weight_decay``...).

Every estimator declares its parameters in dicts of name -> default (the core's shared ones,
its task layer's and its fusion family's); :func:`make_init` turns them into an ``__init__``
that only stores its arguments and whose signature lists them, so scikit-learn's
``get_params`` / ``clone`` and ``help()`` see ordinary keyword parameters.
"""

import difflib
import inspect

__all__ = ["ROUTED_PREFIXES", "make_init", "routed_params", "check_routed_params",
           "split_routed"]

#: Prefixes of parameters passed through to the skorch net, as in skorch.
ROUTED_PREFIXES = (
    "module",
    "criterion",
    "optimizer",
    "iterator_train",
    "iterator_valid",
    "callbacks",
)


def make_init(defaults, owner):
    """An ``__init__(self, *, <defaults>, **kwargs)`` that stores every argument as given.

    ``kwargs`` may only hold routed parameters (names with ``__``); anything else is refused
    with the closest parameter name.
    """
    names = tuple(defaults)

    def __init__(self, **kwargs):
        for name in names:
            setattr(self, name, kwargs.pop(name, defaults[name]))
        for key, value in kwargs.items():
            if "__" not in key:
                close = difflib.get_close_matches(
                    key, list(names) + [f"{p}__" for p in ROUTED_PREFIXES], n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise TypeError(
                    f"{owner}.__init__() got an unexpected keyword argument {key!r}.{hint} "
                    "Parameters of the skorch net are passed with a prefix, e.g. "
                    "optimizer__weight_decay=1e-4 or module__norm_layer=...")
            setattr(self, key, value)

    parameters = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    parameters += [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=value)
                   for name, value in defaults.items()]
    parameters.append(inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD))
    __init__.__signature__ = inspect.Signature(parameters)
    __init__.__qualname__ = f"{owner}.__init__"
    __init__.__doc__ = f"Store the parameters of {owner} (see the class docstring)."
    return __init__


def routed_params(estimator):
    """The routed parameters an estimator holds, e.g. ``{"optimizer__weight_decay": 1e-4}``."""
    return {key: value for key, value in vars(estimator).items()
            if "__" in key and not key.startswith("_") and not key.endswith("_")}


def split_routed(params):
    """Split ``set_params`` arguments into (routed, own)."""
    routed, own = {}, {}
    for key, value in params.items():
        if "__" in key and key.split("__", 1)[0] in ROUTED_PREFIXES:
            routed[key] = value
        else:
            own[key] = value
    return routed, own


def check_routed_params(estimator):
    """Refuse routed parameters whose prefix the net does not know, naming the closest."""
    for key in routed_params(estimator):
        prefix, rest = key.split("__", 1)
        if prefix not in ROUTED_PREFIXES:
            close = difflib.get_close_matches(prefix, ROUTED_PREFIXES, n=1)
            hint = f" Did you mean {close[0] + '__' + rest!r}?" if close else ""
            raise ValueError(
                f"{type(estimator).__name__} got the parameter {key!r}, whose prefix "
                f"{prefix!r} is not routed to the net; expected one of "
                f"{[p + '__' for p in ROUTED_PREFIXES]}.{hint}")
