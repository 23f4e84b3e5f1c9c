"""Estimator parameters as data: one :class:`Param` record per name, the keyword-only
``__init__`` built from the records, and the parameters routed to the skorch net by prefix
(``optimizer__weight_decay``...).

Every estimator declares its parameters as ``_params = {name: Param(...)}`` (the core's
shared ones, its task layer's, its fusion family's). A record holds everything about one
parameter: its default, its scikit-learn constraints, its documentation, whether it is
forwarded to the torch module, its part of the tuning space and its cap in model files.
:func:`declared` merges the records along a class's MRO (the family's first, then the
task's, then the shared ones) and every view is generated from them: the ``__init__`` (by
:func:`make_init`: it only stores its arguments and its signature lists them, so
scikit-learn's ``get_params`` / ``clone`` and ``help()`` see ordinary keyword parameters),
``_parameter_constraints``, the module's arguments, the search space, the load-time caps and
the docstring's Parameters section, so a default cannot differ between the signature and the
documentation.
"""

import builtins
import difflib
import inspect

__all__ = [
    "Param",
    "Params",
    "declared",
    "ROUTED_PREFIXES",
    "make_init",
    "routed_params",
    "check_routed_params",
    "split_routed",
]

#: Prefixes of parameters passed through to the skorch net, as in skorch.
ROUTED_PREFIXES = (
    "module",
    "criterion",
    "optimizer",
    "iterator_train",
    "iterator_valid",
    "callbacks",
)


_SAME = object()  # Param(before=...) not given: the default


class Param:
    """One estimator parameter: everything the package says about it, in one place.

    Parameters
    ----------
    default : object
        The default value.
    constraints : list
        scikit-learn parameter constraints (``Interval``, ``StrOptions``, ``"boolean"``...).
    doc : str
        The description (one paragraph, unindented lines joined by spaces or newlines).
    type : str, optional
        The numpydoc type text (``'{"full", "concat"}'``, ``"int or None"``); inferred for
        ``int``, ``float`` and ``bool`` defaults.
    module : bool, default=False
        Whether the value is passed to the torch module as ``module__<name>`` (lists become
        tuples).
    search : tuple, optional
        The parameter's default tuning space, ``(kind, *arguments)`` (see
        :func:`skfusion.tuning.search_space`).
    cap : int, optional
        The largest value a model file may hold (values that size what ``load`` builds).
    default_doc : str, optional
        How the default is written in the docstring when ``repr`` does not say it well
        (a class: ``"torch.optim.Adam"``).
    before : object, optional
        The value that reproduces a model saved or pickled before the parameter existed
        (where that differs from ``default``): a model file or pickle that lacks the
        parameter gets this value, so it loads and predicts as it did.
    """

    __slots__ = (
        "default",
        "constraints",
        "doc",
        "type",
        "module",
        "search",
        "cap",
        "default_doc",
        "before",
    )

    def __init__(
        self,
        default,
        constraints,
        doc,
        type=None,
        *,
        module=False,
        search=None,
        cap=None,
        default_doc=None,
        before=_SAME,
    ):
        if type is None:
            inferred = {bool: "bool", int: "int", float: "float"}.get(builtins.type(default))
            if inferred is None:
                raise TypeError(f"Param(default={default!r}) needs its type text (type=...)")
            type = inferred
        self.default, self.constraints, self.doc, self.type = default, constraints, doc, type
        self.module, self.search, self.cap, self.default_doc = module, search, cap, default_doc
        self.before = default if before is _SAME else before

    def with_default(self, default):
        """The same record with another default (an estimator whose default differs)."""
        return Param(
            default,
            self.constraints,
            self.doc,
            self.type,
            module=self.module,
            search=self.search,
            cap=self.cap,
            before=self.before,
        )

    def doc_entry(self, name):
        """The numpydoc entry, indented as inside a class docstring."""
        if self.default_doc is not None:
            default = self.default_doc
        elif isinstance(self.default, str):
            default = f'"{self.default}"'
        elif isinstance(self.default, float) and 0 < abs(self.default) < 1e-3:
            mantissa, exponent = f"{self.default:e}".split("e")  # 1e-4, not 0.0001
            default = f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"
        else:
            default = repr(self.default)
        body = "\n".join(f"        {line}" for line in self.doc.strip().splitlines())
        return f"    {name} : {self.type}, default={default}\n{body}"


class Params:
    """The merged records of a class (see :func:`declared`) and the views made from them."""

    def __init__(self, records):
        self.records = records

    @property
    def defaults(self):
        return {name: record.default for name, record in self.records.items()}

    @property
    def before(self):
        """What a model saved or pickled without a parameter behaves as, where that is not
        the default (see ``Param``)."""
        return {
            name: record.before
            for name, record in self.records.items()
            if record.before is not record.default
        }

    @property
    def constraints(self):
        return {name: record.constraints for name, record in self.records.items()}

    @property
    def module_names(self):
        return tuple(name for name, record in self.records.items() if record.module)

    @property
    def search_space(self):
        return {
            name: record.search
            for name, record in self.records.items()
            if record.search is not None
        }

    @property
    def caps(self):
        return {name: record.cap for name, record in self.records.items() if record.cap is not None}

    def doc(self):
        """The Parameters entries, in declaration order (family, task, shared)."""
        return "\n".join(record.doc_entry(name) for name, record in self.records.items())


def declared(cls):
    """The parameter records of ``cls``: ``_params`` merged along the MRO (a subclass's
    record of a name wins), with ``_param_defaults`` (name -> default, for an estimator
    whose default differs from the shared one) applied."""
    records, overrides = {}, {}
    for klass in cls.__mro__:
        for name, record in vars(klass).get("_params", {}).items():
            records.setdefault(name, record)
        for name, value in vars(klass).get("_param_defaults", {}).items():
            overrides.setdefault(name, value)
    for name, value in overrides.items():
        if name not in records:
            raise TypeError(
                f"{cls.__name__}._param_defaults names {name!r}, which no record declares"
            )
        records[name] = records[name].with_default(value)
    return Params(records)


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
                    key, list(names) + [f"{p}__" for p in ROUTED_PREFIXES], n=1
                )
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise TypeError(
                    f"{owner}.__init__() got an unexpected keyword argument {key!r}.{hint} "
                    "Parameters of the skorch net are passed with a prefix, e.g. "
                    "optimizer__weight_decay=1e-4 or module__norm_layer=..."
                )
            setattr(self, key, value)

    parameters = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    parameters += [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=value)
        for name, value in defaults.items()
    ]
    parameters.append(inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD))
    __init__.__signature__ = inspect.Signature(parameters)
    __init__.__qualname__ = f"{owner}.__init__"
    __init__.__doc__ = f"Store the parameters of {owner} (see the class docstring)."
    return __init__


def routed_params(estimator):
    """The routed parameters an estimator holds, e.g. ``{"optimizer__weight_decay": 1e-4}``."""
    return {
        key: value
        for key, value in vars(estimator).items()
        if "__" in key and not key.startswith("_") and not key.endswith("_")
    }


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
                f"{[p + '__' for p in ROUTED_PREFIXES]}.{hint}"
            )
        module = getattr(estimator, "_module_class", None)
        if prefix == "module" and module is not None and "__" not in rest:
            taken = inspect.signature(module.__init__).parameters
            if rest not in taken and not any(
                p.kind is inspect.Parameter.VAR_KEYWORD for p in taken.values()
            ):
                names = [n for n in taken if n != "self"]
                close = difflib.get_close_matches(rest, names, n=1)
                hint = f" Did you mean 'module__{close[0]}'?" if close else ""
                raise ValueError(
                    f"{type(estimator).__name__} got the parameter {key!r}, but its network "
                    f"{module.__name__} takes no {rest!r}; it takes {names}.{hint}"
                )
