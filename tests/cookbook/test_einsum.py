"""Cookbook Einsum: every case of cookbook/02-API/Layer/Einsum/main.py against Einsum.log (TensorRT 10.16).

TensorRT's Python docstring says "TensorRT does not support ellipsis or diagonal operations" and the Operators page
allows "up to two inputs", yet TensorRT 10.16 ran case_diagnal, case_ellipsis and the three-input
case_multi_tensor_contraction: reftrt supports them, as recorded.
"""
import numpy as np
import pytest

import reftrt as trt
from tests.cookbook._math_family import assert_case, layer_attributes, logged_attributes
from tests.cookbook.harness import run
from tests.cookbook.logs import load_log

LOG = load_log("Einsum")

# case -> (input shapes, equation, input fill: "arange" or "ones")
CASES = {
    "case_contraction": ([(1, 3, 4), (2, 3, 5)], "ijk,pjr->ikpr", ["arange", "arange"]),
    "case_transpose": ([(1, 3, 4)], "ijk->jki", ["arange"]),
    "case_sum_reduce": ([(1, 3, 4)], "ijk->ij", ["arange"]),
    "case_dot_product": ([(1, 1, 4), (1, 1, 4)], "ijk,pqk->", ["arange", "ones"]),
    "case_matrix_multiplication": ([(2, 2, 3), (2, 3, 4)], "ijk,ikl->ijl", ["arange", "ones"]),
    "case_multi_tensor_contraction": ([(1, 2, 3), (4, 3, 2), (4, 5)], "abc,dcb,de->ae", ["arange", "ones", "ones"]),
    "case_diagnal": ([(1, 4, 4)], "ijj->ij", ["arange"]),
    "case_ellipsis": ([(2, 3, 4)], "i...j->...ij", ["arange"]),
    "case_einsum_implicit_mode": ([(2, 3), (3, 4)], "ab,bc", ["arange", "arange"]),
}


def test_every_case_is_covered():
    assert sorted(CASES) == sorted(LOG.case_names)


@pytest.mark.parametrize("name", sorted(CASES))
def test_case(name):
    shapes, equation, fills = CASES[name]
    names = ["tensor" + (str(i) if i else "") for i in range(len(shapes))]
    data = {n: (np.arange(np.prod(s), dtype=np.float32) if f == "arange" else np.ones(np.prod(s), np.float32))
            .reshape(s) for n, s, f in zip(names, shapes, fills)}
    case = LOG.case(name)

    def build(b):
        tensors = [b.network.add_input(n, trt.float32, s) for n, s in zip(names, shapes)]
        layer = b.network.add_einsum(tensors, equation)
        if name == "case_contraction":
            layer.equation = equation
            assert layer.equation == equation
            assert layer_attributes(layer) == logged_attributes(case)
        return [layer.get_output(0)]

    assert_case(run(build, data), case)
