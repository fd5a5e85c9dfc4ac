"""What TensorRT will fuse, predicted from a network definition, with layer counts, weights and FLOPs.

This is a prediction from the fusion rules TensorRT documents, not TensorRT's decision: the engine inspector of a
real build (tools/inspect_engine.py ENGINE) shows what was actually fused, and tactics can decline a documented fusion or
make undocumented ones (TensorRT 8.6+ often folds a whole pointwise epilogue such as SiLU into a convolution).
Every rule cites where it comes from: "catalog" is the TensorRT documentation's Layer Fusion Catalog,
https://docs.nvidia.com/deeplearning/tensorrt/latest/performance/fusion-catalog.html (TensorRT 8.x Developer Guide
§13.2.4.2 "Types of Fusions" / "PointWise Fusion"); "log" is what TensorRT's verbose build log prints; "listing" is
an engine layer listing of real TensorRT in shared/real_engines/ (netdefs/analysis/real_engines.py aligns them with
the prediction). Where the listings of TensorRT 8.x and 10.x disagree, `trt_version` picks the rule.

Works on `tensorrt` and `reftrt` networks alike (layers are downcast by their type, as Polygraphy does); needs
neither torch nor a GPU.
"""
import json

import numpy as np

# rule -> (label, source). Colours are for the picture.
RULES = {
    "conv_scale": ("Convolution + Scale", "catalog: Convolution and Scale (UNIFORM/CHANNEL scale, constant power)"),
    "conv_scale_act": ("Convolution + Scale + Act.", "catalog: Convolution and Scale, then Convolution and ReLU / "
                                                     "Clip / GELU Activation"),
    "conv_act": ("Convolution + Activation", "catalog: Convolution and ReLU Activation / Convolution and Clip "
                                             "Activation / Convolution and GELU Activation"),
    "conv_eltwise": ("Convolution + ElementWise", "catalog: Convolution and ElementWise Operation (sum, min or max, "
                                                  "no broadcast), with a following ReLU; the add joins the "
                                                  "convolution of its LAST input (listing resnet18-a100-fp32: "
                                                  "Conv_16 + Add_17 + Relu_18, the shortcut, not Conv_15)"),
    "conv_act_pool": ("Convolution + Act. + Pooling", "catalog: Convolution and Pooling; listing "
                                                      "resnet18-a100-qat-residual: 'conv1.weight + QuantizeLinear_7 + "
                                                      "Conv_9 + MaxPool_12' (ConvActPool, INT8 out) when the pooled "
                                                      "tensor is only quantized"),
    "gemm_bias": ("MatMul + Bias (+ Act.)", "catalog: FullyConnected (becomes a Convolution: bias, then ReLU); "
                                            "listing resnet18-a100-fp32 Gemm_48 (8.x), mnist-h100-trt10.16 "
                                            "node_linear + node_relu_2 (10.x Myelin gemm epilogue)"),
    "quantize": ("Quantize (one kernel)", "listing resnet18-a100-qat: QuantizeLinear_15 / QuantizeLinear_65 "
                                          "(Reformat, Origin QDQ): the sibling quantizers of one tensor are one "
                                          "kernel, a cast before them is part of it (QuantizeLinear_2 reads FP32)"),
    "reformat": ("Precision cast (reformat copy)", "listing resnet18-a100-fp16: 'Reformatting CopyNode for Input "
                                                   "Tensor 0 to Conv_0 + Relu_1' (FP32 -> FP16) and the FP16 -> "
                                                   "FP32 copy after reshape_after_Gemm_48: a copy, not compute"),
    "softmax_part1": ("SoftMax part 1 (Myelin)", "TensorRT 10.x, listing mnist-h100-trt10.16: "
                                                 "__myl_MaxrSubExpSum [node_softmax]: max, exp and sum"),
    "softmax_part2": ("SoftMax part 2 (+ TopK) (Myelin)", "TensorRT 10.x, listing mnist-h100-trt10.16: "
                                                          "__myl_DivMulTopk [node_softmax][node_argmax]: the "
                                                          "division, with a following TopK"),
    "myelin_reshape": ("Reshape into Myelin (copy kernel)", "TensorRT 10.x, listing mnist-h100-trt10.16: "
                                                            "__myl_Resh [node_view] between the last pooling and "
                                                            "the first gemm"),
    "conv_pool": ("Convolution + Pooling", "catalog: Convolution and Pooling (same precision)"),
    "padding_conv": ("Padding + Convolution", "catalog: Padding and Convolution/Deconvolution (non-negative pads)"),
    "scale_act": ("Scale + Activation", "catalog: Scale and Activation"),
    "relu_relu": ("ReLU + ReLU", "catalog: ReLU ReLU Activation"),
    "shuffle_shuffle": ("Shuffle + Shuffle", "catalog: Shuffle and Shuffle"),
    "shuffle_reduce": ("Shuffle + Reduce", "catalog: Shuffle and Reduce (permutation only, keep dimensions)"),
    "softmax_log": ("SoftMax + Log", "catalog: SoftMax and Log"),
    "softmax_topk": ("SoftMax + TopK", "catalog: SoftMax and TopK"),
    "reduce_pool": ("Reduce as Pooling", "catalog: Reduce (average over H and W becomes a Pooling layer)"),
    "pointwise": ("PointWise", "catalog: PointWise Fusion (Activation, ElementWise, Unary, UNIFORM Scale and size-1 "
                               "Constant layers chained into one kernel)"),
    "concat_elided": ("Concatenation (elided)", "log: 'Eliminating concatenation': producers write into the output"),
    "constant": ("Constant (no kernel)", "weights stored in the engine; read by their consumers"),
    "shape": ("Shape computation (build time)", "shape tensors are computed when shapes are set, not by a kernel"),
    "noop": ("Identity / reshape (no kernel)", "log: an identity of the same type or a Shuffle without transpose "
                                               "is a copy TensorRT removes (NoOp in the inspector)"),
    "qdq_weights": ("Q/DQ of weights (build time)", "catalog: Q/DQ fusions: quantized weights are folded at build "
                                                    "time (constant -> Quantize -> Dequantize)"),
    "qdq_weighted": ("Dequantize into weighted layer", "catalog: Q/DQ fusions: fuse with weighted node (a "
                                                        "Dequantize feeding a convolution / matrix multiply makes "
                                                        "it an INT8 layer)"),
    "qdq_output": ("Quantize into producer", "catalog: Q/DQ fusions: fuse with non-weighted node (the layer before "
                                              "a Quantize writes INT8 directly)"),
    "qdq_residual": ("Residual Dequantize into the conv + add", "listing resnet18-a100-qat-residual: the INT8 "
                                                                 "residual read by '... Conv_65 + Add_73 + Relu_74'"),
    "single": ("Single layer", "no documented fusion applies"),
}
COLOURS = {"conv_scale": "#9ecae1", "conv_scale_act": "#4292c6", "conv_act": "#6baed6", "conv_eltwise": "#3182bd", "conv_pool": "#c6dbef",
           "conv_act_pool": "#08519c", "gemm_bias": "#807dba", "quantize": "#fec44f", "reformat": "#d9d9d9",
           "softmax_part1": "#41ab5d", "softmax_part2": "#238b45", "myelin_reshape": "#dadaeb",
           "padding_conv": "#bdd7e7", "scale_act": "#fdae6b", "relu_relu": "#fd8d3c", "shuffle_shuffle": "#bcbddc",
           "shuffle_reduce": "#9e9ac8", "softmax_log": "#a1d99b", "softmax_topk": "#74c476",
           "reduce_pool": "#c7e9c0", "pointwise": "#fcbba1", "concat_elided": "#e0e0e0", "constant": "#f0f0f0",
           "shape": "#f0f0f0", "noop": "#f0f0f0", "qdq_weights": "#f0f0f0", "qdq_weighted": "#fee391",
           "single": "#ffffff"}
NO_KERNEL = {"concat_elided", "constant", "shape", "noop", "qdq_weights"}
COPIES = {"reformat"}  # kernels that move data between precisions: counted apart from compute kernels
TRT_VERSIONS = ("8", "10")  # 8: the 8.x listings (no Myelin for CNNs); 10: Myelin regions as 10.16 shows them
DEFAULT_TRT_VERSION = "10"
WEIGHTED = {"CONVOLUTION", "DECONVOLUTION", "MATRIX_MULTIPLY"}

_CLASSES = {  # LayerType name -> the ILayer subclass holding its attributes
    "CONVOLUTION": "IConvolutionLayer", "DECONVOLUTION": "IDeconvolutionLayer", "SCALE": "IScaleLayer",
    "ACTIVATION": "IActivationLayer", "ELEMENTWISE": "IElementWiseLayer", "UNARY": "IUnaryLayer",
    "CONSTANT": "IConstantLayer", "REDUCE": "IReduceLayer", "SHUFFLE": "IShuffleLayer", "PADDING": "IPaddingLayer",
    "POOLING": "IPoolingLayer", "MATRIX_MULTIPLY": "IMatrixMultiplyLayer", "SOFTMAX": "ISoftMaxLayer",
    "TOPK": "ITopKLayer", "RESIZE": "IResizeLayer", "CAST": "ICastLayer", "NORMALIZATION": "INormalizationLayer",
    "CONCATENATION": "IConcatenationLayer", "IDENTITY": "IIdentityLayer",
}
POINTWISE = {"ACTIVATION", "ELEMENTWISE", "UNARY"}
FUSABLE_CONV_ACT = {"RELU", "CLIP", "GELU_ERF", "GELU_TANH", "LEAKY_RELU"}


class Layer:
    """One network layer, read once: name, type, tensors, and the numbers the report needs."""

    def __init__(self, index, trt, layer):
        self.index, self.name = index, layer.name
        # ILayer.type, read through the base class: IActivationLayer.type and IPoolingLayer.type shadow it
        self.type = trt.ILayer.type.__get__(layer, trt.ILayer).name
        cls = _CLASSES.get(self.type)
        if cls and hasattr(trt, cls):
            layer.__class__ = getattr(trt, cls)
        self.inputs = [t.name if t is not None else None for t in (layer.get_input(i) for i in range(layer.num_inputs))]
        outs = [layer.get_output(i) for i in range(layer.num_outputs)]
        self.outputs = [t.name for t in outs]
        self.shapes = [tuple(int(d) for d in t.shape) for t in outs]
        self.dtypes = [t.dtype.name for t in outs]
        self.in_shapes = [tuple(int(d) for d in t.shape) if t is not None else None
                          for t in (layer.get_input(i) for i in range(layer.num_inputs))]
        self.attrs, self.weights = _attributes(self.type, layer)
        self.flops = _flops(self)

    @property
    def kind(self):
        op = self.attrs.get("op")
        return f"{self.type.lower()}{f'({op})' if op else ''}"


def _count(w):
    try:
        return int(w.size)
    except (AttributeError, TypeError):
        return 0


def _attributes(kind, layer):
    a, weights = {}, 0
    if kind in ("CONVOLUTION", "DECONVOLUTION"):
        a = {"kernel": tuple(layer.kernel_size_nd), "groups": int(layer.num_groups),
             "maps": int(layer.num_output_maps), "stride": tuple(layer.stride_nd)}
        weights = _count(layer.kernel) + _count(layer.bias)
    elif kind == "SCALE":
        a = {"mode": layer.mode.name}
        weights = _count(layer.shift) + _count(layer.scale) + _count(layer.power)
        a["power"] = _count(layer.power)
    elif kind == "ACTIVATION":
        a = {"op": layer.type.name}
    elif kind == "ELEMENTWISE":
        a = {"op": layer.op.name}
    elif kind == "UNARY":
        a = {"op": layer.op.name}
    elif kind == "CONSTANT":
        weights = _count(layer.weights)
    elif kind == "REDUCE":
        a = {"op": layer.op.name, "axes": int(layer.axes), "keep": bool(layer.keep_dims)}
    elif kind == "SHUFFLE":
        first, second = (list(p._values(8)) if hasattr(p, "_values") else list(p)
                         for p in (layer.first_transpose, layer.second_transpose))
        a = {"transpose": first != list(range(8)) or second != list(range(8))}
    elif kind == "PADDING":
        a = {"pads": tuple(layer.pre_padding_nd) + tuple(layer.post_padding_nd)}
    elif kind == "POOLING":
        a = {"window": tuple(layer.window_size_nd), "op": layer.type.name}
    elif kind == "IDENTITY":
        a = {}
    return a, weights


def _volume(shape):
    return int(np.prod([max(d, 1) for d in shape])) if shape is not None else 0  # -1 (dynamic) counted as 1


def _flops(layer):
    """Floating-point operations at batch 1 (dynamic dimensions counted as 1); a multiply-add is 2."""
    out = _volume(layer.shapes[0]) if layer.shapes else 0
    t = layer.type
    if t == "CONVOLUTION":
        k = int(np.prod(layer.attrs["kernel"]))
        c_in = layer.in_shapes[0][1] if layer.in_shapes[0] and len(layer.in_shapes[0]) > 1 else 1
        return 2 * out * (c_in // max(layer.attrs["groups"], 1)) * k
    if t == "DECONVOLUTION":
        k = int(np.prod(layer.attrs["kernel"]))
        return 2 * _volume(layer.in_shapes[0]) * layer.attrs["maps"] // max(layer.attrs["groups"], 1) * k
    if t == "MATRIX_MULTIPLY":
        a = layer.in_shapes[0]
        return 2 * out * (max(a[-1], 1) if a else 1)  # the contracted dimension, for an untransposed A
    if t in ("ACTIVATION", "ELEMENTWISE", "UNARY", "SCALE", "CAST", "PARAMETRIC_RELU", "SELECT"):
        return out
    if t == "POOLING":
        return out * int(np.prod(layer.attrs["window"]))
    if t in ("REDUCE", "SOFTMAX"):
        return _volume(layer.in_shapes[0]) * (3 if t == "SOFTMAX" else 1)
    if t == "NORMALIZATION":
        return 5 * out
    if t == "RESIZE":
        return 4 * out
    return 0


class Group:
    """Layers predicted to run as one kernel (or as none)."""

    def __init__(self, rule, layers):
        self.rule, self.layers = rule, list(layers)
        self.also = set()  # further rules applied inside the group (a Dequantize absorbed by a convolution)

    @property
    def kernel(self):
        """A compute kernel (reformat copies and elided layers are not)."""
        return self.rule not in NO_KERNEL and self.rule not in COPIES

    @property
    def name(self):
        names = [lay.name for lay in self.layers]
        if self.rule == "pointwise" and len(names) > 1:
            return f"fusedPointwiseNode({', '.join(names)})"
        return " + ".join(names)  # TensorRT's naming of fused layers


def read_network(trt, network):
    """The layers in a topological order, stable with respect to the order they were added (a layer can be added
    before one of its inputs and wired up with set_input later)."""
    layers = [Layer(i, trt, network.get_layer(i)) for i in range(network.num_layers)]
    producer = {t: lay for lay in layers for t in lay.outputs}
    done, order = set(), []

    def visit(lay):
        stack = [(lay, iter(lay.inputs))]
        while stack:
            node, pending = stack[-1]
            for t in pending:
                p = producer.get(t)
                if p is not None and p.index not in done:
                    stack.append((p, iter(p.inputs)))
                    break
            else:
                stack.pop()
                if node.index not in done:
                    done.add(node.index)
                    order.append(node)

    for lay in layers:
        visit(lay)
    for i, lay in enumerate(order):
        lay.index = i
    return order


def predict(layers, network_outputs=(), trt_version=DEFAULT_TRT_VERSION):
    """Group `layers` (network order) by the documented fusions and by what the real listings show; returns groups
    in network order. `trt_version` ("8" or "10") picks where the two disagree (Myelin, in 10.x)."""
    if trt_version not in TRT_VERSIONS:
        raise ValueError(f"trt_version must be one of {', '.join(TRT_VERSIONS)}, got {trt_version!r}")
    producer = {}
    for lay in layers:
        for t in lay.outputs:
            producer[t] = lay
    consumers = {}
    for lay in layers:
        for t in lay.inputs:
            if t is not None:
                consumers.setdefault(t, []).append(lay)
    outputs = set(network_outputs)
    ancestors = {}
    for lay in layers:
        anc = set()
        for t in lay.inputs:
            p = producer.get(t)
            if p is not None:
                anc |= ancestors[p.index] | {p.index}
        ancestors[lay.index] = anc
    group_of, groups = {}, []
    split = []  # groups holding the first part of a layer that runs as two kernels (Myelin's softmax)

    def new(rule, members):
        g = Group(rule, members)
        groups.append(g)
        for m in members:
            group_of[m.index] = g
        return g

    def sole_consumer(t):
        users = consumers.get(t, [])
        return users[0] if len(users) == 1 and t not in outputs and users[0].index not in group_of else None

    ctx = _Context(producer, consumers, outputs, group_of)
    # build-time shape computations: Shape layers and what is computed only from them (and constants)
    build_time = set()
    for lay in layers:
        srcs = [producer.get(t) for t in lay.inputs if t is not None]
        if lay.type == "SHAPE" or (srcs and lay.type != "CONSTANT" and any(s.index in build_time for s in srcs if s)
                                   and all(s is None or s.index in build_time or s.type == "CONSTANT" for s in srcs)
                                   and all(d in ("INT32", "INT64", "BOOL") for d in lay.dtypes)):
            build_time.add(lay.index)
    for lay in layers:  # constants only shapes read
        users = [u for t in lay.outputs for u in consumers.get(t, [])]
        if lay.type == "CONSTANT" and users and all(u.index in build_time for u in users):
            build_time.add(lay.index)

    for lay in layers:
        if lay.index in group_of:
            continue
        users = consumers.get(lay.outputs[0], []) if lay.outputs else []
        if lay.type == "DEQUANTIZE" and len(users) == 1 and users[0].type in WEIGHTED:
            continue  # the weighted layer takes it (below)
        if lay.index in build_time:
            new("shape", [lay])
        elif lay.type == "QUANTIZE" and getattr(producer.get(lay.inputs[0]), "type", None) == "CONSTANT":
            new("qdq_weights", [lay] + [u for u in users if u.type == "DEQUANTIZE" and u.index not in group_of])
        elif lay.type == "QUANTIZE" and _into_producer(lay, ctx):
            pass
        elif lay.type == "QUANTIZE":
            new("quantize", _sibling_quantizers(lay, ctx))
        elif lay.type == "CAST" and _float_cast(lay, producer):
            quantizers = [u for u in users if u.type == "QUANTIZE" and u.index not in group_of]
            if users and len(quantizers) == len(users) and lay.outputs[0] not in outputs:
                new("quantize", [lay] + quantizers)
            else:
                new("reformat", [lay])
        elif lay.type in ("CONVOLUTION", "DECONVOLUTION"):
            _absorb_dequantize(_conv_group(lay, new, sole_consumer, ctx, groups), lay, producer, group_of)
        elif lay.type == "MATRIX_MULTIPLY":
            _absorb_dequantize(_gemm_group(lay, new, sole_consumer, ctx), lay, producer, group_of)
        elif lay.type == "SCALE" and (nxt := sole_consumer(lay.outputs[0])) and nxt.type == "ACTIVATION":
            new("scale_act", [lay, nxt])
        elif lay.type == "ACTIVATION" and lay.attrs["op"] == "RELU" and (nxt := sole_consumer(lay.outputs[0])) \
                and nxt.type == "ACTIVATION" and nxt.attrs["op"] == "RELU":
            new("relu_relu", [lay, nxt])
        elif lay.type == "SHUFFLE":
            members = [lay]
            while (nxt := sole_consumer(members[-1].outputs[0])) and nxt.type == "SHUFFLE":
                members.append(nxt)
            if len(members) > 1:
                new("shuffle_shuffle", members)
            elif (nxt := sole_consumer(lay.outputs[0])) and nxt.type == "REDUCE" and nxt.attrs["keep"] \
                    and not _reshapes(lay):
                new("shuffle_reduce", [lay, nxt])
            elif trt_version == "10" and not lay.attrs["transpose"] and _enters_myelin(lay, ctx):
                new("myelin_reshape", [lay])
            else:
                new("single" if lay.attrs["transpose"] else "noop", [lay])
        elif lay.type == "SOFTMAX" and trt_version == "10":
            # Myelin: max/exp/sum, then the division, which takes a following TopK (ArgMax) along
            split.append(Group("softmax_part1", [lay]))
            nxt = sole_consumer(lay.outputs[0])
            new("softmax_part2", [lay] + ([nxt] if nxt is not None and nxt.type == "TOPK" else []))
        elif lay.type == "SOFTMAX" and (nxt := sole_consumer(lay.outputs[0])) and (
                nxt.type == "TOPK" or (nxt.type == "UNARY" and nxt.attrs["op"] == "LOG")):
            new("softmax_topk" if nxt.type == "TOPK" else "softmax_log", [lay, nxt])
        elif lay.type == "REDUCE" and lay.attrs["op"] == "AVG" and len(lay.in_shapes[0] or ()) == 4 \
                and lay.attrs["axes"] == 0b1100:
            new("reduce_pool", [lay])
        elif lay.type == "CONCATENATION":
            new("concat_elided", [lay])
        elif lay.type == "CONSTANT":
            new("constant", [lay])
        elif lay.type == "IDENTITY" and lay.dtypes[0] == _input_dtype(lay, producer):
            new("noop", [lay])
        elif _pointwise(lay):
            _pointwise_group(lay, new, producer, group_of, ancestors)
        else:
            new("single", [lay])
    for lay in layers:  # a Dequantize whose weighted consumer could not take it
        if lay.index not in group_of:
            new("single", [lay])
    _absorb_residual_dequantize(groups, ctx)
    _absorb_scalar_constants(groups, consumers, group_of)
    kept = list({id(g): g for g in group_of.values()}.values()) + split
    return sorted(kept, key=lambda g: (min(m.index for m in g.layers), g.rule != "softmax_part1"))


class _Context:
    """The graph around the layer being grouped."""

    def __init__(self, producer, consumers, outputs, group_of):
        self.producer, self.consumers, self.outputs, self.group_of = producer, consumers, outputs, group_of

    def users(self, tensor):
        return self.consumers.get(tensor, [])


def _float_cast(lay, producer):
    floats = ("FLOAT", "HALF", "BF16")
    return lay.dtypes[0] in floats and _input_dtype(lay, producer) in floats


def _sibling_quantizers(quantize, ctx):
    """Quantizers of the same tensor are one kernel: listing resnet18-a100-qat, QuantizeLinear_65 writes the one
    INT8 tensor both layer2.0.conv1 and layer2.0.downsample.0 read."""
    return [quantize] + [u for u in ctx.users(quantize.inputs[0])
                         if u.type == "QUANTIZE" and u is not quantize and u.index not in ctx.group_of]


def _enters_myelin(shuffle, ctx):
    """A reshape from a convolution / pooling output into a matrix multiply: TensorRT 10 copies it out of the
    convolution's vectorized layout (__myl_Resh in the mnist-h100-trt10.16 listing)."""
    src = ctx.producer.get(shuffle.inputs[0])
    users = ctx.users(shuffle.outputs[0])
    return (src is not None and src.type in ("POOLING", "CONVOLUTION", "REDUCE", "ACTIVATION")
            and len(users) == 1 and users[0].type == "MATRIX_MULTIPLY")


def _input_dtype(lay, producer):
    p = producer.get(lay.inputs[0])
    return p.dtypes[p.outputs.index(lay.inputs[0])] if p else lay.dtypes[0]


def _reshapes(shuffle):
    return shuffle.in_shapes[0] is not None and len(shuffle.in_shapes[0]) != len(shuffle.shapes[0])


def _pointwise(lay):
    return lay.type in POINTWISE or (lay.type == "SCALE" and lay.attrs.get("mode") == "UNIFORM")


def _conv_group(conv, new, sole_consumer, ctx, groups):
    producer, group_of = ctx.producer, ctx.group_of
    members, rule = [conv], "single"
    pad = producer.get(conv.inputs[0])
    if pad is not None and pad.type == "PADDING" and all(p >= 0 for p in pad.attrs["pads"]):
        prev = group_of.get(pad.index)
        if prev is not None and prev.layers == [pad]:
            groups.remove(prev)
            members.insert(0, pad)
            rule = "padding_conv"
    nxt = sole_consumer(conv.outputs[0])
    if nxt is not None and nxt.type == "SCALE" and nxt.attrs["mode"] in ("UNIFORM", "CHANNEL"):
        members.append(nxt)
        rule = "conv_scale"
        nxt = sole_consumer(nxt.outputs[0])
    if nxt is not None and nxt.type == "ELEMENTWISE" and nxt.attrs["op"] in ("SUM", "MIN", "MAX") and \
            len({s for s in nxt.in_shapes if s is not None}) == 1:
        if _add_owner(nxt, ctx) is conv:
            members.append(nxt)
            rule = "conv_eltwise"
            nxt = sole_consumer(nxt.outputs[0])
            if nxt is not None and nxt.type == "ACTIVATION" and nxt.attrs["op"] == "RELU":
                members.append(nxt)
    elif nxt is not None and nxt.type == "ACTIVATION" and nxt.attrs["op"] in FUSABLE_CONV_ACT:
        members.append(nxt)
        rule = "conv_act" if rule in ("single", "padding_conv") else "conv_scale_act"
        pool = sole_consumer(nxt.outputs[0])
        if pool is not None and pool.type == "POOLING" and _only_quantized(pool.outputs[0], ctx):
            members.append(pool)
            rule = "conv_act_pool"
    elif nxt is not None and nxt.type == "POOLING" and rule == "single":
        members.append(nxt)
        rule = "conv_pool"
    return new(rule, members)


def _only_quantized(tensor, ctx):
    users = ctx.users(tensor)
    return bool(users) and tensor not in ctx.outputs and all(u.type == "QUANTIZE" for u in users)


def _add_owner(add, ctx):
    """The convolution an add joins: the one producing its last input that a convolution produces alone (listing
    resnet18-a100-fp32/fp16/qat: Conv_16 + Add_17 + Relu_18 is the 1x1 shortcut, the add's last input, while
    Conv_15, its first, runs alone; in identity blocks the last input is the block's input, so the first input's
    convolution takes it, Conv_5 + Add_6 + Relu_7). A residual through Q/DQ is no convolution's output
    (resnet18-a100-qat-residual: layer2.0.conv2 ... + Add_115 + Relu_116)."""
    for t in reversed(add.inputs):
        conv = _conv_output(t, ctx)
        if conv is not None:
            return conv
    return None


def _conv_output(tensor, ctx):
    """The convolution whose kernel can write `tensor` (through a Scale it fuses), if no one else reads it."""
    for _ in range(2):
        users = ctx.users(tensor)
        p = ctx.producer.get(tensor)
        if p is None or len(users) != 1 or tensor in ctx.outputs:
            return None
        if p.type in ("CONVOLUTION", "DECONVOLUTION"):
            return p
        if p.type != "SCALE" or p.attrs.get("mode") not in ("UNIFORM", "CHANNEL"):
            return None
        tensor = p.inputs[0]
    return None


def _gemm_group(matmul, new, sole_consumer, ctx):
    """A matrix multiply takes its bias add and a following activation (listing resnet18-a100-fp32: Gemm_48, one
    CaskConvolution; mnist-h100-trt10.16: node_linear + node_relu_2 one Myelin gemm)."""
    members = [matmul]
    nxt = sole_consumer(matmul.outputs[0])
    if nxt is not None and nxt.type == "ELEMENTWISE" and nxt.attrs["op"] == "SUM" and any(
            getattr(ctx.producer.get(t), "type", None) == "CONSTANT" for t in nxt.inputs):
        members.append(nxt)
        nxt = sole_consumer(nxt.outputs[0])
    if nxt is not None and nxt.type == "ACTIVATION" and nxt.attrs["op"] in FUSABLE_CONV_ACT:
        members.append(nxt)
    return new("gemm_bias" if len(members) > 1 else "single", members)


def _into_producer(quantize, ctx):
    """Quantizers that are the only readers of a kernel's output join that kernel (it writes INT8)."""
    t = quantize.inputs[0]
    p = ctx.producer.get(t)
    group = ctx.group_of.get(p.index) if p is not None else None
    if group is None or not group.kernel or not _only_quantized(t, ctx):
        return False
    # a pooling writes its precision (listing resnet18-a100-qat: QuantizeLinear_250 after GlobalAveragePool_246)
    if p.type in ("POOLING", "REDUCE") and group.rule not in ("conv_act_pool", "conv_pool"):
        return False
    # an INT8 conv + add writes INT8 only when its residual is INT8 too (resnet18-a100-qat-residual: every
    # "... + Add_N + Relu_M" writes Int8; resnet18-a100-qat: they read an FP16 residual and write FP16, and
    # QuantizeLinear_40 runs alone)
    if group.rule == "conv_eltwise" and not _residual_quantized(group, ctx):
        return False
    for q in _sibling_quantizers(quantize, ctx):
        group.layers.append(q)
        ctx.group_of[q.index] = group
    group.also.add("qdq_output")
    return True


def _residual_quantized(group, ctx):
    members = {id(m) for m in group.layers}
    for add in (m for m in group.layers if m.type == "ELEMENTWISE"):
        for t in add.inputs:
            src = ctx.producer.get(t)
            if src is not None and id(src) not in members and src.type != "DEQUANTIZE":
                return False
    return True


def _absorb_residual_dequantize(groups, ctx):
    """The residual's Dequantize joins an INT8 conv + add kernel that writes INT8 (resnet18-a100-qat-residual:
    layer1.1.conv2.weight + QuantizeLinear_63 + Conv_65 + Add_73 + Relu_74 reads the Int8 residual); where the
    kernel writes float it runs alone (DequantizeLinear_291 before layer4.1's add)."""
    for g in list(groups):
        if g.rule != "conv_eltwise" or "qdq_output" not in g.also:
            continue
        for add in [m for m in g.layers if m.type == "ELEMENTWISE"]:
            for t in add.inputs:
                dq = ctx.producer.get(t)
                alone = ctx.group_of.get(dq.index) if dq is not None else None
                if dq is not None and dq.type == "DEQUANTIZE" and alone is not g and alone is not None \
                        and alone.layers == [dq]:
                    if alone in groups:
                        groups.remove(alone)
                    g.layers.insert(g.layers.index(add), dq)
                    ctx.group_of[dq.index] = g
                    g.also.add("qdq_residual")


def _absorb_dequantize(group, weighted, producer, group_of):
    """The Dequantize layers feeding a convolution / matrix multiply (not yet grouped) join its kernel."""
    for t in weighted.inputs:
        dq = producer.get(t)
        if dq is not None and dq.type == "DEQUANTIZE" and dq.index not in group_of:
            group.layers.insert(0, dq)
            group_of[dq.index] = group
            group.also.add("qdq_weighted")


def _pointwise_group(lay, new, producer, group_of, ancestors):
    """Join `lay` with the pointwise groups that produce its inputs, unless that would make a cycle (another input
    of `lay` computed from the group through a non-pointwise layer)."""
    srcs = [producer.get(t) for t in lay.inputs if t is not None]
    target = None
    for s in srcs:
        g = group_of.get(s.index) if s is not None else None
        if g is None or g.rule != "pointwise" or g is target:
            continue
        members = {m.index for m in g.layers} | ({m.index for m in target.layers} if target else set())
        others = [o for o in srcs if o is not None and o.index not in members]
        if any(ancestors[o.index] & members for o in others):
            continue
        if target is None:
            target = g
        else:  # two pointwise chains meet here: one kernel
            target.layers.extend(g.layers)
            for m in g.layers:
                group_of[m.index] = target
    if target is None:
        new("pointwise", [lay])
    else:
        target.layers.append(lay)
        group_of[lay.index] = target


def _absorb_scalar_constants(groups, consumers, group_of):
    """Size-1 constants read only by one pointwise kernel are part of it (PointWise fusion)."""
    for g in list(groups):
        if g.rule != "constant":
            continue
        lay = g.layers[0]
        users = [u for t in lay.outputs for u in consumers.get(t, [])]
        targets = {id(group_of[u.index]): group_of[u.index] for u in users}
        if _volume(lay.shapes[0]) == 1 and len(targets) == 1:
            target = next(iter(targets.values()))
            if target.rule == "pointwise":
                target.layers.append(lay)
                group_of[lay.index] = target
                groups.remove(g)


class Summary:
    def __init__(self, layers, groups, trt_version=DEFAULT_TRT_VERSION):
        self.layers, self.groups, self.trt_version = layers, groups, trt_version
        self.num_layers = len(layers)
        self.kernels = sum(g.kernel for g in groups)
        self.reformats = sum(g.rule in COPIES for g in groups)
        self.weights = sum(lay.weights for lay in layers)
        self.flops = sum(lay.flops for lay in layers)


def analyse(trt, network, trt_version=DEFAULT_TRT_VERSION):
    layers = read_network(trt, network)
    outputs = [network.get_output(i).name for i in range(network.num_outputs)]
    return Summary(layers, predict(layers, outputs, trt_version), trt_version)


def _human(n):
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= scale:
            return f"{n / scale:.2f}{unit}"
    return str(n)


def text_report(summary, title):
    """The predicted-fusion table: one row per predicted kernel (or elided group), its layers, weights, FLOPs."""
    lines = [f"{title}: PREDICTED fusions (TensorRT {summary.trt_version}.x: the documented rules and the real "
             f"listings; the engine inspector of a real build is the truth)",
             f"layers defined: {summary.num_layers}   predicted kernels: {summary.kernels}"
             + (f" (+{summary.reformats} reformat copies)" if summary.reformats else "") + "   "
             f"weights: {summary.weights:,}   FLOPs (batch 1): {_human(summary.flops)}", "",
             f"{'#':>4} {'fusion':<36} {'layers':>6} {'weights':>10} {'FLOPs':>9}  members"]
    k = 0
    for g in summary.groups:
        label = RULES[g.rule][0] + (" (INT8)" if g.also else "")
        if g.kernel:
            k += 1
        w = sum(lay.weights for lay in g.layers)
        f = sum(lay.flops for lay in g.layers)
        members = ", ".join(f"{lay.name} [{lay.kind}]" for lay in g.layers)
        mark = k if g.kernel else "R" if g.rule in COPIES else "-"
        lines.append(f"{mark:>4} {label:<36} {len(g.layers):>6} {w:>10,} {_human(f):>9}  {members}")
    lines += ["", "rules used:"]
    for rule in sorted({g.rule for g in summary.groups} | {r for g in summary.groups for r in g.also}):
        lines.append(f"  {RULES[rule][0]}: {RULES[rule][1]}")
    return "\n".join(lines)


def layer_flops_table(summary):
    lines = [f"{'layer':<48} {'type':<24} {'output shape':<22} {'weights':>10} {'FLOPs':>9}"]
    for lay in summary.layers:
        shape = "x".join(str(d) for d in lay.shapes[0]) if lay.shapes else ""
        lines.append(f"{lay.name:<48} {lay.kind:<24} {shape:<22} {lay.weights:>10,} {_human(lay.flops):>9}")
    lines.append(f"{'total':<48} {'':<24} {'':<22} {summary.weights:>10,} {_human(summary.flops):>9}")
    return "\n".join(lines)


def grid_layout(level, bw, bh, gx, gy, top):
    """Boxes in rows by graph depth (`level[i]`), left to right in each row: ({i: (column, row)}, width, height) of
    the picture, for boxes bw x bh with gaps gx, gy below a title band of height `top`."""
    columns, position = {}, {}
    for i, lv in enumerate(level):
        position[i] = (columns.get(lv, 0), lv)
        columns[lv] = columns.get(lv, 0) + 1
    width = max(columns.values(), default=1) * (bw + gx) + gx
    height = top + (max(level, default=0) + 1) * (bh + gy) + 20
    return position, width, height


def svg(summary, title):
    """The network as a graph of predicted kernels, coloured by fusion rule (hover a box for its layers)."""
    from xml.sax.saxutils import escape
    groups = [g for g in summary.groups if g.rule not in ("constant", "shape")]
    producer_group = {}
    for i, g in enumerate(groups):
        for lay in g.layers:
            for t in lay.outputs:
                producer_group[t] = i
    edges, level = set(), [0] * len(groups)
    for i, g in enumerate(groups):
        for lay in g.layers:
            for t in lay.inputs:
                j = producer_group.get(t)
                if j is not None and j != i:
                    edges.add((j, i))
    for j, i in sorted(edges, key=lambda e: e[1]):
        level[i] = max(level[i], level[j] + 1)
    bw, bh, gx, gy, top = 230, 26, 20, 22, 70
    position, width, height = grid_layout(level, bw, bh, gx, gy, top)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="monospace" '
           f'font-size="11">', f'<text x="{gx}" y="20" font-size="14">{escape(title)}: PREDICTED fusions '
           f'({summary.num_layers} layers, {summary.kernels} kernels, {summary.weights:,} weights, '
           f'{_human(summary.flops)} FLOPs)</text>']
    x0 = gx
    for rule in sorted({g.rule for g in groups}):
        out.append(f'<rect x="{x0}" y="32" width="12" height="12" fill="{COLOURS[rule]}" stroke="#444"/>'
                   f'<text x="{x0 + 16}" y="42">{escape(RULES[rule][0])}</text>')
        x0 += 30 + 7 * len(RULES[rule][0])

    def centre(i):
        c, lv = position[i]
        return gx + c * (bw + gx) + bw / 2, top + lv * (bh + gy)

    for j, i in sorted(edges):
        (x1, y1), (x2, y2) = centre(j), centre(i)
        out.append(f'<line x1="{x1:.0f}" y1="{y1 + bh:.0f}" x2="{x2:.0f}" y2="{y2:.0f}" stroke="#999"/>')
    for i, g in enumerate(groups):
        x, y = centre(i)
        label = g.layers[0].name if len(g.layers) == 1 else f"{g.layers[0].name} +{len(g.layers) - 1}"
        tip = "\n".join(f"{lay.name} [{lay.kind}]" for lay in g.layers)
        out.append(f'<g><title>{escape(RULES[g.rule][0])}\n{escape(tip)}</title><rect x="{x - bw / 2:.0f}" y="{y:.0f}" '
                   f'width="{bw}" height="{bh}" rx="4" fill="{COLOURS[g.rule]}" stroke="#444"/>'
                   f'<text x="{x - bw / 2 + 5:.0f}" y="{y + 17:.0f}">{escape(label[:34])}</text></g>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


# ---- what a build did fuse: the engine inspector
def engine_layers(engine):
    """The inspector's layers as dicts (TensorRT's JSON; 10.x 'Format/Datatype', 11.x separate fields)."""
    trt = engine.trt
    inspector = engine.engine.create_engine_inspector()
    inspector.execution_context = engine.context
    info = json.loads(inspector.get_engine_information(trt.LayerInformationFormat.JSON))
    layers = info.get("Layers", [])
    return [json.loads(x) if isinstance(x, str) else x for x in layers]


def _format(tensor):
    if "Format/Datatype" in tensor:
        return tensor["Format/Datatype"]
    return " ".join(str(tensor[k]) for k in ("DataType", "Format") if k in tensor)


def engine_table(layers):
    lines = [f"{'#':>4} {'layer (fused names joined by +)':<60} {'type':<22} {'output format/precision':<36} tactic"]
    for i, lay in enumerate(layers):
        if isinstance(lay, str):  # LAYER_NAMES_ONLY builds: names only
            lines.append(f"{i:>4} {lay}")
            continue
        out = _format(lay["Outputs"][0]) if lay.get("Outputs") else ""
        lines.append(f"{i:>4} {lay.get('Name', ''):<60} {lay.get('LayerType', ''):<22} {out:<36} "
                     f"{lay.get('TacticName', lay.get('TacticValue', ''))}")
    return "\n".join(lines)
