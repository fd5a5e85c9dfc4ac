"""Cookbook Resize: every case of cookbook/02-API/Layer/Resize/main.py against Resize.log (TensorRT 10.16)."""
import ast

import numpy as np

import reftrt as trt
from tests.cookbook.harness import assert_case, run
from tests.cookbook.logs import load_log

LOG = load_log("Resize")
SHAPE_IN, SHAPE_OUT = (1, 3, 4, 5), (2, 3, 6, 10)
DATA = {"tensor": np.arange(60, dtype=np.float32).reshape(SHAPE_IN)}


def logged_attributes(case):
    """The "Non-callable attributions" that check_api_coverage printed for the case's layer."""
    line = next(line for line in case.text if "Non-callable attributions:" in line)
    return ast.literal_eval(line.split(":", 1)[1].strip())


def layer_attributes(layer):
    """What check_api_coverage lists for `layer`: its class's public non-callable members beyond ILayer's."""
    names = [n for n in dir(type(layer)) if not n.startswith("_") and n not in set(dir(trt.ILayer))]
    return sorted(n for n in names if not callable(getattr(layer, n)))


def test_case_simple():
    seen = {}

    def build(b):
        tensor = b.network.add_input("tensor", trt.float32, SHAPE_IN)
        layer = b.network.add_resize(tensor)
        assert layer.shape == SHAPE_IN and layer.scales == []  # the defaults: the input shape, no scales
        layer.shape = SHAPE_OUT
        # check_api_coverage reads every attribute; scales reads [] with a warning while the shape is set
        seen.update(attributes=layer_attributes(layer), scales=layer.scales, shape=layer.shape,
                    defaults=(layer.resize_mode, layer.coordinate_transformation, layer.selector_for_single_pixel,
                              layer.nearest_rounding, layer.cubic_coeff, layer.exclude_outside))
        return [layer.get_output(0)]

    case = LOG.case("case_simple")
    result = run(build, DATA)
    assert_case(result, case)
    assert seen["attributes"] == logged_attributes(case)
    assert seen["scales"] == [] and seen["shape"] == SHAPE_OUT
    assert ("WARNING", "(Unnamed Layer* 0) [Resize]: Resize scale factors are not set. Output dims are set "
                       "instead.") in result.messages  # as Resize.log records
    assert seen["defaults"] == (trt.InterpolationMode.NEAREST, trt.ResizeCoordinateTransformation.ASYMMETRIC,
                                trt.ResizeSelector.FORMULA, trt.ResizeRoundMode.FLOOR, -0.75, False)


def test_case_set_input():
    def build(b):
        tensor = b.network.add_input("tensor", trt.float32, SHAPE_IN)
        constant = b.network.add_constant([4], np.array(SHAPE_OUT, dtype=np.int32))
        layer = b.network.add_resize(tensor)
        layer.set_input(1, constant.get_output(0))
        assert layer.shape is None and layer.num_inputs == 2
        assert tuple(layer.get_output(0).shape) == SHAPE_OUT  # a build-time constant: known at definition time
        return [layer.get_output(0)]

    assert_case(run(build, DATA), LOG.case("case_set_input"))


def test_case_cubic_mode():
    def build(b):
        layer = b.network.add_resize(b.network.add_input("tensor", trt.float32, SHAPE_IN))
        layer.resize_mode = trt.InterpolationMode.CUBIC
        layer.cubic_coeff = 0.5
        assert layer.cubic_coeff == 0.5
        return [layer.get_output(0)]

    assert_case(run(build, DATA), LOG.case("case_cubic_mode"))


def test_case_linear():
    def build(b):
        layer = b.network.add_resize(b.network.add_input("tensor", trt.float32, SHAPE_IN))
        layer.shape = [SHAPE_IN[0], SHAPE_OUT[1], 1, 1]
        layer.resize_mode = trt.InterpolationMode.LINEAR
        layer.selector_for_single_pixel = trt.ResizeSelector.UPPER
        layer.nearest_rounding = trt.ResizeRoundMode.CEIL
        layer.coordinate_transformation = trt.ResizeCoordinateTransformation.ALIGN_CORNERS
        return [layer.get_output(0)]

    assert_case(run(build, DATA), LOG.case("case_linear"))


def test_case_nearest_round_modes():
    def build(b):
        tensor = b.network.add_input("tensor", trt.float32, SHAPE_IN)
        outputs = []
        for mode in (trt.ResizeRoundMode.FLOOR, trt.ResizeRoundMode.CEIL, trt.ResizeRoundMode.HALF_DOWN,
                     trt.ResizeRoundMode.HALF_UP):
            layer = b.network.add_resize(tensor)
            layer.shape = SHAPE_OUT
            layer.resize_mode = trt.InterpolationMode.NEAREST
            layer.nearest_rounding = mode
            layer.selector_for_single_pixel = trt.ResizeSelector.FORMULA
            outputs.append(layer.get_output(0))
        return outputs

    assert_case(run(build, DATA), LOG.case("case_nearest_round_modes"))


def test_case_shape_input():
    def build(b):
        tensor = b.network.add_input("tensor", trt.float32, SHAPE_IN)
        tensor1 = b.network.add_input("tensor1", trt.int32, (4,))
        b.profile.set_shape_input(tensor1.name, [1, 1, 1, 1], SHAPE_OUT, SHAPE_OUT)
        layer = b.network.add_resize(tensor)
        layer.set_input(1, tensor1)
        assert tuple(layer.get_output(0).shape) == (-1, -1, -1, -1)
        return [layer.get_output(0)]

    assert_case(run(build, dict(DATA, tensor1=np.array(SHAPE_OUT, dtype=np.int32))), LOG.case("case_shape_input"))


def test_case_exclude_outside():
    def build(b):
        layer = b.network.add_resize(b.network.add_input("tensor", trt.float32, SHAPE_IN))
        layer.shape = SHAPE_OUT
        layer.exclude_outside = 1  # pybind11 converts the int, as the Cookbook relies on
        assert layer.exclude_outside is True
        return [layer.get_output(0)]

    assert_case(run(build, DATA), LOG.case("case_exclude_outside"))


def test_enum_members():
    for enum in (trt.InterpolationMode, trt.ResizeSelector, trt.ResizeRoundMode, trt.ResizeCoordinateTransformation):
        assert {k: int(v) for k, v in enum.__members__.items()} == LOG.enums[enum.__name__]
