"""Layer helpers shared by every network definition: one thin function per op over the TensorRT network API.

`Net` holds the TensorRT module (`tensorrt` or `reftrt`), the network, the weights and the precision, and is the one
place where layers and tensors are named: every layer and its output get the `state_dict` prefix of the PyTorch
module they stand for (`model.4.m.0.cv1.conv`), so any point can be compared with a PyTorch forward hook.
Helpers are named after the PyTorch modules they rebuild (`conv_bn_act` is YOLO's `Conv`, `c3` its `C3`, ...).
No torch here: this module builds engines on a Jetson with numpy and TensorRT alone.
"""
import numpy as np


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
        from .quant import qdq
        return qdq(self, x, name, self.quant.amax_of(name))

    def quantized_weight(self, prefix, shape, axis=0, view=None):
        """For an INT8 layer: the weight `prefix.weight` of `shape` as a constant → per-channel Quantize
        (axis `axis`, scale = channel amax / 127) → Dequantize to the network's type, named
        `prefix.weight_quantizer`; None for a layer that is not INT8."""
        if not self.quantizes(prefix) or self.quant.collect:
            return None
        from .quant import qdq, weight_amax
        w = self.weight(f"{prefix}.weight", shape)  # the network's float type: Q, scale and DQ share it
        w = w if view is None else w.reshape(view)
        const = self.named(self.network.add_constant(w.shape, w), f"{prefix}.weight").get_output(0)
        return qdq(self, const, f"{prefix}.weight_quantizer", weight_amax(w, axis), axis=axis, out_dtype=self.dtype)

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
            x = cast(self, x, f"{name}.half", self.trt.DataType.HALF)
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


def shape_of(x):
    return tuple(x.shape)


# ---- elementary ops
def constant(net, values, name, dtype=None):
    array = net.array(values, dtype)
    return net.named(net.network.add_constant(array.shape, array), name).get_output(0)


def cast(net, x, name, dtype):
    return net.named(net.network.add_cast(x, dtype), name).get_output(0)


def conv2d(net, x, prefix, c_out, k, s=1, p=0, g=1, d=1, bias=True):
    """nn.Conv2d: weights `prefix.weight` (c_out, c_in/g, k, k) and, with `bias`, `prefix.bias`. In an INT8
    network the input and the kernel come through Q/DQ pairs (the kernel as input 1, per output channel); a
    `=fp32` fallback runs in float32 between casts (`prefix.float`, `prefix.half`)."""
    c_in = shape_of(x)[1]
    kh, kw = (k, k) if isinstance(k, int) else k
    shape = (c_out, c_in // g, kh, kw)
    fp32 = net.float32_layer(prefix)
    dtype = np.float32 if fp32 else None
    if fp32:
        x = cast(net, x, f"{prefix}.float", net.trt.DataType.FLOAT)
    x = net.quantize_input(x, prefix)
    kernel = net.quantized_weight(prefix, shape)
    w = net.weight(f"{prefix}.weight", shape, dtype) if kernel is None else net.empty_weights()
    b = net.weight(f"{prefix}.bias", (c_out,), dtype) if bias else net.empty_weights()
    layer = net.network.add_convolution_nd(x, c_out, (kh, kw), w, b)
    if kernel is not None:
        layer.set_input(1, kernel)
    layer.stride_nd = (s, s) if isinstance(s, int) else s
    layer.padding_nd = (p, p) if isinstance(p, int) else p
    layer.dilation_nd = (d, d) if isinstance(d, int) else d
    layer.num_groups = g
    y = net.named(layer, prefix).get_output(0)
    return cast(net, y, f"{prefix}.half", net.trt.DataType.HALF) if fp32 else y


def batchnorm(net, x, prefix, eps):
    """nn.BatchNorm2d in inference: a per-channel scale layer (TensorRT fuses it into the convolution)."""
    c = shape_of(x)[1]
    gamma = net.weights.get(f"{prefix}.weight", (c,), dtype=np.float64)
    beta = net.weights.get(f"{prefix}.bias", (c,), dtype=np.float64)
    mean = net.weights.get(f"{prefix}.running_mean", (c,), dtype=np.float64)
    var = net.weights.get(f"{prefix}.running_var", (c,), dtype=np.float64)
    net.weights.mark_used(f"{prefix}.num_batches_tracked")
    scale = gamma / np.sqrt(var + eps)
    shift = beta - mean * scale
    layer = net.network.add_scale(x, net.trt.ScaleMode.CHANNEL, net.array(shift), net.array(scale),
                                  net.empty_weights())
    return net.named(layer, prefix).get_output(0)


def activation(net, x, name, kind, alpha=None, beta=None):
    layer = net.network.add_activation(x, getattr(net.trt.ActivationType, kind))
    if alpha is not None:
        layer.alpha = alpha
    if beta is not None:
        layer.beta = beta
    return net.named(layer, name).get_output(0)


def elementwise(net, a, b, name, op):
    return net.named(net.network.add_elementwise(a, b, getattr(net.trt.ElementWiseOperation, op)), name).get_output(0)


def silu(net, x, name):
    """nn.SiLU = x * sigmoid(x): TensorRT has no SiLU activation; the two layers fuse into one pointwise kernel."""
    s = activation(net, x, f"{name}.sigmoid", "SIGMOID")
    return elementwise(net, x, s, name, "PROD")


def concat(net, tensors, name, axis=1):
    layer = net.network.add_concatenation(list(tensors))
    layer.axis = axis
    return net.named(layer, name).get_output(0)


def maxpool(net, x, name, k, s=1, p=0):
    layer = net.network.add_pooling_nd(x, net.trt.PoolingType.MAX, (k, k))
    layer.stride_nd = (s, s)
    layer.padding_nd = (p, p)
    return net.named(layer, name).get_output(0)


def upsample_nearest(net, x, name, factor=2):
    """nn.Upsample(scale_factor=f, mode='nearest'): source index floor(dst / f), TensorRT's ASYMMETRIC + FLOOR."""
    layer = net.network.add_resize(x)
    layer.resize_mode = net.trt.InterpolationMode.NEAREST
    layer.coordinate_transformation = net.trt.ResizeCoordinateTransformation.ASYMMETRIC
    layer.nearest_rounding = net.trt.ResizeRoundMode.FLOOR
    rank = len(shape_of(x))
    layer.scales = [1.0] * (rank - 2) + [float(factor)] * 2
    return net.named(layer, name).get_output(0)


def shuffle(net, x, name, reshape=None, first=None, second=None):
    layer = net.network.add_shuffle(x)
    if first is not None:
        layer.first_transpose = first
    if reshape is not None:
        layer.reshape_dims = reshape
    if second is not None:
        layer.second_transpose = second
    return net.named(layer, name).get_output(0)


def slice_axis(net, x, name, axis, start, length, step=1):
    """x[..., start:start+length*step:step, ...] along `axis`; works when other dimensions are dynamic (-1):
    the slice size then comes from the input's shape at run time."""
    shape = shape_of(x)
    rank = len(shape)
    starts = [0] * rank
    starts[axis] = start
    strides = [1] * rank
    strides[axis] = step
    sizes = list(shape)
    sizes[axis] = length
    if all(d >= 0 for d in sizes):
        return net.named(net.network.add_slice(x, starts, sizes, strides), name).get_output(0)
    layer = net.network.add_slice(x, starts, [0] * rank, strides)
    dims = net.named(net.network.add_shape(x), f"{name}.shape").get_output(0)
    keep = np.ones(rank, dtype=np.int64)
    keep[axis] = 0
    add = np.zeros(rank, dtype=np.int64)
    add[axis] = length
    size = elementwise(net, elementwise(net, dims, constant(net, keep, f"{name}.keep", np.int64),
                                        f"{name}.kept", "PROD"),
                       constant(net, add, f"{name}.length", np.int64), f"{name}.size", "SUM")
    layer.set_input(2, size)
    return net.named(layer, name).get_output(0)


# ---- YOLO building blocks (ultralytics/yolov5 models/common.py)
def autopad(k, p=None, d=1):
    if d > 1:
        k = d * (k - 1) + 1
    return k // 2 if p is None else p


def conv_bn_act(net, x, prefix, c_out, k=1, s=1, p=None, g=1, d=1, act="silu", eps=1e-3):
    """YOLO `Conv`: Conv2d(bias=False) → BatchNorm2d → SiLU, as `prefix.conv`, `prefix.bn`, `prefix.act`."""
    y = conv2d(net, x, f"{prefix}.conv", c_out, k, s, autopad(k, p, d), g, d, bias=False)
    y = batchnorm(net, y, f"{prefix}.bn", eps)
    if act == "silu":
        y = silu(net, y, f"{prefix}.act")
    elif act is not None:
        raise ValueError(f"unsupported activation {act!r}")
    return y


def bottleneck(net, x, prefix, c_out, shortcut=True, g=1, e=0.5):
    c_hidden = int(c_out * e)
    y = conv_bn_act(net, x, f"{prefix}.cv1", c_hidden, 1, 1)
    y = conv_bn_act(net, y, f"{prefix}.cv2", c_out, 3, 1, g=g)
    if shortcut and shape_of(x)[1] == c_out:
        y = elementwise(net, x, y, f"{prefix}.add", "SUM")
    return y


def c3(net, x, prefix, c_out, n=1, shortcut=True, g=1, e=0.5):
    """CSP bottleneck with 3 convolutions: cv3(cat(m(cv1(x)), cv2(x)))."""
    c_hidden = int(c_out * e)
    a = conv_bn_act(net, x, f"{prefix}.cv1", c_hidden, 1, 1)
    for i in range(n):
        a = bottleneck(net, a, f"{prefix}.m.{i}", c_hidden, shortcut, g, e=1.0)
    b = conv_bn_act(net, x, f"{prefix}.cv2", c_hidden, 1, 1)
    return conv_bn_act(net, concat(net, [a, b], f"{prefix}.cat"), f"{prefix}.cv3", c_out, 1)


def sppf(net, x, prefix, c_out, k=5):
    """SPPF: three chained k×k max pools, concatenated (equivalent to SPP(5, 9, 13) for k=5)."""
    c_hidden = shape_of(x)[1] // 2
    x = conv_bn_act(net, x, f"{prefix}.cv1", c_hidden, 1, 1)
    y1 = maxpool(net, x, f"{prefix}.m.0", k, 1, k // 2)
    y2 = maxpool(net, y1, f"{prefix}.m.1", k, 1, k // 2)
    y3 = maxpool(net, y2, f"{prefix}.m.2", k, 1, k // 2)
    return conv_bn_act(net, concat(net, [x, y1, y2, y3], f"{prefix}.cat"), f"{prefix}.cv2", c_out, 1, 1)


def spp(net, x, prefix, c_out, ks=(5, 9, 13)):
    c_hidden = shape_of(x)[1] // 2
    x = conv_bn_act(net, x, f"{prefix}.cv1", c_hidden, 1, 1)
    pools = [maxpool(net, x, f"{prefix}.m.{i}", k, 1, k // 2) for i, k in enumerate(ks)]
    return conv_bn_act(net, concat(net, [x] + pools, f"{prefix}.cat"), f"{prefix}.cv2", c_out, 1, 1)


def focus(net, x, prefix, c_out, k=1, s=1, p=None):
    """Focus: space-to-depth by four strided slices (x[..., ::2, ::2], x[..., 1::2, ::2], ...) then Conv."""
    h, w = shape_of(x)[2:]
    parts = []
    for i, (dy, dx) in enumerate(((0, 0), (1, 0), (0, 1), (1, 1))):
        y = slice_axis(net, x, f"{prefix}.slice{i}.h", 2, dy, h // 2, 2)
        parts.append(slice_axis(net, y, f"{prefix}.slice{i}", 3, dx, w // 2, 2))
    return conv_bn_act(net, concat(net, parts, f"{prefix}.cat"), f"{prefix}.conv", c_out, k, s, p)


# ---- classifier building blocks (torchvision): activations by name, conv + BN + activation, pooling, linear
def act(net, x, name, kind):
    """An activation by its PyTorch name: "relu" (nn.ReLU), "relu6" (nn.ReLU6 = CLIP(0, 6)), "hardsigmoid"
    (nn.Hardsigmoid = relu6(x + 3) / 6 = TensorRT's HARD_SIGMOID with alpha 1/6, beta 0.5), "hardswish"
    (nn.Hardswish = x · hardsigmoid(x): two layers that TensorRT fuses), "silu", "sigmoid", or None (identity:
    `x` is returned unchanged and nothing is named)."""
    if kind is None:
        return x
    if kind == "relu":
        return activation(net, x, name, "RELU")
    if kind == "relu6":
        return activation(net, x, name, "CLIP", alpha=0.0, beta=6.0)
    if kind == "hardsigmoid":
        return activation(net, x, name, "HARD_SIGMOID", alpha=1.0 / 6.0, beta=0.5)
    if kind == "hardswish":
        return elementwise(net, x, act(net, x, f"{name}.hardsigmoid", "hardsigmoid"), name, "PROD")
    if kind == "silu":
        return silu(net, x, name)
    if kind == "sigmoid":
        return activation(net, x, name, "SIGMOID")
    raise ValueError(f"unsupported activation {kind!r}")


def conv_bn(net, x, conv, bn, c_out, k, s=1, p=None, g=1, d=1, eps=1e-5, act_kind=None, act_name=None):
    """Conv2d(bias=False) named `conv` → BatchNorm2d named `bn` → optional activation named `act_name` (default
    `bn + ".act"`), for any state_dict layout (torchvision's `layer1.0.conv1` / `layer1.0.bn1`, its
    Conv2dNormActivation `features.0.0` / `features.0.1`, ...). Padding defaults to torchvision's (k-1)//2·d."""
    if p is None:
        p = (k - 1) // 2 * d
    y = conv2d(net, x, conv, c_out, k, s, p, g, d, bias=False)
    y = batchnorm(net, y, bn, eps)
    return act(net, y, act_name or f"{bn}.act", act_kind)


def global_avgpool(net, x, name, keepdims=True):
    """nn.AdaptiveAvgPool2d(1) (keepdims: (N, C, 1, 1)) or x.mean((2, 3)) (not keepdims: (N, C))."""
    layer = net.network.add_reduce(x, net.trt.ReduceOperation.AVG, (1 << 2) | (1 << 3), keepdims)
    return net.named(layer, name).get_output(0)


def flatten(net, x, name):
    """torch.flatten(x, 1) for (N, C, 1, 1) or any (N, ...) tensor with static non-batch dimensions."""
    return shuffle(net, x, name, reshape=(0, int(np.prod(shape_of(x)[1:]))))


def linear(net, x, prefix, c_out=None, bias=True):
    """nn.Linear on (..., C): x @ W^T (+ b), weights `prefix.weight` (c_out, C) and `prefix.bias`; `c_out` defaults
    to the weight's rows. The product is `prefix.matmul`, the layer's output (after the bias) is `prefix`."""
    shape = shape_of(x)
    c_in = shape[-1]
    if c_out is None:
        c_out = int(net.weights.shape(f"{prefix}.weight")[0])
    rank = len(shape)
    x = net.quantize_input(x, prefix)
    w_const = net.quantized_weight(prefix, (c_out, c_in), axis=rank - 2, view=(1,) * (rank - 2) + (c_out, c_in))
    if w_const is None:
        w = net.weight(f"{prefix}.weight", (c_out, c_in)).reshape((1,) * (rank - 2) + (c_out, c_in))
        w_const = net.named(net.network.add_constant(w.shape, w), f"{prefix}.weight").get_output(0)
    trt = net.trt
    name = f"{prefix}.matmul" if bias else prefix
    y = net.named(net.network.add_matrix_multiply(x, trt.MatrixOperation.NONE, w_const,
                                                  trt.MatrixOperation.TRANSPOSE), name).get_output(0)
    if not bias:
        return y
    b = net.weight(f"{prefix}.bias", (c_out,)).reshape((1,) * (rank - 1) + (c_out,))
    b_const = net.named(net.network.add_constant(b.shape, b), f"{prefix}.bias").get_output(0)
    return elementwise(net, y, b_const, prefix, "SUM")


# ---- segmentation building blocks: group normalization, F.interpolate
def groupnorm(net, x, prefix, groups, eps=1e-5):
    """nn.GroupNorm(groups, C) on (N, C, ...) (timm's GroupNorm1 is groups=1), affine weights `prefix.weight` and
    `prefix.bias` per channel: one INormalizationLayer over each group's channels and the spatial axes.
    add_normalization_v2 (TensorRT 11) takes the affine per channel. add_normalization (TensorRT 10) takes it per
    group when groups > 1: there the layer normalizes with unit scale / zero bias (`prefix.norm`) and a channel scale
    layer (`prefix`) applies the affine; TensorRT fuses the two."""
    rank = len(shape_of(x))
    c = shape_of(x)[1]
    first = 1 if groups == 1 else 2  # with num_groups > 1 the axes are those after the channel axis
    axes = sum(1 << a for a in range(first, rank))
    bshape = (1, c) + (1,) * (rank - 2)
    weight = net.weight(f"{prefix}.weight", (c,))
    bias = net.weight(f"{prefix}.bias", (c,))
    v2 = hasattr(net.network, "add_normalization_v2")
    if v2 or groups == 1:
        scale = net.named(net.network.add_constant(bshape, weight.reshape(bshape)), f"{prefix}.weight").get_output(0)
        shift = net.named(net.network.add_constant(bshape, bias.reshape(bshape)), f"{prefix}.bias").get_output(0)
        add = net.network.add_normalization_v2 if v2 else net.network.add_normalization
        layer = add(x, scale, shift, axes)
        layer.epsilon = eps
        layer.num_groups = groups
        return net.named(layer, prefix).get_output(0)
    gshape = (1, groups) + (1,) * (rank - 2)
    ones = constant(net, np.ones(gshape), f"{prefix}.norm.ones")
    zeros = constant(net, np.zeros(gshape), f"{prefix}.norm.zeros")
    layer = net.network.add_normalization(x, ones, zeros, axes)
    layer.epsilon = eps
    layer.num_groups = groups
    y = net.named(layer, f"{prefix}.norm").get_output(0)
    layer = net.network.add_scale(y, net.trt.ScaleMode.CHANNEL, bias, weight, net.empty_weights())
    return net.named(layer, prefix).get_output(0)


def interpolate(net, x, name, size=None, scale_factor=None, mode="nearest", align_corners=False, antialias=False):
    """F.interpolate(x, size | scale_factor, mode, align_corners, antialias) of an (N, C, H, W) tensor, mode
    "nearest" or "bilinear", recompute_scale_factor None / False (PyTorch's default), exactly as PyTorch's CPU kernels:
    TensorRT's native Resize wherever it computes the same thing, otherwise:
    - "bilinear": the plugin `trt_netdefs::bilinear_resize` (plugins/bilinear.py) for antialias=True when an axis is
      downscaled (or with align_corners=True), and for a `scale_factor` whose 1 / scale_factor is not the size ratio
      in / out (a non-integer output size: PyTorch maps with the given scale, TensorRT given the output size with the
      ratio). The plugin needs `tensorrt.plugin` (TensorRT >= 10.6): TensorRT 10.3 (JetPack 6) has none, and then
      these cases raise NotImplementedError;
    - "nearest": Gather layers (one per resized axis) with the source indices PyTorch computes, when TensorRT's floor(dst · in / out)
      differs from PyTorch's floor(dst · float(1 / scale_factor)).
    The native Resize maps the PyTorch modes onto TensorRT's options: "nearest" is ASYMMETRIC + FLOOR, "bilinear"
    LINEAR with ALIGN_CORNERS (align_corners=True) or HALF_PIXEL; its output size is given as dimensions (from a shape
    tensor when N or C is dynamic), so that TensorRT maps with in / out; `scales` only with dynamic H / W and
    integer scale factors (exact for either reading of TensorRT's scales). Axes whose size does not change are
    copied, as PyTorch's CPU kernels do whatever the scale factor."""
    from plugins import bilinear as _bl  # numpy only at import: the plugin's impl imports torch when it runs
    shape = shape_of(x)
    if len(shape) != 4:
        raise ValueError(f"{name}: interpolate takes an (N, C, H, W) tensor, got shape {shape}")
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{name}: interpolate needs exactly one of size and scale_factor")
    if mode not in ("nearest", "bilinear"):
        raise ValueError(f"{name}: unsupported interpolation mode {mode!r} (nearest, bilinear)")
    if mode == "nearest" and (align_corners or antialias):
        raise ValueError(f"{name}: align_corners and antialias only apply to bilinear (as in PyTorch)")
    h, w = shape[2:]
    what = (f"F.interpolate(size={size}, scale_factor={scale_factor}, mode={mode!r}, align_corners={align_corners}, "
            f"antialias={antialias}) of {shape}")
    if size is not None:
        out = (size, size) if isinstance(size, int) else tuple(int(s) for s in size)
        scales = (None, None)
    else:
        f = (scale_factor, scale_factor) if isinstance(scale_factor, (int, float)) else tuple(scale_factor)
        scales = (float(f[0]), float(f[1]))
        if h < 0 or w < 0:
            if not all(s == int(s) and s >= 1 for s in scales) or (antialias and align_corners):
                raise NotImplementedError(f"{name}: {what}: with dynamic H / W only integer scale factors are "
                                          f"supported (the output size must be known at build time)")
            layer = _resize_layer(net, x, mode, align_corners)
            layer.scales = [1.0, 1.0, scales[0], scales[1]]
            return net.named(layer, name).get_output(0)
        out = (_bl.output_size(h, scales[0]), _bl.output_size(w, scales[1]))
    if h < 0 or w < 0:  # size given: TensorRT maps with in / out at run time, as PyTorch
        if mode == "bilinear" and antialias:
            return _interpolate_plugin(net, x, name, out, scales, align_corners, antialias, what)
        return _resize_to(net, x, name, out, mode, align_corners)
    axes = [(l_in, l_out, s) for l_in, l_out, s in zip((h, w), out, scales) if l_in != l_out]
    if mode == "nearest":
        pt = [_torch_nearest(l_in, l_out, s) for l_in, l_out, s in axes]
        if all(np.array_equal(p, _trt_nearest(l_in, l_out)) for p, (l_in, l_out, _) in zip(pt, axes)):
            return _resize_to(net, x, name, out, mode, align_corners)
        for axis, (l_in, l_out, s) in ((2, (h, out[0], scales[0])), (3, (w, out[1], scales[1]))):
            if l_in == l_out:
                continue
            last = axis == 3 or out[1] == w
            idx = constant(net, _torch_nearest(l_in, l_out, s).astype(np.int32), f"{name}.{'hw'[axis - 2]}.index",
                           np.int32)
            layer = net.network.add_gather(x, idx, axis)
            x = net.named(layer, name if last else f"{name}.{'hw'[axis - 2]}").get_output(0)
        return x
    exact = not (antialias and align_corners and axes)
    for l_in, l_out, s in axes:
        if antialias and l_out < l_in:
            exact = False
        if not align_corners and _bl.torch_scale(l_in, l_out, False, s) != np.float32(l_in) / np.float32(l_out):
            exact = False
    if exact:
        return _resize_to(net, x, name, out, mode, align_corners)
    return _interpolate_plugin(net, x, name, out, scales, align_corners, antialias, what)


def _resize_layer(net, x, mode, align_corners):
    trt = net.trt
    layer = net.network.add_resize(x)
    if mode == "nearest":
        layer.resize_mode = trt.InterpolationMode.NEAREST
        layer.coordinate_transformation = trt.ResizeCoordinateTransformation.ASYMMETRIC
        layer.nearest_rounding = trt.ResizeRoundMode.FLOOR
    else:
        layer.resize_mode = trt.InterpolationMode.LINEAR
        layer.coordinate_transformation = (trt.ResizeCoordinateTransformation.ALIGN_CORNERS if align_corners
                                           else trt.ResizeCoordinateTransformation.HALF_PIXEL)
    return layer


def _resize_to(net, x, name, out, mode, align_corners):
    """Native Resize of (N, C, H, W) to (N, C, out): output dimensions, or a shape tensor when N or C is dynamic."""
    shape = shape_of(x)
    layer = _resize_layer(net, x, mode, align_corners)
    if shape[0] >= 0 and shape[1] >= 0:
        layer.shape = (shape[0], shape[1]) + tuple(out)
    else:
        dims = net.named(net.network.add_shape(x), f"{name}.shape").get_output(0)
        nc = net.named(net.network.add_slice(dims, (0,), (2,), (1,)), f"{name}.shape.nc").get_output(0)
        hw = constant(net, np.array(out, dtype=np.int64), f"{name}.shape.hw", np.int64)
        layer.set_input(1, concat(net, [nc, hw], f"{name}.size", axis=0))
    return net.named(layer, name).get_output(0)


def _torch_nearest(l_in, l_out, scale_factor):
    """PyTorch's `nearest_idx`: source indices of mode 'nearest' (float32 scale, 1 / scale_factor when given)."""
    o = np.arange(l_out)
    if l_out == l_in:
        return o
    if l_out == 2 * l_in:
        return o >> 1
    if scale_factor is not None and scale_factor > 0:
        scale = np.float32(1.0 / scale_factor)
    else:
        scale = np.float32(l_in) / np.float32(l_out)
    return np.minimum(np.floor(o.astype(np.float32) * scale).astype(np.int64), l_in - 1)


def _trt_nearest(l_in, l_out):
    """TensorRT's NEAREST + ASYMMETRIC + FLOOR given the output size: floor(dst · float(in / out)), clamped."""
    r = np.float32(l_in) / np.float32(l_out)
    return np.minimum(np.floor(np.arange(l_out, dtype=np.float32) * r).astype(np.int64), l_in - 1)


def _interpolate_plugin(net, x, name, out, scales, align_corners, antialias, what):
    import importlib
    from plugins import bilinear as _bl
    try:
        trtp = importlib.import_module(net.trt.__name__ + ".plugin")
    except ImportError as e:
        raise NotImplementedError(
            f"{name}: {what} is not expressible by TensorRT's Resize layer; it needs the plugin "
            f"{_bl.PLUGIN_ID}, which needs {net.trt.__name__}.plugin (TensorRT >= 10.6), absent from "
            f"{net.trt.__name__} {getattr(net.trt, '__version__', '?')} (JetPack 6 has TensorRT 10.3)") from e
    op = _bl.register(trtp)
    call = op(x, out_h=int(out[0]), out_w=int(out[1]), scale_h=float(scales[0] or 0.0),
              scale_w=float(scales[1] or 0.0), align_corners=bool(align_corners), antialias=bool(antialias))
    return net.named(net.network.add_plugin(call), name).get_output(0)


# ---- transformer building blocks
def layernorm(net, x, prefix, eps=1e-5, axis=-1):
    """nn.LayerNorm(C) over the last axis (or `axis`, e.g. 1 for a channels-first LayerNorm2d) of any tensor:
    INormalizationLayer over that one axis, with `prefix.weight` / `prefix.bias` broadcast along it."""
    shape = shape_of(x)
    rank = len(shape)
    axis %= rank
    c = shape[axis]
    bshape = tuple(c if i == axis else 1 for i in range(rank))
    weight = net.weight(f"{prefix}.weight", (c,)).reshape(bshape)
    bias = net.weight(f"{prefix}.bias", (c,)).reshape(bshape)
    scale = net.named(net.network.add_constant(bshape, weight), f"{prefix}.weight").get_output(0)
    shift = net.named(net.network.add_constant(bshape, bias), f"{prefix}.bias").get_output(0)
    # add_normalization_v2 where the API has it (TensorRT 11), as groupnorm: with one group both compute the same
    add = getattr(net.network, "add_normalization_v2", None) or net.network.add_normalization
    layer = add(x, scale, shift, 1 << axis)
    layer.epsilon = eps
    return net.named(layer, prefix).get_output(0)
