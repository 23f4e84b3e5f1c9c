"""The contract between a family and its torch module, checked where it can be: the keywords
the core passes are checked when the family's class is defined (a module that cannot take
them fails at import, naming them, not inside skorch at the first fit), and reading slice
stacks is checked before a fit builds its network."""

import inspect

from ...nn.head import FusionHead

__all__ = ["CORE_KEYWORDS", "check_module_keywords", "check_stackable"]

#: The keywords the core passes every family's module (``building.build_net``), besides the
#: family's own forwarded parameters (``Param(..., module=True)``).
CORE_KEYWORDS = ("n_outputs", "n_clinical", "in_channels", "spatial_dims", "clinical_shortcut")

#: What :class:`~skfusion.nn.slice_stack.SliceStackNet` calls on the module of every slice.
STACK_MEMBERS = ("forward_features", "forward_head", "output")


def check_module_keywords(family):
    """Refuse, with a TypeError naming them, a family whose ``_module_class`` does not take
    every keyword the core passes it (a module taking ``**kwargs`` takes them all)."""
    module = family._module_class
    if module is None:
        return
    try:
        parameters = inspect.signature(module).parameters
    except (TypeError, ValueError):  # a signature Python cannot read: nothing to check
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return
    missing = [
        name for name in (*CORE_KEYWORDS, *family._module_param_names) if name not in parameters
    ]
    if missing:
        raise TypeError(
            f"{family.__name__}: its module {module.__name__} does not take the keyword(s) "
            f"{missing} that the core passes every family's module (always "
            f"{list(CORE_KEYWORDS)}, and each of the family's Param(..., module=True)). Add "
            f"them to {module.__name__}.__init__; a module may ignore one it has no use for, "
            "e.g. clinical_shortcut=False without a `shortcut` submodule "
            '(docs/developers.md, "A new family from scratch").'
        )


def check_stackable(family, slices):
    """Refuse, with the fix, reading slice stacks (``slices`` "mean" or "attention") with a
    module that :class:`~skfusion.nn.slice_stack.SliceStackNet` cannot pool: one that is no
    :class:`~skfusion.nn.head.FusionHead` and lacks its members."""
    module = family._module_class
    if issubclass(module, FusionHead) or all(hasattr(module, m) for m in STACK_MEMBERS):
        return
    name = type(family).__name__ if not isinstance(family, type) else family.__name__
    raise ValueError(
        f"{name}(slices={slices!r}) reads each patient's slices through one 2-D network "
        f"and pools their features, which needs the module to be a skfusion.nn.FusionHead "
        f"({', '.join(STACK_MEMBERS)}, and `head` and `shortcut` submodules); "
        f'{module.__name__} is not. Pass slices="channels" (the slices as channels of one '
        f"image), or derive {module.__name__} from FusionHead."
    )
