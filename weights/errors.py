"""Errors about weights: one line each, naming the file, the line and the tensor, and the expected vs found value.

Every error is a `WeightsError`, a `UserError` (a `ValueError`), so tools can print `str(error)` and exit without a traceback.
"""
import re

import numpy as np


class UserError(ValueError):
    """The project's one user-error base class: bad input from the user (a file, an argument, a model name). Tools
    print its message on one line and exit non-zero; anything else is a bug and shows its traceback. It lives here,
    in the lowest package, so that weights/ and netdefs/ raise the same class (netdefs.errors re-exports it)."""


class WeightsError(UserError):
    """A user-facing problem with weights or a checkpoint; the message is one line."""


class FormatError(WeightsError):
    """A `.wts` or safetensors file that is malformed (truncated, wrong counts, bad hex, duplicates ...)."""


class NonFiniteError(WeightsError):
    """A weight holds NaN or Inf."""


class CheckpointError(WeightsError):
    """A PyTorch checkpoint that cannot be read, or that holds no state_dict we can find."""


class UnsafePickleError(CheckpointError):
    """The checkpoint holds pickled Python objects; reading it would run code from the file."""


class ShapeMismatchError(WeightsError):
    """A weight's shape is not what the network definition needs."""


class MissingWeightsError(WeightsError):
    """The network definition needs weights that are not there. `names` lists them."""

    def __init__(self, message, names=()):
        super().__init__(message)
        self.names = list(names)


class UnusedWeightsError(WeightsError):
    """Weights that the network definition never used (with `strict`). `names` lists them."""

    def __init__(self, message, names=()):
        super().__init__(message)
        self.names = list(names)


class UnusedWeightsWarning(UserWarning):
    """Weights that the network definition never used (without `strict`)."""


# Anything echoed from a file (a name, a value, an exception's text) is cut to this many characters, and a whole
# message to MESSAGE_LIMIT: a 50 MB tensor name must not become a 50 MB error line.
ECHO_LIMIT = 100
MESSAGE_LIMIT = 2000


def clip(text, limit=ECHO_LIMIT):
    """`text` (any object, as str) cut to `limit` characters, with an ellipsis when cut."""
    text = text if isinstance(text, str) else str(text)
    return text if len(text) <= limit else text[:limit] + "..."


def located(message, path=None, line=None, tensor=None):
    """`path:line: tensor 'name': message`, leaving out what is unknown. Newlines are flattened: one line."""
    where = ""
    if path is not None:
        where = f"{path}:{line}: " if line is not None else f"{path}: "
    if tensor is not None:
        where += f"tensor {clip(repr(tensor))}: "
    return re.sub(r"\s*[\r\n]\s*", " ", where + clip(message, MESSAGE_LIMIT)).strip()


def short_list(names, limit=8):
    """'a, b, c' or 'a, b, ... and 12 more': error messages stay one readable line."""
    names = [clip(name) for name in names]
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown}, ... and {len(names) - limit} more"


def first_nonfinite(array):
    """Index (in C order) of the first NaN or Inf of a floating array, or None."""
    flat = np.asarray(array).reshape(-1)
    if flat.dtype.kind != "f":
        return None
    step = 1 << 20  # chunks: the boolean temporary stays small whatever the tensor's size
    for start in range(0, flat.size, step):
        finite = np.isfinite(flat[start:start + step])
        if not finite.all():
            return start + int(np.argmin(finite))
    return None


def check_finite(array, path=None, line=None, tensor=None, offset=0, total=None, note=""):
    """Raise `NonFiniteError` naming the file, line, tensor and value index if `array` holds NaN or Inf."""
    i = first_nonfinite(array)
    if i is not None:
        value = np.asarray(array).reshape(-1)[i]
        total = np.size(array) if total is None else total
        raise NonFiniteError(located(f"value {offset + i + 1} of {total} is {value}{note}", path, line, tensor))
