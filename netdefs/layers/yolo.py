"""Blocks of ultralytics/yolov5 `models/common.py`, named after its modules: `Conv`, `Bottleneck`, `C3`, `SPPF`,
`SPP`, `Focus`. Each takes the module's state_dict prefix (`model.4`) and names its layers under it as the PyTorch
module tree does (`model.4.cv1.conv`, `model.4.m.0.cv2.bn`)."""
from .ops import concat, conv_norm_act, elementwise, pool, shape_of, slice_axis

BN_EPS = 1e-3  # YOLOv5 sets every BatchNorm2d's eps to 1e-3 (utils/torch_utils.initialize_weights)


def autopad(k, p=None, d=1):
    if d > 1:
        k = d * (k - 1) + 1
    return k // 2 if p is None else p


def Conv(net, x, prefix, c_out, k=1, s=1, p=None, g=1, d=1, act="silu", eps=BN_EPS):
    """Conv2d(bias=False) → BatchNorm2d → SiLU, as `prefix.conv`, `prefix.bn`, `prefix.act`."""
    return conv_norm_act(net, x, f"{prefix}.conv", f"{prefix}.bn", c_out, k, s, autopad(k, p, d), g, d, eps, act,
                         f"{prefix}.act")


def Bottleneck(net, x, prefix, c_out, shortcut=True, g=1, e=0.5):
    c_hidden = int(c_out * e)
    y = Conv(net, x, f"{prefix}.cv1", c_hidden, 1, 1)
    y = Conv(net, y, f"{prefix}.cv2", c_out, 3, 1, g=g)
    if shortcut and shape_of(x)[1] == c_out:
        y = elementwise(net, x, y, f"{prefix}.add", "sum")
    return y


def C3(net, x, prefix, c_out, n=1, shortcut=True, g=1, e=0.5):
    """CSP bottleneck with 3 convolutions: cv3(cat(m(cv1(x)), cv2(x)))."""
    c_hidden = int(c_out * e)
    a = Conv(net, x, f"{prefix}.cv1", c_hidden, 1, 1)
    for i in range(n):
        a = Bottleneck(net, a, f"{prefix}.m.{i}", c_hidden, shortcut, g, e=1.0)
    b = Conv(net, x, f"{prefix}.cv2", c_hidden, 1, 1)
    return Conv(net, concat(net, [a, b], f"{prefix}.cat"), f"{prefix}.cv3", c_out, 1)


def SPPF(net, x, prefix, c_out, k=5):
    """Three chained k×k max pools, concatenated (equivalent to SPP(5, 9, 13) for k=5). The one MaxPool2d module
    `prefix.m` is called three times: its calls are `prefix.m.0` ... `prefix.m.2`."""
    c_hidden = shape_of(x)[1] // 2
    x = Conv(net, x, f"{prefix}.cv1", c_hidden, 1, 1)
    y1 = pool(net, x, f"{prefix}.m.0", "max", k, 1, k // 2)
    y2 = pool(net, y1, f"{prefix}.m.1", "max", k, 1, k // 2)
    y3 = pool(net, y2, f"{prefix}.m.2", "max", k, 1, k // 2)
    return Conv(net, concat(net, [x, y1, y2, y3], f"{prefix}.cat"), f"{prefix}.cv2", c_out, 1, 1)


def SPP(net, x, prefix, c_out, ks=(5, 9, 13)):
    c_hidden = shape_of(x)[1] // 2
    x = Conv(net, x, f"{prefix}.cv1", c_hidden, 1, 1)
    pools = [pool(net, x, f"{prefix}.m.{i}", "max", k, 1, k // 2) for i, k in enumerate(ks)]
    return Conv(net, concat(net, [x] + pools, f"{prefix}.cat"), f"{prefix}.cv2", c_out, 1, 1)


def Focus(net, x, prefix, c_out, k=1, s=1, p=None):
    """Space-to-depth by four strided slices (x[..., ::2, ::2], x[..., 1::2, ::2], ...) then Conv."""
    h, w = shape_of(x)[2:]
    parts = []
    for i, (dy, dx) in enumerate(((0, 0), (1, 0), (0, 1), (1, 1))):
        y = slice_axis(net, x, f"{prefix}.slice{i}.h", 2, dy, h // 2, 2)
        parts.append(slice_axis(net, y, f"{prefix}.slice{i}", 3, dx, w // 2, 2))
    return Conv(net, concat(net, parts, f"{prefix}.cat"), f"{prefix}.conv", c_out, k, s, p)
