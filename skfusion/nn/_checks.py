"""Argument checks shared by the torch modules (pure Python, no sklearn)."""

import difflib


def check_option(name, value, options):
    """Return ``value`` if it is one of ``options``, else raise a ValueError that lists them.

    The message names the argument, what was received, the valid options and, when the
    value is a near miss, the option that was probably meant.
    """
    if value in options:
        return value
    message = f"{name}={value!r} is not supported; expected one of {sorted(options)}."
    if isinstance(value, str):
        close = difflib.get_close_matches(value, [str(o) for o in options], n=1)
        if close:
            message += f" Did you mean {close[0]!r}?"
    raise ValueError(message)


def check_positive_int(name, value, *, minimum=1):
    """Return ``value`` if it is an int >= ``minimum``, else raise with the argument's name."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}; got {value!r}.")
    return value
