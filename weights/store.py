"""The weight store network definitions read from: every lookup is by `state_dict` name and shape-checked.

    store = WeightStore(weights.load("yolov5s.wts"))
    w = store.get("model.0.conv.weight", (32, 3, 6, 6))   # float32, C-contiguous, finite, right shape
    ...                                                    # define the network
    store.finish()                                         # unused weights: a warning (an error with strict=True)

`.wts` files have no shapes, only counts: a flat array is reshaped when its count matches the shape asked for.
"""
import difflib
import math
import warnings

import numpy as np

from .errors import (MissingWeightsError, NonFiniteError, ShapeMismatchError, UnusedWeightsError,
                     UnusedWeightsWarning, first_nonfinite, located, short_list)


class WeightStore:
    """name -> array lookups for a network definition, checked, with a record of what was used.

    weights: a name -> array mapping (a `WeightFile`, a dict). strict: unused weights make `finish()` fail.
    variant_hints: optional `hint(name, expected_shape, found_shape) -> str | None` that says which model variant
    the weights are when a shape does not fit (e.g. "the weights have 20 classes, the network was asked for 80");
    a `get(..., hint=)` for one lookup takes precedence. For a flat `.wts` tensor, found_shape is (count,).
    """

    def __init__(self, weights, strict=False, variant_hints=None, source=None):
        self._weights = weights
        self.strict = strict
        self.variant_hints = variant_hints
        self.source = source or getattr(weights, "path", None) or "weights"
        self._used = set()
        self._missing = {}  # name -> the shape it was needed with

    # ---- what is there
    def has(self, name):
        return name in self._weights

    def names(self, prefix=""):
        return [name for name in self._weights if name.startswith(prefix)]

    def shape(self, name):
        """The stored shape ((count,) for `.wts`); does not count as a use."""
        if name not in self._weights:
            raise self._missing_error(name, None)
        shape = getattr(self._weights, "shape", None)
        return tuple(shape(name)) if callable(shape) else tuple(np.shape(self._weights[name]))

    # ---- lookups
    def get(self, name, shape=None, dtype=np.float32, hint=None):
        """The weight `name` as a C-contiguous `dtype` array of `shape` (None: as stored).

        Raises MissingWeightsError, ShapeMismatchError (expected vs found, and the variant hint when there is one),
        or NonFiniteError (NaN / Inf, also when converting to `dtype` overflows it, e.g. float16 past 65504).
        """
        if name not in self._weights:
            self._missing[name] = shape
            raise self._missing_error(name, shape)
        array = np.asarray(self._weights[name])
        if shape is not None:
            shape = tuple(int(d) for d in shape)
            if array.shape != shape:
                if array.ndim == 1 and array.size == math.prod(shape):  # a flat .wts tensor
                    array = array.reshape(shape)
                else:
                    raise ShapeMismatchError(self._mismatch(name, shape, array.shape, hint))
        self._used.add(name)
        with np.errstate(over="ignore"):  # out of range for `dtype` becomes inf, reported below
            out = np.ascontiguousarray(array, dtype=dtype)
        i = first_nonfinite(out)
        if i is not None:
            found = array.reshape(-1)[i]
            why = (f"value {i + 1} of {out.size} is {found}" if not np.isfinite(found) else
                   f"value {i + 1} of {out.size} ({found}) does not fit in {out.dtype.name}")
            raise NonFiniteError(located(why, self.source, tensor=name))
        return out

    def mark_used(self, *names):
        """Record weights the network reads some other way, or on purpose does not need (absent ones are ignored)."""
        self._used.update(name for name in names if name in self._weights)

    def unused(self):
        return [name for name in self._weights if name not in self._used]

    def finish(self):
        """After the network is defined: missing weights are an error; unused ones a warning, or an error if
        strict. Returns the unused names."""
        if self._missing:
            names = list(self._missing)
            raise MissingWeightsError(located(f"{len(names)} weights the network needs are missing: "
                                              f"{short_list(names)}", self.source), names)
        unused = self.unused()
        if unused:
            message = located(f"{len(unused)} of {len(self._weights)} weights were not used by the network: "
                              f"{short_list(unused)}", self.source)
            if self.strict:
                raise UnusedWeightsError(message, unused)
            warnings.warn(message + " (strict makes this an error)", UnusedWeightsWarning, stacklevel=2)
        return unused

    # ---- messages
    def _missing_error(self, name, shape):
        needed = f" (the network needs shape {shape})" if shape is not None else ""
        names = list(self._weights)
        # A wrapper prefix (module., model.) is the usual cause: look for the name as a suffix first.
        suffixed = [n for n in names if n.endswith("." + name)]
        similar = suffixed[:3] or difflib.get_close_matches(name, names, n=3, cutoff=0.8)
        advice = f"; similar names in the weights: {short_list(similar)}" if similar else ""
        return MissingWeightsError(located(f"missing from the weights{needed}{advice}", self.source, tensor=name),
                                   [name])

    def _mismatch(self, name, expected, found, hint):
        if len(found) == 1 and len(expected) != 1:
            message = f"expected shape {expected} ({math.prod(expected)} values), found {found[0]} values"
        else:
            message = f"expected shape {expected}, found {found}"
        text = hint(expected, found) if hint else None
        if not text and self.variant_hints:
            text = self.variant_hints(name, expected, found)
        if text:
            message += f": {text}"
        return located(message, self.source, tensor=name)
