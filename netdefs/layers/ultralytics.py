"""Blocks of ultralytics 8.4.x (`ultralytics/nn/modules/block.py`, `conv.py`, `head.py`), named after its modules:
`Bottleneck`, `C2f`, `C3k`, `C3k2`, `SPPF`, `Attention`, `PSABlock`, `C2PSA`, `DWConv`, `Proto`, `Proto26`,
`Classify`, the Detect head's branches (`detect_maps`), `DFL` and the box decoding (`decode_boxes`). Each takes
the module's state_dict prefix (`model.10`) and names its layers under it as the PyTorch module tree does
(`model.10.m.0.attn.qkv.conv`, `model.22.cv3.0.1.conv`). Every block works on an input whose H and W are known only
at run time: reshapes copy or infer the spatial sizes, and anchors come from shape tensors."""
import math

import numpy as np

from .ops import (activation, arange, cast, concat, constant, conv2d, conv_transpose2d, elementwise,
                  global_avgpool, interpolate, linear, matmul, pool, reduce, reshape, reshape_to, shape,
                  shape_of, slice_axis, softmax)
from .yolo import BN_EPS, Conv as _Conv

# ClassificationModel never runs initialize_weights, which sets every BatchNorm2d's eps to 1e-3 in the detection
# and segmentation models: classifiers (and their checkpoints) keep PyTorch's 1e-5.
CLASSIFY_BN_EPS = 1e-5


def Conv(net, x, prefix, c_out, k=1, s=1, p=None, g=1, d=1, act="silu"):
    """YOLOv5's Conv (Conv2d(bias=False), BatchNorm2d, SiLU; same names), with the BatchNorm eps of the model kind
    being built (`net.bn_eps`, set by the family: 1e-3, or 1e-5 in a classifier)."""
    return _Conv(net, x, prefix, c_out, k, s, p, g, d, act, eps=getattr(net, "bn_eps", BN_EPS))


def DWConv(net, x, prefix, c_out, k=1, s=1, act="silu"):
    return Conv(net, x, prefix, c_out, k, s, g=math.gcd(shape_of(x)[1], c_out), act=act)


def Bottleneck(net, x, prefix, c_out, shortcut=True, g=1, k=(3, 3), e=0.5):
    y = Conv(net, x, f"{prefix}.cv1", int(c_out * e), k[0])
    y = Conv(net, y, f"{prefix}.cv2", c_out, k[1], g=g)
    return elementwise(net, x, y, f"{prefix}.add", "sum") if shortcut and shape_of(x)[1] == c_out else y


def _csp(net, x, prefix, c_out, c, blocks):
    """C2f's data flow: cv1 to 2c channels, chunk in two, each block extends the list from the last chunk,
    cv2 over all of it. cv1's output is both chunks at once, so the concat takes it whole."""
    y = Conv(net, x, f"{prefix}.cv1", 2 * c, 1)
    ys = [y]
    last = slice_axis(net, y, f"{prefix}.chunk1", 1, c, c)
    for i, block in enumerate(blocks):
        last = block(last, f"{prefix}.m.{i}")
        ys.append(last)
    return Conv(net, concat(net, ys, f"{prefix}.cat"), f"{prefix}.cv2", c_out, 1)


def C2f(net, x, prefix, c_out, n=1, shortcut=False, g=1, e=0.5):
    c = int(c_out * e)
    block = lambda y, p: Bottleneck(net, y, p, c, shortcut, g, (3, 3), 1.0)
    return _csp(net, x, prefix, c_out, c, [block] * n)


def C3k(net, x, prefix, c_out, n=2, shortcut=True, g=1, e=0.5, k=3):
    """C3 with k×k bottlenecks: cv3(cat(m(cv1(x)), cv2(x)))."""
    c_ = int(c_out * e)
    a = Conv(net, x, f"{prefix}.cv1", c_, 1)
    for i in range(n):
        a = Bottleneck(net, a, f"{prefix}.m.{i}", c_, shortcut, g, (k, k), 1.0)
    b = Conv(net, x, f"{prefix}.cv2", c_, 1)
    return Conv(net, concat(net, [a, b], f"{prefix}.cat"), f"{prefix}.cv3", c_out, 1)


def C3k2(net, x, prefix, c_out, n=1, c3k=False, e=0.5, attn=False, g=1, shortcut=True):
    """C2f whose blocks are a Bottleneck (e 0.5), a C3k, or (attn, YOLO26) a Bottleneck then a PSABlock."""
    c = int(c_out * e)

    def block(y, p):
        if attn:
            y = Bottleneck(net, y, f"{p}.0", c, shortcut, g)
            return PSABlock(net, y, f"{p}.1", c, 0.5, max(c // 64, 1))
        if c3k:
            return C3k(net, y, p, c, 2, shortcut, g)
        return Bottleneck(net, y, p, c, shortcut, g)

    return _csp(net, x, prefix, c_out, c, [block] * n)


def SPPF(net, x, prefix, c_out, k=5, n=3, shortcut=False, cv1_act="silu"):
    """n chained k×k max pools of cv1's output, concatenated. parse_model gives cv1 the SiLU only for the legacy
    yaml rows (v8, 11: `[c2, k]`); YOLO26's `[c2, k, n, shortcut]` row leaves cv1 linear."""
    c_in = shape_of(x)[1]
    y = [Conv(net, x, f"{prefix}.cv1", c_in // 2, 1, act=cv1_act)]
    for i in range(n):  # the one MaxPool2d module `m`, called n times
        y.append(pool(net, y[-1], f"{prefix}.m.{i}", "max", k, 1, k // 2))
    out = Conv(net, concat(net, y, f"{prefix}.cat"), f"{prefix}.cv2", c_out, 1)
    return elementwise(net, out, x, f"{prefix}.add", "sum") if shortcut and c_in == c_out else out


def Attention(net, x, prefix, dim, num_heads, attn_ratio=0.5):
    """Multi-head self-attention over the H·W positions, q/k/v from one 1×1 conv (per head: key_dim, key_dim,
    head_dim channels), plus a depthwise 3×3 positional term on v, then a 1×1 projection."""
    head_dim = dim // num_heads
    key_dim = int(head_dim * attn_ratio)
    qkv = Conv(net, x, f"{prefix}.qkv", dim + 2 * key_dim * num_heads, 1, act=None)
    qkv = reshape(net, qkv, f"{prefix}.qkv.view", (0, num_heads, 2 * key_dim + head_dim, -1))  # (B, heads, c, N)
    q = slice_axis(net, qkv, f"{prefix}.q", 2, 0, key_dim)
    k = slice_axis(net, qkv, f"{prefix}.k", 2, key_dim, key_dim)
    v = slice_axis(net, qkv, f"{prefix}.v", 2, 2 * key_dim, head_dim)
    q = elementwise(net, q, constant(net, np.full((1, 1, 1, 1), key_dim ** -0.5), f"{prefix}.scale"),
                    f"{prefix}.q.scaled", "prod")
    attn = softmax(net, matmul(net, q, k, f"{prefix}.qk", transpose_a=True), f"{prefix}.softmax", axis=-1)
    image_shape = shape(net, x, f"{prefix}.shape")  # (B, C, H, W): the heads fold back into C
    y = reshape_to(net, matmul(net, v, attn, f"{prefix}.av", transpose_b=True), f"{prefix}.av.view", image_shape)
    pe = Conv(net, reshape_to(net, v, f"{prefix}.v.view", image_shape), f"{prefix}.pe", dim, 3, g=dim, act=None)
    return Conv(net, elementwise(net, y, pe, f"{prefix}.pe_add", "sum"), f"{prefix}.proj", dim, 1, act=None)


def PSABlock(net, x, prefix, c, attn_ratio=0.5, num_heads=4, shortcut=True):
    y = Attention(net, x, f"{prefix}.attn", c, num_heads, attn_ratio)
    x = elementwise(net, x, y, f"{prefix}.attn_add", "sum") if shortcut else y
    y = Conv(net, Conv(net, x, f"{prefix}.ffn.0", 2 * c, 1), f"{prefix}.ffn.1", c, 1, act=None)
    return elementwise(net, x, y, f"{prefix}.add", "sum") if shortcut else y


def C2PSA(net, x, prefix, c_out, n=1, e=0.5):
    c = int(shape_of(x)[1] * e)
    y = Conv(net, x, f"{prefix}.cv1", 2 * c, 1)
    a = slice_axis(net, y, f"{prefix}.split0", 1, 0, c)
    b = slice_axis(net, y, f"{prefix}.split1", 1, c, c)
    for i in range(n):
        b = PSABlock(net, b, f"{prefix}.m.{i}", c, 0.5, max(c // 64, 1))
    return Conv(net, concat(net, [a, b], f"{prefix}.cat"), f"{prefix}.cv2", c_out, 1)


# ---- heads
def Classify(net, x, prefix, num_classes):
    """Conv 1×1 to 1280 → global average pool → Linear: the logits (ultralytics returns their softmax too)."""
    y = Conv(net, x, f"{prefix}.conv", 1280, 1)
    return linear(net, global_avgpool(net, y, f"{prefix}.pool", keepdims=False), f"{prefix}.linear", num_classes)


def Proto(net, x, prefix, c_, c2=32):
    """Mask prototypes: Conv 3×3 → ConvTranspose 2×2 stride 2 (×2 upsample) → Conv 3×3 → Conv 1×1 (c2 masks)."""
    y = Conv(net, x, f"{prefix}.cv1", c_, 3)
    y = conv_transpose2d(net, y, f"{prefix}.upsample", c_, 2, 2)
    y = Conv(net, y, f"{prefix}.cv2", c_, 3)
    return Conv(net, y, f"{prefix}.cv3", c2, 1)


def Proto26(net, levels, prefix, c_, c2=32):
    """YOLO26's prototypes from every level: P4, P5 refined to P3's channels, upsampled (nearest ×2, ×4) and summed
    into P3, fused by a 3×3 Conv, then Proto. Its `semseg` branch is training-only."""
    feat = levels[0]
    c0 = shape_of(feat)[1]
    for i, level in enumerate(levels[1:]):
        up = Conv(net, level, f"{prefix}.feat_refine.{i}", c0, 1)
        up = interpolate(net, up, f"{prefix}.feat_refine.{i}.upsample", scale_factor=2 ** (i + 1), mode="nearest")
        feat = elementwise(net, feat, up, f"{prefix}.feat_refine.{i}.add", "sum")
    return Proto(net, Conv(net, feat, f"{prefix}.feat_fuse", c_, 3), prefix, c_, c2)


def detect_maps(net, levels, prefix, nc, reg_max, legacy, nm=0, branch=""):
    """Detect's per-level branches: `cv2` (4·reg_max box distances), `cv3` (nc class logits; v8's `legacy` two
    3×3 Convs, otherwise DWConv + 1×1 twice) and Segment's `cv4` (nm mask coefficients). `branch` "one2one_" names
    YOLO26's end-to-end copies. Returns [(box, cls, mask or None)] per level, each (B, C, H, W)."""
    c_first = shape_of(levels[0])[1]
    c2, c3 = max(16, c_first // 4, reg_max * 4), max(c_first, min(nc, 100))
    c4 = max(c_first // 4, nm)
    out = []
    for i, x in enumerate(levels):
        p = f"{prefix}.{branch}cv2.{i}"
        box = conv2d(net, Conv(net, Conv(net, x, f"{p}.0", c2, 3), f"{p}.1", c2, 3), f"{p}.2", 4 * reg_max, 1)
        p = f"{prefix}.{branch}cv3.{i}"
        if legacy:
            y = Conv(net, Conv(net, x, f"{p}.0", c3, 3), f"{p}.1", c3, 3)
        else:
            y = Conv(net, DWConv(net, x, f"{p}.0.0", shape_of(x)[1], 3), f"{p}.0.1", c3, 1)
            y = Conv(net, DWConv(net, y, f"{p}.1.0", c3, 3), f"{p}.1.1", c3, 1)
        cls = conv2d(net, y, f"{p}.2", nc, 1)
        mask = None
        if nm:
            p = f"{prefix}.{branch}cv4.{i}"
            mask = conv2d(net, Conv(net, Conv(net, x, f"{p}.0", c4, 3), f"{p}.1", c4, 3), f"{p}.2", nm, 1)
        out.append((box, cls, mask))
    return out


def flat_levels(net, maps, name):
    """Per-level (B, C, H, W) maps flattened and joined along the anchors: (B, C, sum of H·W)."""
    c = shape_of(maps[0])[1]
    return concat(net, [reshape(net, m, f"{name}.{i}", (0, c, -1)) for i, m in enumerate(maps)], name, axis=2)


def DFL(net, x, prefix, reg_max):
    """Distribution focal loss decoding: (B, 4·reg_max, A) → softmax over each side's bins → expectation with the
    fixed projection arange(reg_max) (ultralytics' frozen 1×1 conv `dfl.conv`, identical in every checkpoint)."""
    net.weights.mark_used(f"{prefix}.conv.weight")
    y = softmax(net, reshape(net, x, f"{prefix}.view", (0, 4, reg_max, -1)), f"{prefix}.softmax", axis=2)
    bins = constant(net, np.arange(reg_max, dtype=np.float32).reshape(1, 1, reg_max, 1), f"{prefix}.bins")
    y = reduce(net, elementwise(net, y, bins, f"{prefix}.project", "prod"), f"{prefix}.sum", "sum", (2,))
    return reshape(net, y, prefix, (0, 4, -1))


def make_anchors(net, maps, strides, prefix):
    """Cell-centre anchor points (1, 2, A) and their strides (1, 1, A) from the maps' sizes at run time: Fill
    (arange) layers over each map's H and W, so one engine serves every input size of its profile."""
    points, stride_rows = [], []
    for i, (m, stride) in enumerate(zip(maps, strides)):
        p = f"{prefix}.anchors{i}"
        hw = shape(net, m, f"{p}.shape")
        half = constant(net, np.full((1,), 0.5), f"{p}.half")
        sx = reshape(net, elementwise(net, _arange(net, slice_axis(net, hw, f"{p}.w", 0, 3, 1), f"{p}.x"), half,
                                      f"{p}.sx", "sum"), f"{p}.sx.row", (1, -1))
        sy = reshape(net, elementwise(net, _arange(net, slice_axis(net, hw, f"{p}.h", 0, 2, 1), f"{p}.y"), half,
                                      f"{p}.sy", "sum"), f"{p}.sy.col", (-1, 1))
        zero = constant(net, np.zeros((1, 1)), f"{p}.zero")
        zx, zy = (elementwise(net, t, zero, f"{p}.{n}0", "prod") for t, n in ((sx, "sx"), (sy, "sy")))
        gx = elementwise(net, sx, zy, f"{p}.gx", "sum")  # (H, W) by broadcasting, as meshgrid(sy, sx, "ij")
        gy = elementwise(net, sy, zx, f"{p}.gy", "sum")
        points.append(concat(net, [reshape(net, gx, f"{p}.gx.flat", (1, 1, -1)),
                                   reshape(net, gy, f"{p}.gy.flat", (1, 1, -1))], p, axis=1))
        s = elementwise(net, elementwise(net, gx, zero, f"{p}.gx0", "prod"),
                        constant(net, np.full((1, 1), float(stride)), f"{p}.stride"), f"{p}.strides", "sum")
        stride_rows.append(reshape(net, s, f"{p}.strides.flat", (1, 1, -1)))
    return (concat(net, points, f"{prefix}.anchors", axis=2),
            concat(net, stride_rows, f"{prefix}.strides", axis=2))


def _arange(net, n, name):
    y = arange(net, n, name, dtype="float32")
    return cast(net, y, f"{name}.half", "float16") if net.dtype == net.trt.DataType.HALF else y


def decode_boxes(net, dist, anchors, strides, prefix, xywh=True):
    """dist2bbox: left/top/right/bottom distances (B, 4, A) around the anchors → xywh (or x1y1x2y2), × stride."""
    lt = slice_axis(net, dist, f"{prefix}.lt", 1, 0, 2)
    rb = slice_axis(net, dist, f"{prefix}.rb", 1, 2, 2)
    x1y1 = elementwise(net, anchors, lt, f"{prefix}.x1y1", "sub")
    x2y2 = elementwise(net, anchors, rb, f"{prefix}.x2y2", "sum")
    if xywh:
        c = elementwise(net, elementwise(net, x1y1, x2y2, f"{prefix}.c2", "sum"),
                        constant(net, np.full((1, 1, 1), 2.0), f"{prefix}.two"), f"{prefix}.cxy", "div")
        parts = [c, elementwise(net, x2y2, x1y1, f"{prefix}.wh", "sub")]
    else:
        parts = [x1y1, x2y2]
    return elementwise(net, concat(net, parts, f"{prefix}.box", axis=1), strides, prefix, "prod")


def sigmoid(net, x, name):
    return activation(net, x, name, "sigmoid")
