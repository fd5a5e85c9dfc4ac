"""Einsum layer (IEinsumLayer). NvInfer.h `IEinsumLayer`, the Operators page "Einsum", and the Cookbook Einsum cases
(contraction, transpose, sum reduce, dot product, matrix multiplication, three-input contraction, diagonal,
ellipsis, implicit mode).

- The equation: a comma-separated term of lower-case letters per input, optionally "->" and the output's letters.
  Spaces between elements are allowed (Operators page). An output letter appears in some input and at most once in
  the output. Implicit mode (no "->"): the letters appearing once, in alphabetical order.
- Same letters in one term take the diagonal; letters shared by inputs are multiplied; letters missing from the
  output are summed. Dimensions with the same letter match or have length 1 (broadcast, NvInfer.h).
- The Python docstring says "TensorRT does not support ellipsis or diagonal operations" and the Operators page
  "Up to two inputs can be set", but TensorRT 10.16 ran the Cookbook's diagonal ("ijj->ij"), ellipsis
  ("i...j->...ij") and three-input cases: the recorded outputs win, reftrt supports them.
- All inputs have the same type, HALF, FLOAT or BF16 (Operators page).
- An equation that is not syntactically valid makes add_einsum return None and the `equation` setter keep the old
  value, with an error logged (NvInfer.h: setEquation "returns true if the equation was syntactically valid").
"""
import re

import torch

from .._graph import ILayer, Param
from ._common import network_method, tensors_arg

__all__ = ["IEinsumLayer"]

_FLOATS = (torch.float16, torch.float32, torch.bfloat16)
_TERM = re.compile(r"^[a-z]*(\.\.\.)?[a-z]*$")


def parse(equation):
    """(input terms, output term or None); raises ValueError for a syntax error."""
    if not isinstance(equation, str):
        raise TypeError(f"equation: expected a str, got {type(equation).__name__}")
    text = equation.replace(" ", "")
    if text.count("->") > 1:
        raise ValueError("more than one '->'")
    lhs, arrow, rhs = text.partition("->")
    terms = lhs.split(",")
    for term in terms + ([rhs] if arrow else []):
        if not _TERM.match(term):
            raise ValueError(f"term {term!r} is not lower-case letters with at most one '...'")
    if arrow:
        letters = rhs.replace("...", "")
        if len(set(letters)) != len(letters):
            raise ValueError(f"output term {rhs!r} repeats a letter")
        used = set("".join(terms))
        missing = sorted(set(letters) - used)
        if missing:
            raise ValueError(f"output letters {missing} appear in no input term")
        if "..." in rhs and not any("..." in t for t in terms):
            raise ValueError("the output has '...' but no input has")
    return terms, (rhs if arrow else None)


def _equation_param(value):
    if not isinstance(value, str):
        raise TypeError(f"equation: expected a str, got {type(value).__name__}")
    return value  # add_einsum and the setter check the syntax


class IEinsumLayer(ILayer):
    _layer_type = "EINSUM"
    _type_str = "Einsum"
    _equation = Param("", _equation_param)

    @property
    def equation(self):
        return self._p["_equation"]

    @equation.setter
    def equation(self, value):
        _equation_param(value)
        try:
            parse(value)
        except ValueError as e:
            self._network._log_error(f"{self._name}: IEinsumLayer::setEquation: invalid equation {value!r}: {e}")
            return
        self._p["_equation"] = value
        self._network._changed(self)

    def _max_inputs(self):
        return len(self._inputs)

    def _forward(self, inputs, ctx):
        terms, _ = parse(self.equation)
        if len(terms) != len(inputs):
            self._fail(f"equation {self.equation!r} has {len(terms)} input terms for {len(inputs)} inputs")
        first = inputs[0]
        sizes = {}
        for i, (term, x) in enumerate(zip(terms, inputs)):
            if x.dtype not in _FLOATS:
                self._fail(f"input {i} has type {x.dtype}: Einsum takes HALF, FLOAT or BF16")
            if x.dtype != first.dtype:
                self._fail(f"input {i} has type {x.dtype}, input 0 has {first.dtype}: all inputs must have the "
                           f"same type")
            letters = term.replace("...", "")
            if len(letters) > x.dim() or ("..." not in term and len(letters) != x.dim()):
                self._fail(f"term {term!r} does not fit input {i} of rank {x.dim()}")
            head = term.index("...") if "..." in term else len(letters)
            tail = len(letters) - head
            dims = list(x.shape[:head]) + (list(x.shape[x.dim() - tail:]) if tail else [])
            for letter, d in zip(letters, dims):
                known = sizes.get(letter)
                if known is not None and d != known and d != 1 and known != 1:
                    self._fail(f"letter {letter!r} labels dimensions of lengths {known} and {d}")
                if known is None or known == 1:
                    sizes[letter] = d
        return [torch.einsum(self.equation.replace(" ", ""), *inputs)]


@network_method
def add_einsum(self, inputs, equation):
    tensors = tensors_arg(inputs, "add_einsum")
    if not isinstance(equation, str):
        raise TypeError(f"add_einsum: equation must be a str, got {type(equation).__name__}")
    try:
        terms, _ = parse(equation)
    except ValueError as e:
        self._log_error(f"INetworkDefinition::addEinsum: invalid equation {equation!r}: {e}")
        return None
    if len(terms) != len(tensors):
        self._log_error(f"INetworkDefinition::addEinsum: equation {equation!r} has {len(terms)} input terms for "
                        f"{len(tensors)} inputs")
        return None
    return IEinsumLayer(self, tensors, _equation=equation)
