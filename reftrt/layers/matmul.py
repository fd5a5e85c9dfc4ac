"""MatrixMultiply layer (IMatrixMultiplyLayer). NvInfer.h `MatrixOperation` and `IMatrixMultiplyLayer`; Cookbook
MatrixMultiply (case_simple, case_transpose, case_vector, case_broadcast).

- NONE: the last two dimensions are the matrix (rank >= 2); TRANSPOSE: the same, transposed; VECTOR: the last
  dimension is a vector (rank >= 1). A first input [M, K] with VECTOR acts as [M, 1, K], a second as [M, K, 1]; the
  vector dimension is absent from the output (matrix * vector -> vector, vector * vector -> scalar).
- The other (batch) dimensions: their number must be equal for both inputs; a length of 1 broadcasts.
- Both inputs have the same type, HALF, FLOAT or BF16 ("Int32 tensors are not valid input tensors"; INT8 and FP8
  need explicit quantization, which the Cookbook mentions and reftrt does not implement).
- The printed layer type is "Matrix Multiply" (MatrixMultiply.log).
"""
import torch

from .._enums import MatrixOperation
from .._graph import ILayer, Param
from ._common import enum_param, network_method, tensor_arg

__all__ = ["IMatrixMultiplyLayer"]

_FLOATS = (torch.float16, torch.float32, torch.bfloat16)


def _operand(layer, x, op, second, which):
    """`x` as a (batch..., rows, cols) matrix collection, per its MatrixOperation."""
    name = op.name
    need = 1 if name == "VECTOR" else 2
    if x.dim() < need:
        layer._fail(f"input {which} with MatrixOperation.{name} needs at least {need} dimensions, got shape "
                    f"{list(x.shape)}")
    if name == "TRANSPOSE":
        return x.transpose(-1, -2)
    if name == "VECTOR":
        return x.unsqueeze(-1 if second else -2)
    return x


class IMatrixMultiplyLayer(ILayer):
    _layer_type = "MATRIX_MULTIPLY"
    _type_str = "Matrix Multiply"
    op0 = Param(MatrixOperation.NONE, enum_param(MatrixOperation))
    op1 = Param(MatrixOperation.NONE, enum_param(MatrixOperation))

    def _forward(self, inputs, ctx):
        x0, x1 = inputs
        for i, x in enumerate((x0, x1)):
            if x.dtype not in _FLOATS:
                self._fail(f"input {i} has type {x.dtype}: MatrixMultiply takes HALF, FLOAT or BF16")
        if x0.dtype != x1.dtype:
            self._fail(f"inputs must have the same type, got {x0.dtype} and {x1.dtype}")
        a = _operand(self, x0, self.op0, False, 0)
        b = _operand(self, x1, self.op1, True, 1)
        if a.dim() != b.dim():
            self._fail(f"inputs have {a.dim() - 2} and {b.dim() - 2} batch dimensions (shapes {list(x0.shape)} and "
                       f"{list(x1.shape)}): their number must match")
        batch = []
        for d, (p, q) in enumerate(zip(a.shape[:-2], b.shape[:-2])):
            if p != q and p != 1 and q != 1:
                self._fail(f"batch dimension {d} has lengths {p} and {q}, which neither match nor broadcast")
            batch.append(q if p == 1 else p)
        if a.shape[-1] != b.shape[-2]:
            self._fail(f"the inner dimensions differ: {a.shape[-1]} and {b.shape[-2]} (shapes {list(x0.shape)} "
                       f"with {self.op0}, {list(x1.shape)} with {self.op1})")
        shape = batch + ([a.shape[-2]] if self.op0.name != "VECTOR" else []) + \
            ([b.shape[-1]] if self.op1.name != "VECTOR" else [])
        if a.is_meta or b.is_meta:
            return [torch.empty(shape, dtype=x0.dtype, device="meta")]
        return [torch.matmul(a, b).reshape(shape)]


@network_method
def add_matrix_multiply(self, input0, op0, input1, op1):
    return IMatrixMultiplyLayer(self, [tensor_arg(input0, "add_matrix_multiply"),
                                       tensor_arg(input1, "add_matrix_multiply")], op0=op0, op1=op1)
