"""Blocks of ultralytics' RT-DETR (8.4.x `ultralytics/nn/modules/{block,conv,transformer,head}.py`), named after its
modules: HGStem, HGBlock, LightConv, DWConv, RepConv, RepC3, ResNetLayer, AIFI, MSDeformAttn, the deformable decoder
layer and RTDETRDecoder (inference form). Each takes the module's state_dict prefix (`model.28`) and names its layers
as the PyTorch module tree does (`model.28.decoder.layers.0.cross_attn.sampling_offsets`).
No torch here (numpy + the op layer only)."""
import math

import numpy as np

from .ops import (activation, batchnorm, cast, concat, constant, conv2d, elementwise, gather, gather_batched,
                  grid_sample, layernorm, linear, matmul, pad_end, pool, reduce, shape_of, shuffle, slice_axis,
                  softmax, topk, unary, weight_constant)
from .yolo import Conv

LN_EPS = 1e-5  # nn.LayerNorm's default, which every LayerNorm of RT-DETR keeps
# Anchors outside (eps, 1 - eps) are invalid; ultralytics fills their logits with +inf. A finite 1e4 gives the same
# sigmoid (exactly 1.0 in float32 and float16) and the same inverse_sigmoid downstream, and keeps inf out of the
# engine: some fused sigmoid kernels compute exp(x) / (1 + exp(x)), which is NaN at +inf.
INVALID_ANCHOR = 1e4


def _relu_or(act):
    return "relu" if act is None else act


# ---- backbone blocks
def DWConv(net, x, prefix, c_out, k=1, s=1, d=1, act="silu"):
    """Depth-wise Conv: groups = gcd(c_in, c_out)."""
    return Conv(net, x, prefix, c_out, k, s, None, math.gcd(shape_of(x)[1], c_out), d, act)


def LightConv(net, x, prefix, c_out, k=1, act="relu"):
    """1x1 Conv without activation, then a k x k DWConv with `act`."""
    y = Conv(net, x, f"{prefix}.conv1", c_out, 1, act=None)
    return DWConv(net, y, f"{prefix}.conv2", c_out, k, act=act)


def HGStem(net, x, prefix, cm, c_out):
    """PPHGNetV2 stem. F.pad(x, [0, 1, 0, 1]) pads one zero column / row at the end before the 2x2 convolutions and
    the 2x2 max pool (stride 1: ceil_mode changes nothing). The pool's zero padding equals its own as the input is
    a ReLU output (>= 0)."""
    x = Conv(net, x, f"{prefix}.stem1", cm, 3, 2, act="relu")
    x = pad_end(net, x, f"{prefix}.pad1", (0, 0, 1, 1))
    x2 = Conv(net, x, f"{prefix}.stem2a", cm // 2, 2, 1, 0, act="relu")
    x2 = pad_end(net, x2, f"{prefix}.pad2", (0, 0, 1, 1))
    x2 = Conv(net, x2, f"{prefix}.stem2b", cm, 2, 1, 0, act="relu")
    x1 = pool(net, x, f"{prefix}.pool", "max", 2, 1, 0)
    x = concat(net, [x1, x2], f"{prefix}.cat")
    x = Conv(net, x, f"{prefix}.stem3", cm, 3, 2, act="relu")
    return Conv(net, x, f"{prefix}.stem4", c_out, 1, 1, act="relu")


def HGBlock(net, x, prefix, cm, c_out, k=3, n=6, lightconv=False, shortcut=False, act="relu"):
    """n chained (Light)Convs, every intermediate concatenated with the input, squeezed to c_out / 2 then excited
    to c_out; a residual when `shortcut` and c_in == c_out."""
    c_in = shape_of(x)[1]
    ys = [x]
    for i in range(n):
        p = f"{prefix}.m.{i}"
        ys.append(LightConv(net, ys[-1], p, cm, k, act) if lightconv else Conv(net, ys[-1], p, cm, k, act=act))
    y = Conv(net, concat(net, ys, f"{prefix}.cat"), f"{prefix}.sc", c_out // 2, 1, 1, act=act)
    y = Conv(net, y, f"{prefix}.ec", c_out, 1, 1, act=act)
    return elementwise(net, y, x, f"{prefix}.add", "sum") if shortcut and c_in == c_out else y


def RepConv(net, x, prefix, c_out, act="silu"):
    """The training form, as its eval forward runs it (the weights are unfused): act(3x3 Conv + 1x1 Conv [+ BN of
    the input when the weights have `prefix.bn`]). TensorRT fuses the sum into the second convolution."""
    y = elementwise(net, Conv(net, x, f"{prefix}.conv1", c_out, 3, 1, 1, act=None),
                    Conv(net, x, f"{prefix}.conv2", c_out, 1, 1, 0, act=None), f"{prefix}.add", "sum")
    if net.weights.has(f"{prefix}.bn.running_mean"):
        y = elementwise(net, y, batchnorm(net, x, f"{prefix}.bn", 1e-3), f"{prefix}.add_id", "sum")
    return activation(net, y, f"{prefix}.act", act)


def RepC3(net, x, prefix, c_out, n=3, e=1.0):
    c_hidden = int(c_out * e)
    a = Conv(net, x, f"{prefix}.cv1", c_hidden, 1, 1)
    for i in range(n):
        a = RepConv(net, a, f"{prefix}.m.{i}", c_hidden)
    y = elementwise(net, a, Conv(net, x, f"{prefix}.cv2", c_hidden, 1, 1), f"{prefix}.add", "sum")
    return Conv(net, y, f"{prefix}.cv3", c_out, 1, 1) if c_hidden != c_out else y


def ResNetBlock(net, x, prefix, c2, s=1, e=4):
    c3 = e * c2
    y = Conv(net, x, f"{prefix}.cv1", c2, 1, 1)
    y = Conv(net, y, f"{prefix}.cv2", c2, 3, s, 1)
    y = Conv(net, y, f"{prefix}.cv3", c3, 1, act=None)
    short = Conv(net, x, f"{prefix}.shortcut.0", c3, 1, s, act=None) if s != 1 or shape_of(x)[1] != c3 else x
    return activation(net, elementwise(net, y, short, f"{prefix}.add", "sum"), f"{prefix}.relu", "relu")


def ResNetLayer(net, x, prefix, c2, s=1, is_first=False, n=1, e=4):
    if is_first:  # Conv 7x7 / 2 (SiLU, ultralytics' default act) then MaxPool 3 / 2
        y = Conv(net, x, f"{prefix}.layer.0", c2, 7, 2, 3)
        return pool(net, y, f"{prefix}.layer.1", "max", 3, 2, 1)
    for i in range(n):
        x = ResNetBlock(net, x, f"{prefix}.layer.{i}", c2, s if i == 0 else 1, e)
    return x


# ---- attention
def _in_proj(net, x, prefix, which, d):
    """Rows `which` (0 q, 1 k, 2 v) of nn.MultiheadAttention's packed in_proj_weight / in_proj_bias."""
    w = net.weight(f"{prefix}.in_proj_weight", (3 * d, d))[which * d:(which + 1) * d]
    b = net.weight(f"{prefix}.in_proj_bias", (3 * d,))[which * d:(which + 1) * d]
    rank = len(shape_of(x))
    name = f"{prefix}.{'qkv'[which]}_proj"
    w = weight_constant(net, np.ascontiguousarray(w.reshape((1,) * (rank - 2) + (d, d))), f"{name}.weight")
    y = matmul(net, x, w, f"{name}.matmul", transpose_b=True)
    return elementwise(net, y, weight_constant(net, np.ascontiguousarray(b.reshape((1,) * (rank - 1) + (d,))),
                                               f"{name}.bias"), name, "sum")


def multihead_attention(net, q, k, v, prefix, heads):
    """nn.MultiheadAttention(d, heads) on batch-first (B, L, d) query / key / value, no masks, as its eval path
    computes it: q scaled by head_dim^-0.5 before q kᵀ, softmax, · v, out_proj. With a float16 network the
    softmax runs in float32 (its sum over up to a few thousand keys is where float16 loses most)."""
    d = shape_of(q)[-1]
    dh = d // heads

    def split(t, name):  # (B, L, d) -> (B, heads, L, dh)
        return shuffle(net, t, name, reshape=(0, 0, heads, dh), second=(0, 2, 1, 3))

    qh = split(_in_proj(net, q, prefix, 0, d), f"{prefix}.q_heads")
    kh = split(_in_proj(net, k, prefix, 1, d), f"{prefix}.k_heads")
    vh = split(_in_proj(net, v, prefix, 2, d), f"{prefix}.v_heads")
    qh = elementwise(net, qh, constant(net, np.full((1, 1, 1, 1), dh ** -0.5), f"{prefix}.scale"),
                     f"{prefix}.q_scaled", "prod")
    scores = matmul(net, qh, kh, f"{prefix}.scores", transpose_b=True)
    half = scores.dtype == net.trt.DataType.HALF
    if half:
        scores = cast(net, scores, f"{prefix}.scores.float", "float32")
    probs = softmax(net, scores, f"{prefix}.attn_weights", axis=3)
    if half:
        probs = cast(net, probs, f"{prefix}.attn_weights.half", "float16")
    y = matmul(net, probs, vh, f"{prefix}.context")
    y = shuffle(net, y, f"{prefix}.merge", first=(0, 2, 1, 3), reshape=(0, 0, d))
    return linear(net, y, f"{prefix}.out_proj", d)


def sincos_position_embedding(w, h, dim, temperature=10000.0):
    """AIFI.build_2d_sincos_position_embedding: (1, h*w, dim) float32, rows (sin h, cos h, sin w, cos w), computed
    in float32 as ultralytics does."""
    f32 = np.float32
    gh, gw = np.meshgrid(np.arange(h, dtype=f32), np.arange(w, dtype=f32), indexing="ij")
    pos_dim = dim // 4
    omega = np.arange(pos_dim, dtype=f32) / f32(pos_dim)
    omega = (f32(1.0) / np.power(f32(temperature), omega)).astype(f32)
    out_w = gw.reshape(-1, 1) * omega[None]
    out_h = gh.reshape(-1, 1) * omega[None]
    return np.concatenate([np.sin(out_h), np.cos(out_h), np.sin(out_w), np.cos(out_w)], 1)[None].astype(f32)


def AIFI(net, x, prefix, cm=2048, heads=8, act="gelu"):
    """TransformerEncoderLayer (post-norm) over the (B, H*W, C) tokens of a feature map, with the 2-D sin-cos
    position embedding added to queries and keys; back to (B, C, H, W)."""
    _, c, h, w = shape_of(x)
    tokens = shuffle(net, x, f"{prefix}.tokens", reshape=(0, c, h * w), second=(0, 2, 1))
    pos = constant(net, sincos_position_embedding(w, h, c), f"{prefix}.pos_embed")
    qk = elementwise(net, tokens, pos, f"{prefix}.with_pos", "sum")
    y = multihead_attention(net, qk, qk, tokens, f"{prefix}.ma", heads)
    src = layernorm(net, elementwise(net, tokens, y, f"{prefix}.residual1", "sum"), f"{prefix}.norm1", LN_EPS)
    ff = linear(net, activation(net, linear(net, src, f"{prefix}.fc1", cm), f"{prefix}.act", act), f"{prefix}.fc2",
                c)
    src = layernorm(net, elementwise(net, src, ff, f"{prefix}.residual2", "sum"), f"{prefix}.norm2", LN_EPS)
    return shuffle(net, src, f"{prefix}.image", first=(0, 2, 1), reshape=(0, c, h, w))


def _linear_shared(net, x, weights, name, c_out):
    """nn.Linear `weights` called again (a module used once per decoder layer): its own layer names, the same
    weights (float: these calls are never INT8)."""
    c_in = shape_of(x)[-1]
    rank = len(shape_of(x))
    w = net.weight(f"{weights}.weight", (c_out, c_in)).reshape((1,) * (rank - 2) + (c_out, c_in))
    y = matmul(net, x, weight_constant(net, w, f"{name}.weight"), f"{name}.matmul", transpose_b=True)
    b = net.weight(f"{weights}.bias", (c_out,)).reshape((1,) * (rank - 1) + (c_out,))
    return elementwise(net, y, weight_constant(net, b, f"{name}.bias"), name, "sum")


def MLP(net, x, prefix, dims, act="relu", call=None):
    """ultralytics' MLP: Linear layers `prefix.layers.i` of output sizes `dims`, `act` between them (no sigmoid,
    no residual). `call` k: the k-th call of an MLP called several times (the query position head, once per decoder
    layer), named `prefix.layers.i.k` as tools/compare.py names a module's k-th call."""
    num_layers = len(dims)
    for i, c_out in enumerate(dims):
        if call is None:
            x = linear(net, x, f"{prefix}.layers.{i}", c_out)
        else:
            x = _linear_shared(net, x, f"{prefix}.layers.{i}", f"{prefix}.layers.{i}.{call}", c_out)
        if i < num_layers - 1:
            x = activation(net, x, f"{prefix}.act{i}" + ("" if call is None else f".{call}"), act)
    return x


# ---- the decoder
def MSDeformAttn(net, query, ref, value, prefix, shapes, heads, points):
    """Multi-scale deformable attention with 4-d reference boxes (RT-DETR's case): sampling locations
    xy + offsets / points · wh · 0.5, per level F.grid_sample(bilinear, zeros, align_corners=False) of the projected
    value (IGridSampleLayer), weighted by the softmax of the attention weights over levels x points.
    query (B, Q, d), ref (B, Q, 4) cxcywh in [0, 1], value (B, sum(h·w), d)."""
    _, nq, d = shape_of(query)
    levels = len(shapes)
    dh, lp = d // heads, levels * points
    value = linear(net, value, f"{prefix}.value_proj", d)
    # (B, V, d) -> (B, heads, dh, V) -> (B·heads, dh, V), split per level below
    value = shuffle(net, value, f"{prefix}.value_heads", reshape=(0, 0, heads, dh), second=(0, 2, 3, 1))
    value = shuffle(net, value, f"{prefix}.value_flat", reshape=(-1, dh, shape_of(value)[-1]))
    offsets = shuffle(net, linear(net, query, f"{prefix}.sampling_offsets", heads * lp * 2), f"{prefix}.offsets",
                      reshape=(0, nq, heads, lp, 2))
    weights = shuffle(net, linear(net, query, f"{prefix}.attention_weights", heads * lp), f"{prefix}.weights_heads",
                      reshape=(0, nq, heads, lp))
    half = weights.dtype == net.trt.DataType.HALF
    if half:
        weights = cast(net, weights, f"{prefix}.weights_float", "float32")
    weights = softmax(net, weights, f"{prefix}.weights_softmax", axis=3)
    ref5 = shuffle(net, ref, f"{prefix}.ref", reshape=(0, nq, 1, 1, 4))
    xy = slice_axis(net, ref5, f"{prefix}.ref_xy", 4, 0, 2)
    wh = slice_axis(net, ref5, f"{prefix}.ref_wh", 4, 2, 2)
    if half:
        # Sampling locations and the sampling itself in float32: float16 locations in [0.5, 1) are spaced 1/2048 of
        # the image apart (a pixel of a 2048-wide level), and bilinear weights are differences of such locations.
        offsets = cast(net, offsets, f"{prefix}.offsets_float", "float32")
        xy = cast(net, xy, f"{prefix}.ref_xy_float", "float32")
        wh = cast(net, wh, f"{prefix}.ref_wh_float", "float32")
        value = cast(net, value, f"{prefix}.value_float", "float32")
    f32 = np.float32

    def k(v, name):
        return constant(net, np.full((1, 1, 1, 1, 1), v), f"{prefix}.{name}", f32)

    loc = elementwise(net, offsets, k(1.0 / points, "inv_points"), f"{prefix}.off_div", "prod")
    loc = elementwise(net, loc, wh, f"{prefix}.off_wh", "prod")
    loc = elementwise(net, loc, k(0.5, "half"), f"{prefix}.off_half", "prod")
    loc = elementwise(net, xy, loc, f"{prefix}.sampling_locations", "sum")
    grid = elementwise(net, elementwise(net, loc, k(2.0, "two"), f"{prefix}.grid2", "prod"), k(1.0, "one"),
                       f"{prefix}.grid", "sub")
    # (B, Q, heads, L·P, 2) -> (B·heads, Q, L·P, 2)
    grid = shuffle(net, grid, f"{prefix}.grid_heads", first=(0, 2, 1, 3, 4), reshape=(-1, nq, lp, 2))
    sampled, start = [], 0
    for lvl, (h, w) in enumerate(shapes):
        v = slice_axis(net, value, f"{prefix}.value_l{lvl}", 2, start, h * w)
        v = shuffle(net, v, f"{prefix}.value_l{lvl}.image", reshape=(-1, dh, h, w))
        g = slice_axis(net, grid, f"{prefix}.grid_l{lvl}", 2, lvl * points, points)
        sampled.append(grid_sample(net, v, g, f"{prefix}.grid_sample{lvl}"))  # (B·heads, dh, Q, P)
        start += h * w
    sampled = concat(net, sampled, f"{prefix}.sampled", axis=3)
    w4 = shuffle(net, weights, f"{prefix}.weights_flat", first=(0, 2, 1, 3), reshape=(-1, 1, nq, lp))
    out = reduce(net, elementwise(net, sampled, w4, f"{prefix}.weighted", "prod"), f"{prefix}.sum", "sum", (3,),
                 keepdims=False)  # (B·heads, dh, Q)
    if half:
        out = cast(net, out, f"{prefix}.sum.half", "float16")
    out = shuffle(net, out, f"{prefix}.out", reshape=(-1, d, nq), second=(0, 2, 1))
    return linear(net, out, f"{prefix}.output_proj", d)


def decoder_layer(net, embed, ref, feats, prefix, shapes, heads, points, d_ffn, query_pos, act="relu"):
    """DeformableTransformerDecoderLayer: self-attention (queries + keys with query_pos), add & norm1; deformable
    cross-attention on the features, add & norm2; FFN, add & norm3."""
    qk = elementwise(net, embed, query_pos, f"{prefix}.with_pos", "sum")
    y = multihead_attention(net, qk, qk, embed, f"{prefix}.self_attn", heads)
    embed = layernorm(net, elementwise(net, embed, y, f"{prefix}.residual1", "sum"), f"{prefix}.norm1", LN_EPS)
    q = elementwise(net, embed, query_pos, f"{prefix}.with_pos2", "sum")
    y = MSDeformAttn(net, q, ref, feats, f"{prefix}.cross_attn", shapes, heads, points)
    embed = layernorm(net, elementwise(net, embed, y, f"{prefix}.residual2", "sum"), f"{prefix}.norm2", LN_EPS)
    d = shape_of(embed)[-1]
    y = linear(net, activation(net, linear(net, embed, f"{prefix}.linear1", d_ffn), f"{prefix}.act", act),
               f"{prefix}.linear2", d)
    return layernorm(net, elementwise(net, embed, y, f"{prefix}.residual3", "sum"), f"{prefix}.norm3", LN_EPS)


def inverse_sigmoid(net, x, name, eps=1e-5):
    """ultralytics' inverse_sigmoid: x clamped to [0, 1]; log(max(x, eps) / max(1 - x, eps)). In float32 whatever the
    network's type: the ratio reaches 1 / eps = 1e5, beyond float16's 65504 (a box at the image border would refine
    from +inf), and eps itself is a float16 subnormal."""
    if x.dtype == net.trt.DataType.HALF:
        y = inverse_sigmoid(net, cast(net, x, f"{name}.float", "float32"), f"{name}.f32", eps)
        return cast(net, y, name, "float16")
    f32 = np.float32 if x.dtype == net.trt.DataType.FLOAT else None
    one = constant(net, np.ones((1, 1, 1)), f"{name}.one", f32)
    x = elementwise(net, elementwise(net, x, constant(net, np.zeros((1, 1, 1)), f"{name}.zero", f32), f"{name}.lo",
                                     "max"), one, f"{name}.clamp", "min")
    e = constant(net, np.full((1, 1, 1), eps), f"{name}.eps", f32)
    x1 = elementwise(net, x, e, f"{name}.x1", "max")
    x2 = elementwise(net, elementwise(net, one, x, f"{name}.one_minus", "sub"), e, f"{name}.x2", "max")
    return unary(net, elementwise(net, x1, x2, f"{name}.ratio", "div"), name, "log")


def generate_anchors(shapes, grid_size=0.05, eps=1e-2):
    """RTDETRDecoder._generate_anchors in float32: (N, 4) logits of cxcywh anchors per cell and level (wh = 0.05 ·
    2^level), and the (N,) valid mask; invalid anchors get INVALID_ANCHOR instead of +inf."""
    f32 = np.float32
    anchors = []
    for i, (h, w) in enumerate(shapes):
        gy, gx = np.meshgrid(np.arange(h, dtype=f32), np.arange(w, dtype=f32), indexing="ij")
        xy = np.stack([(gx + f32(0.5)) / f32(w), (gy + f32(0.5)) / f32(h)], -1)
        wh = np.full_like(xy, f32(grid_size * 2.0 ** i))
        anchors.append(np.concatenate([xy, wh], -1).reshape(-1, 4))
    anchors = np.concatenate(anchors, 0).astype(f32)
    valid = ((anchors > f32(eps)) & (anchors < f32(1 - eps))).all(-1)
    with np.errstate(divide="ignore"):
        logits = np.log(anchors / (f32(1) - anchors)).astype(f32)
    logits[~valid] = INVALID_ANCHOR
    return logits, valid


def RTDETRDecoder(net, feats, prefix, nc, hd=256, nq=300, heads=8, points=4, layers=6, d_ffn=1024):
    """RTDETRDecoder in eval form (no denoising queries): input projections, encoder output head on the valid
    anchors, top-nq query selection by best class logit, then `layers` decoder layers with iterative box
    refinement through inverse sigmoid. Returns (boxes (B, Q, 4) cxcywh in [0, 1], class logits (B, Q, nc)) of the
    last layer, as `dec_bboxes[-1]`, `dec_scores[-1]` of the model."""
    tokens, shapes = [], []
    for i, f in enumerate(feats):
        p = f"{prefix}.input_proj.{i}"
        y = batchnorm(net, conv2d(net, f, f"{p}.0", hd, 1, bias=False), f"{p}.1", 1e-3)
        _, _, h, w = shape_of(y)
        tokens.append(shuffle(net, y, f"{p}.tokens", reshape=(0, hd, h * w), second=(0, 2, 1)))
        shapes.append((h, w))
    memory = concat(net, tokens, f"{prefix}.feats", axis=1)  # (B, N, hd)
    n = shape_of(memory)[1]
    anchors, valid = generate_anchors(shapes)
    masked = elementwise(net, memory, constant(net, valid.astype(np.float32).reshape(1, n, 1), f"{prefix}.valid_mask"),
                         f"{prefix}.masked_feats", "prod")
    features = layernorm(net, linear(net, masked, f"{prefix}.enc_output.0", hd), f"{prefix}.enc_output.1", LN_EPS)
    enc_scores = linear(net, features, f"{prefix}.enc_score_head", nc)
    best = reduce(net, enc_scores, f"{prefix}.enc_best", "max", (2,), keepdims=False)  # (B, N)
    k = min(nq, n)
    _, index = topk(net, best, f"{prefix}.topk", k, axis=1)  # (B, K), descending as torch.topk
    top_features = gather_batched(net, features, index, f"{prefix}.top_features")
    top_anchors = gather(net, constant(net, anchors, f"{prefix}.anchors"), index, f"{prefix}.top_anchors", axis=0)
    ref_logits = elementwise(net, MLP(net, top_features, f"{prefix}.enc_bbox_head", (hd, hd, 4)), top_anchors,
                             f"{prefix}.refer_bbox", "sum")
    ref = activation(net, ref_logits, f"{prefix}.decoder.refer_sigmoid", "sigmoid")
    embed = top_features
    logits = None
    for i in range(layers):
        p = f"{prefix}.decoder.layers.{i}"
        query_pos = MLP(net, ref, f"{prefix}.query_pos_head", (2 * hd, hd), call=i)
        embed = decoder_layer(net, embed, ref, memory, p, shapes, heads, points, d_ffn, query_pos)
        bbox = MLP(net, embed, f"{prefix}.dec_bbox_head.{i}", (hd, hd, 4))
        ref = activation(net, elementwise(net, bbox, inverse_sigmoid(net, ref, f"{p}.inverse_sigmoid"),
                                          f"{p}.refine", "sum"), f"{p}.refined_bbox", "sigmoid")
        if i == layers - 1:
            logits = linear(net, embed, f"{prefix}.dec_score_head.{i}", nc)
    net.weights.mark_used(f"{prefix}.denoising_class_embed.weight",
                          *[f"{prefix}.dec_score_head.{i}.{t}" for i in range(layers - 1) for t in ("weight", "bias")])
    return ref, logits
