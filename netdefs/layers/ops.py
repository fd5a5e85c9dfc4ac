"""The op layer: one thin function per TensorRT op, named, typed and precision-aware (TensorRT-LLM's functional.py
shape). Family modules and blocks call these, never `network.add_*`: naming goes through `Net.named` (the state_dict
prefix), constants are created in the network's float type unless told otherwise, and the INT8 consult point is
reached through `conv2d` / `linear`.

Ops take `net` first, then the input tensor(s), then the layer name. Enum-valued arguments are given as lower-case
names ("sum", "max", "relu"), so that netdefs never touch the backend's enums.
No torch here: this module builds engines on a Jetson with numpy and TensorRT alone.
"""
import importlib

import numpy as np

from plugins import bilinear as _bl  # numpy only at import: the plugin's implementation imports torch when it runs

from ..errors import UserError


def shape_of(x):
    return tuple(x.shape)


def _enum(net, enum, name):
    return getattr(getattr(net.trt, enum), name.upper())


def _out(net, layer, name):
    return net.named(layer, name).get_output(0)


def axes_mask(*axes):
    return sum(1 << a for a in axes)


# ---- constants, casts, shapes
def constant(net, values, name, dtype=None):
    """A constant tensor of `values` (the network's float type unless `dtype`, e.g. np.int32)."""
    array = net.array(values, dtype)
    return _out(net, net.network.add_constant(array.shape, array), name)


def weight_constant(net, array, name):
    """A constant tensor holding weights read by `net.weight` (kept alive until the build)."""
    return _out(net, net.network.add_constant(array.shape, array), name)


def cast(net, x, name, dtype):
    """x.to(dtype); dtype a backend DataType or "float32" / "float16" / "int32" / "int64" / "bool"."""
    if isinstance(dtype, str):
        dtype = _enum(net, "DataType", {"float32": "FLOAT", "float16": "HALF", "int32": "INT32", "int64": "INT64",
                                        "bool": "BOOL"}[dtype])
    return _out(net, net.network.add_cast(x, dtype), name)


def identity(net, x, name):
    return _out(net, net.network.add_identity(x), name)


def shape(net, x, name):
    """The shape of `x` as a 1-D int64 shape tensor (for dynamic dimensions)."""
    return _out(net, net.network.add_shape(x), name)


def arange(net, n, name, dtype="int32"):
    """torch.arange(n) for a 0-d shape tensor `n` known only at run time (a Fill layer, LINSPACE from 0 by 1)."""
    trt = net.trt
    layer = net.network.add_fill((1,), trt.FillOperation.LINSPACE, _enum(net, "DataType", {"int32": "INT32",
                                                                                          "float32": "FLOAT"}[dtype]))
    layer.set_input(0, n)
    np_dtype = np.int32 if dtype == "int32" else np.float32
    layer.set_input(1, constant(net, np.array(0), f"{name}.start", np_dtype))
    layer.set_input(2, constant(net, np.array([1]), f"{name}.delta", np_dtype))
    return _out(net, layer, name)


# ---- pointwise
ACTIVATIONS = ("relu", "relu6", "sigmoid", "tanh", "silu", "hardsigmoid", "hardswish", "gelu", "gelu_tanh")


def _trt_activation(net, x, name, kind, alpha=None, beta=None):
    layer = net.network.add_activation(x, _enum(net, "ActivationType", kind))
    if alpha is not None:
        layer.alpha = alpha
    if beta is not None:
        layer.beta = beta
    return _out(net, layer, name)


def activation(net, x, name, kind):
    """An activation by its PyTorch name: "relu", "relu6" (CLIP(0, 6)), "sigmoid", "tanh", "silu" (x · sigmoid(x):
    TensorRT has no SiLU; the two layers fuse), "hardsigmoid" (relu6(x + 3) / 6 = HARD_SIGMOID with alpha 1/6,
    beta 0.5), "hardswish" (x · hardsigmoid(x)), "gelu" (exact, erf), "gelu_tanh"; None is the identity (`x`
    returned unchanged, nothing named)."""
    if kind is None:
        return x
    if kind in ("relu", "sigmoid", "tanh"):
        return _trt_activation(net, x, name, kind)
    if kind == "relu6":
        return _trt_activation(net, x, name, "clip", alpha=0.0, beta=6.0)
    if kind == "hardsigmoid":
        return _trt_activation(net, x, name, "hard_sigmoid", alpha=1.0 / 6.0, beta=0.5)
    if kind == "silu":
        return elementwise(net, x, activation(net, x, f"{name}.sigmoid", "sigmoid"), name, "prod")
    if kind == "hardswish":
        return elementwise(net, x, activation(net, x, f"{name}.hardsigmoid", "hardsigmoid"), name, "prod")
    if kind == "gelu":
        return _trt_activation(net, x, name, "gelu_erf")
    if kind == "gelu_tanh":
        return _trt_activation(net, x, name, "gelu_tanh")
    raise ValueError(f"{name}: unsupported activation {kind!r} (known: {', '.join(ACTIVATIONS)})")


def elementwise(net, a, b, name, op):
    """a op b with broadcasting; op one of sum, prod, sub, div, max, min, pow, equal, less, greater, and, or."""
    return _out(net, net.network.add_elementwise(a, b, _enum(net, "ElementWiseOperation", op)), name)


def unary(net, x, name, op):
    """exp, log, sqrt, abs, neg, recip, floor, ... (TensorRT's UnaryOperation, lower case)."""
    return _out(net, net.network.add_unary(x, _enum(net, "UnaryOperation", op)), name)


def select(net, condition, a, b, name):
    """torch.where(condition, a, b)."""
    return _out(net, net.network.add_select(condition, a, b), name)


def scale(net, x, name, shift=None, scale=None):
    """Per-channel x · scale + shift (axis 1) from weight arrays (an IScaleLayer: TensorRT folds it into the
    convolution before it)."""
    empty = net.empty_weights()
    layer = net.network.add_scale(x, net.trt.ScaleMode.CHANNEL, empty if shift is None else net.array(shift),
                                  empty if scale is None else net.array(scale), net.empty_weights())
    return _out(net, layer, name)


# ---- shape and layout
def concat(net, tensors, name, axis=1):
    layer = net.network.add_concatenation(list(tensors))
    layer.axis = axis
    return _out(net, layer, name)


def shuffle(net, x, name, reshape=None, first=None, second=None):
    """x.permute(first).reshape(reshape).permute(second) in one IShuffleLayer (0 in `reshape` copies the input's
    dimension, -1 is inferred)."""
    layer = net.network.add_shuffle(x)
    if first is not None:
        layer.first_transpose = first
    if reshape is not None:
        layer.reshape_dims = reshape
    if second is not None:
        layer.second_transpose = second
    return _out(net, layer, name)


def reshape(net, x, name, dims):
    return shuffle(net, x, name, reshape=dims)


def reshape_to(net, x, name, dims):
    """x.reshape(dims) with `dims` a 1-D shape tensor (sizes known only at run time, e.g. another tensor's shape)."""
    layer = net.network.add_shuffle(x)
    layer.set_input(1, dims)
    return _out(net, layer, name)


def flatten(net, x, name):
    """torch.flatten(x, 1) for (N, C, 1, 1) or any (N, ...) tensor with static non-batch dimensions."""
    return reshape(net, x, name, (0, int(np.prod(shape_of(x)[1:]))))


def slice_axis(net, x, name, axis, start, length, step=1):
    """x[..., start:start+length*step:step, ...] along `axis`; works when other dimensions are dynamic (-1):
    the slice size then comes from the input's shape at run time."""
    dims = shape_of(x)
    rank = len(dims)
    starts = [0] * rank
    starts[axis] = start
    strides = [1] * rank
    strides[axis] = step
    sizes = list(dims)
    sizes[axis] = length
    if all(d >= 0 for d in sizes):
        return _out(net, net.network.add_slice(x, starts, sizes, strides), name)
    layer = net.network.add_slice(x, starts, [0] * rank, strides)
    keep = np.ones(rank, dtype=np.int64)
    keep[axis] = 0
    add = np.zeros(rank, dtype=np.int64)
    add[axis] = length
    size = elementwise(net, elementwise(net, shape(net, x, f"{name}.shape"),
                                        constant(net, keep, f"{name}.keep", np.int64), f"{name}.kept", "prod"),
                       constant(net, add, f"{name}.length", np.int64), f"{name}.size", "sum")
    layer.set_input(2, size)
    return _out(net, layer, name)


def gather(net, x, indices, name, axis=0):
    """torch.index_select-like: x gathered along `axis` by `indices` (a tensor, or an int array made a constant;
    a 0-d index removes the axis)."""
    if not hasattr(indices, "dtype") or isinstance(indices, np.ndarray) or np.isscalar(indices):
        indices = constant(net, np.asarray(indices), f"{name}.index", np.int32)
    return _out(net, net.network.add_gather(x, indices, axis), name)


def gather_elements(net, data, indices, name, axis):
    """torch.gather(data, axis, indices): indices of data's rank (TensorRT's GatherMode.ELEMENT)."""
    layer = net.network.add_gather_v2(data, indices, net.trt.GatherMode.ELEMENT)
    layer.axis = axis
    return _out(net, layer, name)


def gather_nd(net, data, indices, name):
    """data[indices[..., 0], indices[..., 1], ...] (TensorRT's GatherMode.ND, no batch dimensions)."""
    return _out(net, net.network.add_gather_v2(data, indices, net.trt.GatherMode.ND), name)


# ---- reductions, softmax, top-k
def reduce(net, x, name, op, axes, keepdims=True):
    """x.sum / mean / max / min / prod over `axes` (a tuple of axis numbers); op sum, avg, max, min, prod."""
    return _out(net, net.network.add_reduce(x, _enum(net, "ReduceOperation", op), axes_mask(*axes), keepdims), name)


def softmax(net, x, name, axis=-1):
    layer = net.network.add_softmax(x)
    layer.axes = 1 << (axis % len(shape_of(x)))
    return _out(net, layer, name)


def topk(net, x, name, k, axis=-1, largest=True):
    """(values, indices) of the k largest (or smallest) along `axis`; `k` an int, or a 0-d int32 tensor when it is
    known only at run time (e.g. min(max_det, anchors) on a dynamic image size)."""
    dynamic = not isinstance(k, (int, np.integer))
    layer = net.network.add_topk(x, net.trt.TopKOperation.MAX if largest else net.trt.TopKOperation.MIN,
                                 1 if dynamic else int(k), 1 << (axis % len(shape_of(x))))
    if dynamic:
        layer.set_input(1, k)
    net.named(layer, name)
    return layer.get_output(0), layer.get_output(1)


def nms(net, boxes, scores, name, max_det, iou_threshold, score_threshold, topk_limit):
    """TensorRT's INMSLayer on boxes (B, N, 4) x1y1x2y2 and scores (B, N, C): (selected (K, 3) rows of (batch,
    class, box), sorted by batch then decreasing score; the count K as a 0-d tensor)."""
    layer = net.network.add_nms(boxes, scores, constant(net, np.array(max_det), f"{name}.max_det", np.int32))
    layer.set_input(3, constant(net, np.array(iou_threshold), f"{name}.iou_threshold", np.float32))
    layer.set_input(4, constant(net, np.array(score_threshold), f"{name}.score_threshold", np.float32))
    layer.topk_box_limit = topk_limit
    net.named(layer, name)
    return layer.get_output(0), layer.get_output(1)


# ---- linear algebra
def matmul(net, a, b, name, transpose_a=False, transpose_b=False):
    op = net.trt.MatrixOperation
    return _out(net, net.network.add_matrix_multiply(a, op.TRANSPOSE if transpose_a else op.NONE, b,
                                                     op.TRANSPOSE if transpose_b else op.NONE), name)


def linear(net, x, prefix, c_out=None, bias=True):
    """nn.Linear on (..., C): x @ W^T (+ b), weights `prefix.weight` (c_out, C) and `prefix.bias`; `c_out` defaults
    to the weight's rows. The product is `prefix.matmul`, the layer's output (after the bias) is `prefix`."""
    dims = shape_of(x)
    c_in = dims[-1]
    if c_out is None:
        c_out = int(net.weights.shape(f"{prefix}.weight")[0])
    rank = len(dims)
    x = net.quantize_input(x, prefix)
    w_const = net.quantized_weight(prefix, (c_out, c_in), axis=rank - 2, view=(1,) * (rank - 2) + (c_out, c_in))
    if w_const is None:
        w = net.weight(f"{prefix}.weight", (c_out, c_in)).reshape((1,) * (rank - 2) + (c_out, c_in))
        w_const = weight_constant(net, w, f"{prefix}.weight")
    y = matmul(net, x, w_const, f"{prefix}.matmul" if bias else prefix, transpose_b=True)
    if not bias:
        return y
    b = net.weight(f"{prefix}.bias", (c_out,)).reshape((1,) * (rank - 1) + (c_out,))
    return elementwise(net, y, weight_constant(net, b, f"{prefix}.bias"), prefix, "sum")


# ---- convolution, normalization, pooling
def conv2d(net, x, prefix, c_out, k, s=1, p=0, g=1, d=1, bias=True):
    """nn.Conv2d: weights `prefix.weight` (c_out, c_in/g, k, k) and, with `bias`, `prefix.bias`. In an INT8
    network the input and the kernel come through Q/DQ pairs (the kernel as input 1, per output channel); a
    `=fp32` fallback runs in float32 between casts (`prefix.float`, `prefix.half`)."""
    c_in = shape_of(x)[1]
    kh, kw = (k, k) if isinstance(k, int) else k
    wshape = (c_out, c_in // g, kh, kw)
    fp32 = net.float32_layer(prefix)
    dtype = np.float32 if fp32 else None
    if fp32:
        x = cast(net, x, f"{prefix}.float", "float32")
    x = net.quantize_input(x, prefix)
    kernel = net.quantized_weight(prefix, wshape)
    w = net.weight(f"{prefix}.weight", wshape, dtype) if kernel is None else net.empty_weights()
    b = net.weight(f"{prefix}.bias", (c_out,), dtype) if bias else net.empty_weights()
    layer = net.network.add_convolution_nd(x, c_out, (kh, kw), w, b)
    if kernel is not None:
        layer.set_input(1, kernel)
    layer.stride_nd = (s, s) if isinstance(s, int) else s
    layer.padding_nd = (p, p) if isinstance(p, int) else p
    layer.dilation_nd = (d, d) if isinstance(d, int) else d
    layer.num_groups = g
    y = _out(net, layer, prefix)
    return cast(net, y, f"{prefix}.half", "float16") if fp32 else y


def conv_transpose2d(net, x, prefix, c_out, k, s=1, p=0, bias=True):
    """nn.ConvTranspose2d (groups 1): weights `prefix.weight` (c_in, c_out, k, k), TensorRT's deconvolution layout,
    and `prefix.bias`. Not quantized: INT8 networks run it in their remainder precision."""
    c_in = shape_of(x)[1]
    w = net.weight(f"{prefix}.weight", (c_in, c_out, k, k))
    b = net.weight(f"{prefix}.bias", (c_out,)) if bias else net.empty_weights()
    layer = net.network.add_deconvolution_nd(x, c_out, (k, k), w, b)
    layer.stride_nd = (s, s)
    layer.padding_nd = (p, p)
    return _out(net, layer, name=prefix)


def batchnorm(net, x, prefix, eps):
    """nn.BatchNorm2d in inference: a per-channel scale layer (TensorRT fuses it into the convolution). The
    statistics are checked where they are folded: a negative running_var (or var + eps <= 0) would build an engine
    of NaNs, so it is refused naming the weight."""
    c = shape_of(x)[1]
    gamma = net.weights.get(f"{prefix}.weight", (c,), dtype=np.float64)
    beta = net.weights.get(f"{prefix}.bias", (c,), dtype=np.float64)
    mean = net.weights.get(f"{prefix}.running_mean", (c,), dtype=np.float64)
    var = net.weights.get(f"{prefix}.running_var", (c,), dtype=np.float64)
    net.weights.mark_used(f"{prefix}.num_batches_tracked")
    bad = np.flatnonzero(~(var + eps > 0))
    if bad.size:
        raise UserError(f"{prefix}.running_var[{bad[0]}] = {float(var[bad[0]]):g}: a BatchNorm variance must be >= 0 "
                        f"(var + eps > 0); these weights would give NaN outputs")
    multiplier = gamma / np.sqrt(var + eps)
    shift = beta - mean * multiplier
    if not (np.isfinite(multiplier).all() and np.isfinite(shift).all()):
        raise UserError(f"{prefix}: folding the BatchNorm statistics gives non-finite values (weights out of range)")
    return scale(net, x, prefix, shift=shift, scale=multiplier)


def conv_norm_act(net, x, conv, norm, c_out, k, s=1, p=None, g=1, d=1, eps=1e-5, act=None, act_name=None,
                  bias=False):
    """Conv2d (no bias) named `conv` → BatchNorm2d named `norm` → activation `act` (a PyTorch name, or None) named
    `act_name` (default `norm + ".act"`). One helper for every codebase's conv + BN + activation: YOLO's `Conv`
    (`m.conv`, `m.bn`, `m.act`), torchvision's Conv2dNormActivation (`m.0`, `m.1`, `m.2`) and ResNet's
    `conv1` / `bn1`. Padding defaults to "same" for odd kernels, (k - 1) // 2 · d."""
    if p is None:
        p = (k - 1) // 2 * d
    y = conv2d(net, x, conv, c_out, k, s, p, g, d, bias=bias)
    y = batchnorm(net, y, norm, eps)
    return activation(net, y, act_name or f"{norm}.act", act)


def pool(net, x, name, kind, k, s=1, p=0, count_include_pad=True):
    """nn.MaxPool2d / nn.AvgPool2d(k, s, p, count_include_pad); kind "max" or "avg"."""
    layer = net.network.add_pooling_nd(x, _enum(net, "PoolingType", "max" if kind == "max" else "average"), (k, k))
    layer.stride_nd = (s, s)
    layer.padding_nd = (p, p)
    if kind != "max":
        layer.average_count_excludes_padding = not count_include_pad
    return _out(net, layer, name)


def global_avgpool(net, x, name, keepdims=True):
    """nn.AdaptiveAvgPool2d(1) (keepdims: (N, C, 1, 1)) or x.mean((2, 3)) (not keepdims: (N, C))."""
    return reduce(net, x, name, "avg", (2, 3), keepdims)


def _normalization(net, x, scale_t, shift_t, axes, eps, groups, name):
    # add_normalization_v2 where the API has it (TensorRT 11; add_normalization is deprecated there)
    add = getattr(net.network, "add_normalization_v2", None) or net.network.add_normalization
    layer = add(x, scale_t, shift_t, axes)
    layer.epsilon = eps
    if groups is not None:
        layer.num_groups = groups
    return _out(net, layer, name)


def layernorm(net, x, prefix, eps=1e-5, axis=-1):
    """nn.LayerNorm(C) over the last axis (or `axis`, e.g. 1 for a channels-first LayerNorm2d) of any tensor:
    INormalizationLayer over that one axis, with `prefix.weight` / `prefix.bias` broadcast along it."""
    dims = shape_of(x)
    rank = len(dims)
    axis %= rank
    c = dims[axis]
    bshape = tuple(c if i == axis else 1 for i in range(rank))
    weight = weight_constant(net, net.weight(f"{prefix}.weight", (c,)).reshape(bshape), f"{prefix}.weight")
    bias = weight_constant(net, net.weight(f"{prefix}.bias", (c,)).reshape(bshape), f"{prefix}.bias")
    return _normalization(net, x, weight, bias, 1 << axis, eps, None, prefix)


def groupnorm(net, x, prefix, groups, eps=1e-5):
    """nn.GroupNorm(groups, C) on (N, C, ...) (timm's GroupNorm1 is groups=1), affine weights `prefix.weight` and
    `prefix.bias` per channel: one INormalizationLayer over each group's channels and the spatial axes.
    add_normalization_v2 (TensorRT 11) takes the affine per channel. add_normalization (TensorRT 10) takes it per
    group when groups > 1: there the layer normalizes with unit scale / zero bias (`prefix.norm`) and a channel scale
    layer (`prefix`) applies the affine; TensorRT fuses the two."""
    rank = len(shape_of(x))
    c = shape_of(x)[1]
    first = 1 if groups == 1 else 2  # with num_groups > 1 the axes are those after the channel axis
    axes = axes_mask(*range(first, rank))
    bshape = (1, c) + (1,) * (rank - 2)
    weight = net.weight(f"{prefix}.weight", (c,))
    bias = net.weight(f"{prefix}.bias", (c,))
    if hasattr(net.network, "add_normalization_v2") or groups == 1:
        return _normalization(net, x, weight_constant(net, weight.reshape(bshape), f"{prefix}.weight"),
                              weight_constant(net, bias.reshape(bshape), f"{prefix}.bias"), axes, eps, groups, prefix)
    gshape = (1, groups) + (1,) * (rank - 2)
    y = _normalization(net, x, constant(net, np.ones(gshape), f"{prefix}.norm.ones"),
                       constant(net, np.zeros(gshape), f"{prefix}.norm.zeros"), axes, eps, groups, f"{prefix}.norm")
    return scale(net, y, prefix, shift=bias, scale=weight)


# ---- resampling
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
    LINEAR with ALIGN_CORNERS (align_corners=True) or HALF_PIXEL; its output size is given as dimensions (from a dims
    tensor when N or C is dynamic), so that TensorRT maps with in / out; `scales` only with dynamic H / W and
    integer scale factors (exact for either reading of TensorRT's scales). Axes whose size does not change are
    copied, as PyTorch's CPU kernels do whatever the scale factor."""
    dims = shape_of(x)
    if len(dims) != 4:
        raise ValueError(f"{name}: interpolate takes an (N, C, H, W) tensor, got shape {dims}")
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{name}: interpolate needs exactly one of size and scale_factor")
    if mode not in ("nearest", "bilinear"):
        raise ValueError(f"{name}: unsupported interpolation mode {mode!r} (nearest, bilinear)")
    if mode == "nearest" and (align_corners or antialias):
        raise ValueError(f"{name}: align_corners and antialias only apply to bilinear (as in PyTorch)")
    h, w = dims[2:]
    what = (f"F.interpolate(size={size}, scale_factor={scale_factor}, mode={mode!r}, align_corners={align_corners}, "
            f"antialias={antialias}) of {dims}")
    if size is not None:
        out = (size, size) if isinstance(size, int) else tuple(int(s) for s in size)
        scales = (None, None)
    else:
        f = (scale_factor, scale_factor) if isinstance(scale_factor, (int, float)) else tuple(scale_factor)
        scales = (float(f[0]), float(f[1]))
        if min(dims) < 0 and all(s == int(s) and s >= 1 for s in scales) and not antialias:
            # Integer factors on a dynamic dims: `scales` is exact under either reading of TensorRT's scales
            # (out = in · s, source = dst / s), and needs no dims arithmetic.
            layer = _resize_layer(net, x, mode, align_corners)
            layer.scales = [1.0, 1.0, scales[0], scales[1]]
            return _out(net, layer, name)
        if h < 0 or w < 0:
            if not all(s == int(s) and s >= 1 for s in scales) or (antialias and align_corners):
                raise NotImplementedError(f"{name}: {what}: with dynamic H / W only integer scale factors are "
                                          f"supported (the output size must be known at build time)")
            layer = _resize_layer(net, x, mode, align_corners)
            layer.scales = [1.0, 1.0, scales[0], scales[1]]
            return _out(net, layer, name)
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
            x = gather(net, x, _torch_nearest(l_in, l_out, s).astype(np.int32),
                       name if last else f"{name}.{'hw'[axis - 2]}", axis)
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
    dims = shape_of(x)
    layer = _resize_layer(net, x, mode, align_corners)
    if dims[0] >= 0 and dims[1] >= 0:
        layer.shape = (dims[0], dims[1]) + tuple(out)
    else:
        nc = slice_axis(net, shape(net, x, f"{name}.shape"), f"{name}.shape.nc", 0, 0, 2)
        hw = constant(net, np.array(out, dtype=np.int64), f"{name}.shape.hw", np.int64)
        layer.set_input(1, concat(net, [nc, hw], f"{name}.size", axis=0))
    return _out(net, layer, name)


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
    return _out(net, net.network.add_plugin(call), name)


# ---- padding, grid sampling, batched gather (multi-scale deformable attention: netdefs/layers/rtdetr.py)
def pad_end(net, x, name, pads):
    """F.pad with zeros after the end of each axis: `pads` (one count per axis, 0 for none), e.g. F.pad(x, [0, 1,
    0, 1]) on NCHW is (0, 0, 1, 1). An ISliceLayer in FILL mode reading past the end; a dynamic dimension takes its
    size from the input's shape at run time."""
    dims = shape_of(x)
    rank = len(dims)
    layer = net.network.add_slice(x, [0] * rank, [0] * rank, [1] * rank)
    layer.mode = net.trt.SampleMode.FILL
    if all(d >= 0 for d in dims):
        layer.shape = [d + p for d, p in zip(dims, pads)]
    else:
        layer.set_input(2, elementwise(net, shape(net, x, f"{name}.shape"),
                                       constant(net, np.asarray(pads, dtype=np.int64), f"{name}.pads", np.int64),
                                       f"{name}.size", "sum"))
    return _out(net, layer, name)


def grid_sample(net, x, grid, name, mode="bilinear", padding_mode="zeros", align_corners=False):
    """F.grid_sample(x, grid, mode, padding_mode, align_corners) of (N, C, H, W) at grid (N, Ho, Wo, 2) of
    normalised (x, y): IGridSampleLayer, whose sampling is ONNX GridSample's, which is PyTorch's."""
    layer = net.network.add_grid_sample(x, grid)
    layer.interpolation_mode = _enum(net, "InterpolationMode", {"bilinear": "linear", "nearest": "nearest",
                                                                "bicubic": "cubic"}[mode])
    layer.sample_mode = _enum(net, "SampleMode", {"zeros": "fill", "border": "clamp", "reflection": "reflect"}[
        padding_mode])
    layer.align_corners = bool(align_corners)
    return _out(net, layer, name)


def gather_batched(net, x, indices, name, axis=1):
    """Per batch item b: x[b] gathered along `axis` by indices[b] (x (B, N, ...), indices (B, K) -> (B, K, ...)):
    a DEFAULT-mode gather with one elementwise (batch) dimension, what `x[batch_ind, topk_ind]` does in PyTorch."""
    layer = net.network.add_gather(x, indices, axis)
    layer.num_elementwise_dims = 1
    return _out(net, layer, name)
