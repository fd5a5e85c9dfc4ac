"""GridSample layer (IGridSampleLayer). Follows NvInfer.h `IGridSampleLayer` and `SampleMode`, the Python docstrings
(11.4: input and grid of rank 4 or 5; 10.3: rank 4) and Cookbook GridSample/case_simple.

input [N, C, H, W] and grid [N, H_out, W_out, 2] (normalised (x, y) in [-1, 1]) give [N, C, H_out, W_out]; in 11.4
also input [N, C, D, H, W] with grid [N, D_out, H_out, W_out, 3]. The sampling is ONNX GridSample's, which is also
PyTorch's F.grid_sample: InterpolationMode LINEAR / NEAREST / CUBIC are 'bilinear' / 'nearest' / 'bicubic'
(CUBIC only for rank 4), SampleMode FILL / CLAMP / REFLECT are padding 'zeros' / 'border' / 'reflection', and
`align_corners` is the same flag. Case_simple's recorded output matches F.grid_sample (bilinear, zeros,
align_corners=False). Only CLAMP, FILL and REFLECT are supported: setting another mode fails (setSampleMode returns
false) and leaves the mode unchanged, as the header describes. NEAREST rounds halfway coordinates to even as
PyTorch does; no recorded case decides TensorRT's tie rule.
"""
import torch
import torch.nn.functional as F

from .. import _version
from .._enums import InterpolationMode, SampleMode
from .._graph import ILayer, Param
from ._common import enum_param, network_method, tensor_arg
from .resize import bool_like

__all__ = ["IGridSampleLayer"]

_PADDING = {"FILL": "zeros", "CLAMP": "border", "REFLECT": "reflection"}
_MODES = {"LINEAR": "bilinear", "NEAREST": "nearest", "CUBIC": "bicubic"}
_RANKS = (4, 5) if _version.IS_11 else (4,)


class _SampleModeParam(Param):
    def __init__(self):
        self.default, self.convert, self.attr = SampleMode.FILL, enum_param(SampleMode), None

        def get(layer):
            return layer._p[self.attr]

        def set_(layer, value):
            value = enum_param(SampleMode)(value)
            if value.name not in _PADDING:
                layer._network._log_error(f"{layer.name}: setSampleMode: {value} is not supported (CLAMP, FILL or "
                                          f"REFLECT); the sample mode is not changed")
                return
            layer._p[self.attr] = value
            layer._network._changed(layer)

        property.__init__(self, get, set_)


class IGridSampleLayer(ILayer):
    _layer_type = "GRID_SAMPLE"
    _type_str = "GridSample"
    interpolation_mode = Param(InterpolationMode.LINEAR, enum_param(InterpolationMode))
    align_corners = Param(False, bool_like)
    sample_mode = _SampleModeParam()

    def _forward(self, inputs, ctx):
        x, grid = inputs[0], inputs[1]
        rank = x.dim()
        if rank not in _RANKS:
            self._fail(f"the input must have rank {' or '.join(map(str, _RANKS))}, got shape {list(x.shape)}")
        if grid.dim() != rank:
            self._fail(f"the grid must have rank {rank} like the input, got shape {list(grid.shape)}")
        if x.dtype not in (torch.float32, torch.float16, torch.bfloat16):
            self._fail(f"input type {x.dtype} is not supported (FLOAT, HALF, BF16)")
        if grid.dtype != x.dtype:
            self._fail(f"the grid type {grid.dtype} differs from the input type {x.dtype}")
        if grid.shape[0] != x.shape[0]:
            self._fail(f"grid batch size {grid.shape[0]} differs from input batch size {x.shape[0]}")
        if grid.shape[-1] != rank - 2:
            self._fail(f"the last grid dimension must be {rank - 2}, got shape {list(grid.shape)}")
        mode = self.interpolation_mode.name
        if mode == "CUBIC" and rank != 4:
            self._fail("CUBIC grid sampling needs a rank-4 input")
        shape = list(x.shape[:2]) + list(grid.shape[1:-1])
        if x.is_meta or grid.is_meta:
            return [torch.empty(shape, dtype=x.dtype, device="meta")]
        if x.numel() == 0 or grid.numel() == 0:
            return [torch.zeros(shape, dtype=x.dtype)]
        return [F.grid_sample(x, grid, mode=_MODES[mode], padding_mode=_PADDING[self.sample_mode.name],
                              align_corners=self.align_corners)]


@network_method
def add_grid_sample(self, input, grid):
    return IGridSampleLayer(self, [tensor_arg(input, "add_grid_sample"), tensor_arg(grid, "add_grid_sample")])
