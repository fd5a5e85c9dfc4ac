"""`Net`: the network under construction, and the one place where layers and tensors are named.

Every layer and its output get the `state_dict` prefix of the PyTorch module they stand for (`model.4.m.0.cv1.conv`),
so any point can be compared with a PyTorch forward hook. `Net` also holds the weights, the precision and the INT8
consult point. No torch here: this builds engines on a Jetson with numpy and TensorRT alone.
"""
import numpy as np

from ..errors import UserError
from . import quant as _quant


class Net:
    """A network under construction.

    precision "fp32": float32 everywhere. "fp16": a strongly typed float16 network: weights are stored as float16,
    the float32 input is cast to float16 at the start and outputs are cast back to float32 (`net.input` and
    `net.output` do that), as TensorRT 11 requires (no FP16 builder flag). "int8": explicit quantization
    (netdefs/quant.py): convolutions and matrix multiplies get Quantize / Dequantize pairs on their input and
    weights, everything else runs in `quant.remainder` (fp16 by default, or fp32).

    `quant` (a netdefs.quant.Quantization) is consulted in one place, `quantizes(prefix)`, by the weighted-layer
    helpers (conv2d, linear) and residual adds; `quantizers` records {quantizer name: its input tensor's name}
    (what calibration observes).
    """

    def __init__(self, trt, network, weights, precision="fp32", quant=None):
        if precision not in ("fp32", "fp16", "int8"):
            raise ValueError(f"precision must be fp32, fp16 or int8, got {precision!r}")
        if precision == "int8" and (quant is None or quant.collect):
            raise ValueError("precision int8 needs activation ranges (a calibration or a calibration cache)")
        if quant is not None and not quant.collect and precision != "int8":
            raise ValueError(f"quantization ranges were given for a {precision} network")
        self.trt, self.network, self.weights, self.precision = trt, network, weights, precision
        self.quant = quant
        half = precision == "fp16" or (precision == "int8" and quant.remainder == "fp16")
        self.dtype = trt.DataType.HALF if half else trt.DataType.FLOAT
        self.np_dtype = np.float16 if half else np.float32
        self._keep = []  # TensorRT reads Weights memory at build time: keep the arrays alive until then
        self._names = set()
        self.quantizers = {}

    # ---- INT8: the one consult point, and the Q/DQ it adds
    def quantizes(self, prefix):
        """Whether the weighted layer (or residual add) `prefix` runs in INT8 (or is observed while calibrating)."""
        return self.quant is not None and self.quant.quantizes(prefix)

    def float32_layer(self, prefix):
        """Whether the weighted layer `prefix` is a `=fp32` fallback inside a float16-remainder INT8 network: it then
        runs in float32 between two casts (mixed precision by name, strongly typed)."""
        return (self.quant is not None and not self.quant.collect and self.dtype == self.trt.DataType.HALF
                and self.quant.layer_precision(prefix) == "fp32")

    def quantize_input(self, x, prefix, kind="input"):
        """`x`, or x through the per-tensor Q/DQ pair `{prefix}.{kind}_quantizer` when `prefix` is INT8."""
        if not self.quantizes(prefix):
            return x
        name = f"{prefix}.{kind}_quantizer"
        self.quantizers[name] = x.name
        if self.quant.collect:
            return x
        return _quant.qdq(self, x, name, self.quant.amax_of(name))

    def quantized_weight(self, prefix, shape, axis=0, view=None):
        """For an INT8 layer: the weight `prefix.weight` of `shape` as a constant → per-channel Quantize
        (axis `axis`, scale = channel amax / 127) → Dequantize to the network's type, named
        `prefix.weight_quantizer`; None for a layer that is not INT8."""
        if not self.quantizes(prefix) or self.quant.collect:
            return None
        w = self.weight(f"{prefix}.weight", shape)  # the network's float type: Q, scale and DQ share it
        w = w if view is None else w.reshape(view)
        const = self.named(self.network.add_constant(w.shape, w), f"{prefix}.weight").get_output(0)
        return _quant.qdq(self, const, f"{prefix}.weight_quantizer", _quant.weight_amax(w, axis), axis=axis,
                           out_dtype=self.dtype)

    # ---- naming: the only place names are set
    def named(self, layer, name):
        if name in self._names:
            raise ValueError(f"layer name {name!r} is used twice")
        self._names.add(name)
        layer.name = name
        for i in range(layer.num_outputs):
            layer.get_output(i).name = name if i == 0 else f"{name}:{i}"
        return layer

    # ---- weights
    def weight(self, name, shape, dtype=None):
        array = np.ascontiguousarray(self.weights.get(name, tuple(shape), dtype=dtype or self.np_dtype))
        self._keep.append(array)
        return array

    def array(self, values, dtype=None):
        """A constant computed by the netdef (kept alive until the build)."""
        array = np.array(values, dtype=dtype or self.np_dtype, order="C")  # ascontiguousarray makes 0-d 1-d
        self._keep.append(array)
        return array

    def empty_weights(self):
        return self.trt.Weights(self.dtype)

    # ---- network inputs and outputs, with the precision casts
    def input(self, name, shape):
        x = self.network.add_input(name, self.trt.DataType.FLOAT, shape)
        if self.dtype == self.trt.DataType.HALF:
            x = self.named(self.network.add_cast(x, self.trt.DataType.HALF), f"{name}.half").get_output(0)
        return x

    def output(self, x, name):
        """Mark `x` as the network output `name` (float16 is cast back to float32). An identity layer carries the
        public name, so that the tensor keeps its state_dict name; TensorRT removes the identity."""
        if x.dtype == self.trt.DataType.HALF:
            layer = self.network.add_cast(x, self.trt.DataType.FLOAT)
        else:
            layer = self.network.add_identity(x)
        out = self.named(layer, name).get_output(0)
        self.network.mark_output(out)
        return out
