"""Cookbook GridSample: case_simple of cookbook/02-API/Layer/GridSample/main.py against GridSample.log
(TensorRT 10.16). The case draws its grid with an unseeded np.random: the printed inputs are fed again."""
import reftrt as trt
from tests.cookbook.harness import assert_case, log_inputs, run
from tests.cookbook.test_resize import layer_attributes, logged_attributes
from tests.cookbook.logs import load_log

LOG = load_log("GridSample")


def test_case_simple():
    case = LOG.case("case_simple")
    data = log_inputs(case)
    assert data["tensor"].shape == (1, 3, 4, 5) and data["tensor1"].shape == (1, 6, 10, 2)
    seen = {}

    def build(b):
        tensor = b.network.add_input("tensor", trt.float32, data["tensor"].shape)
        tensor1 = b.network.add_input("tensor1", trt.float32, data["tensor1"].shape)
        layer = b.network.add_grid_sample(tensor, tensor1)
        seen["defaults"] = (layer.align_corners, layer.interpolation_mode, layer.sample_mode)
        layer.align_corners = False
        layer.interpolation_mode = trt.InterpolationMode.LINEAR
        layer.sample_mode = trt.SampleMode.FILL
        seen["attributes"] = layer_attributes(layer)
        return [layer.get_output(0)]

    assert_case(run(build, data), case)
    assert seen["defaults"] == (False, trt.InterpolationMode.LINEAR, trt.SampleMode.FILL)
    assert seen["attributes"] == logged_attributes(case)


def test_enum_members():
    for enum in (trt.InterpolationMode, trt.SampleMode):
        assert {k: int(v) for k, v in enum.__members__.items()} == LOG.enums[enum.__name__]
