"""MobileNet (torchvision.models): mobilenet_v2, mobilenet_v3_small, mobilenet_v3_large.

Names are torchvision's state_dict: `features.0.0` (conv) / `features.0.1` (BN) for every Conv2dNormActivation,
whose activation is `features.0.2`; MobileNetV2 blocks `features.N.conv.K...`, MobileNetV3 blocks
`features.N.block.K...` with Squeeze-Excitation `features.N.block.K.fc1` / `fc2`; classifier Linear layers
`classifier.1` (v2) and `classifier.0`, `classifier.3` (v3).

BatchNorm eps as torchvision's source sets it: nn.BatchNorm2d's default 1e-5 in MobileNetV2, and
`partial(nn.BatchNorm2d, eps=0.001, momentum=0.01)` in MobileNetV3. Activations: ReLU6 = CLIP(0, 6); Hardsigmoid =
TensorRT's HARD_SIGMOID (alpha 1/6, beta 0.5); Hardswish = x · hardsigmoid(x) (netdefs.common.act).

The network input "images" is (batch, 3, H, W) already normalised with the ImageNet mean / std: tools/infer.py
(netdefs/images.py) does the resize, centre crop and normalisation on the host, as the `preprocess` metadata says.
Output "logits" (batch, classes). Dropout is the identity in inference.
"""
from .common import act, conv2d, conv_bn, elementwise, flatten, global_avgpool, linear, shape_of
from .resnet import IMAGENET_PREPROCESS

# MobileNetV2: [expand ratio t, channels c, repeats n, stride s] (torchvision's inverted_residual_setting)
V2_SETTING = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1], [6, 160, 3, 2],
              [6, 320, 1, 1]]
# MobileNetV3 bneck: (input, kernel, expanded, out, SE, activation RE|HS, stride), torchvision's _mobilenet_v3_conf
V3_LARGE = [
    (16, 3, 16, 16, False, "RE", 1), (16, 3, 64, 24, False, "RE", 2), (24, 3, 72, 24, False, "RE", 1),
    (24, 5, 72, 40, True, "RE", 2), (40, 5, 120, 40, True, "RE", 1), (40, 5, 120, 40, True, "RE", 1),
    (40, 3, 240, 80, False, "HS", 2), (80, 3, 200, 80, False, "HS", 1), (80, 3, 184, 80, False, "HS", 1),
    (80, 3, 184, 80, False, "HS", 1), (80, 3, 480, 112, True, "HS", 1), (112, 3, 672, 112, True, "HS", 1),
    (112, 5, 672, 160, True, "HS", 2), (160, 5, 960, 160, True, "HS", 1), (160, 5, 960, 160, True, "HS", 1),
]
V3_SMALL = [
    (16, 3, 16, 16, True, "RE", 2), (16, 3, 72, 24, False, "RE", 2), (24, 3, 88, 24, False, "RE", 1),
    (24, 5, 96, 40, True, "HS", 2), (40, 5, 240, 40, True, "HS", 1), (40, 5, 240, 40, True, "HS", 1),
    (40, 5, 120, 48, True, "HS", 1), (48, 5, 144, 48, True, "HS", 1), (48, 5, 288, 96, True, "HS", 2),
    (96, 5, 576, 96, True, "HS", 1), (96, 5, 576, 96, True, "HS", 1),
]
V3_LAST_CHANNEL = {"mobilenet_v3_large": 1280, "mobilenet_v3_small": 1024}
V3_SETTINGS = {"mobilenet_v3_large": V3_LARGE, "mobilenet_v3_small": V3_SMALL}
MODELS = ["mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large"]
EPS = {"mobilenet_v2": 1e-5, "mobilenet_v3_small": 1e-3, "mobilenet_v3_large": 1e-3}
DEMO_OPTIONS = {"num_classes": 1000}


class ModelMismatch(ValueError):
    """The weights are another MobileNet (or no MobileNet at all)."""


def make_divisible(v, divisor=8, min_value=None):
    """torchvision.models._utils._make_divisible."""
    min_value = min_value or divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


def conv_norm_act(net, x, prefix, c_out, k, s=1, g=1, eps=1e-5, act_kind=None):
    """torchvision's Conv2dNormActivation: `prefix.0` conv, `prefix.1` BN, `prefix.2` activation."""
    return conv_bn(net, x, f"{prefix}.0", f"{prefix}.1", c_out, k, s, g=g, eps=eps, act_kind=act_kind,
                   act_name=f"{prefix}.2")


def squeeze_excitation(net, x, prefix, squeeze):
    """torchvision.ops.SqueezeExcitation(ReLU, Hardsigmoid): x · hardsigmoid(fc2(relu(fc1(avgpool(x)))))."""
    c = shape_of(x)[1]
    s = global_avgpool(net, x, f"{prefix}.avgpool")
    s = act(net, conv2d(net, s, f"{prefix}.fc1", squeeze, 1), f"{prefix}.activation", "relu")
    s = act(net, conv2d(net, s, f"{prefix}.fc2", c, 1), f"{prefix}.scale_activation", "hardsigmoid")
    return elementwise(net, x, s, prefix, "PROD")


def v2_block(net, x, prefix, c_out, stride, t, eps):
    """MobileNetV2 InvertedResidual: [1×1 expand ReLU6] → 3×3 depthwise ReLU6 → 1×1 project (conv, BN)."""
    c_in = shape_of(x)[1]
    hidden = int(round(c_in * t))
    y, k = x, 0
    if t != 1:
        y, k = conv_norm_act(net, y, f"{prefix}.conv.0", hidden, 1, eps=eps, act_kind="relu6"), 1
    y = conv_norm_act(net, y, f"{prefix}.conv.{k}", hidden, 3, stride, g=hidden, eps=eps, act_kind="relu6")
    y = conv_bn(net, y, f"{prefix}.conv.{k + 1}", f"{prefix}.conv.{k + 2}", c_out, 1, eps=eps)
    if stride == 1 and c_in == c_out:
        y = elementwise(net, x, y, prefix, "SUM")
    return y


def v3_block(net, x, prefix, cnf, eps):
    """MobileNetV3 InvertedResidual: [1×1 expand] → k×k depthwise → [SE] → 1×1 project, + input when it fits."""
    c_in, k, expanded, c_out, se, kind, stride = cnf
    a = "hardswish" if kind == "HS" else "relu"
    y, i = x, 0
    if expanded != c_in:
        y, i = conv_norm_act(net, y, f"{prefix}.block.0", expanded, 1, eps=eps, act_kind=a), 1
    y = conv_norm_act(net, y, f"{prefix}.block.{i}", expanded, k, stride, g=expanded, eps=eps, act_kind=a)
    i += 1
    if se:
        y = squeeze_excitation(net, y, f"{prefix}.block.{i}", make_divisible(expanded // 4, 8))
        i += 1
    y = conv_norm_act(net, y, f"{prefix}.block.{i}", c_out, 1, eps=eps)
    if stride == 1 and c_in == c_out:
        y = elementwise(net, y, x, prefix, "SUM")
    return y


def mobilenet_features(net, x, model, prefix=""):
    """Every output of `{prefix}features.N`, N = 0 ... last (strides 2 ... 32), for classifiers and encoders."""
    model = model.lower()
    eps = EPS[model]
    outputs = []
    if model == "mobilenet_v2":
        y = conv_norm_act(net, x, f"{prefix}features.0", 32, 3, 2, eps=eps, act_kind="relu6")
        outputs.append(y)
        for t, c, n, s in V2_SETTING:
            for i in range(n):
                y = v2_block(net, y, f"{prefix}features.{len(outputs)}", c, s if i == 0 else 1, t, eps)
                outputs.append(y)
        y = conv_norm_act(net, y, f"{prefix}features.{len(outputs)}", 1280, 1, eps=eps, act_kind="relu6")
    else:
        setting = V3_SETTINGS[model]
        y = conv_norm_act(net, x, f"{prefix}features.0", setting[0][0], 3, 2, eps=eps, act_kind="hardswish")
        outputs.append(y)
        for cnf in setting:
            y = v3_block(net, y, f"{prefix}features.{len(outputs)}", cnf, eps)
            outputs.append(y)
        y = conv_norm_act(net, y, f"{prefix}features.{len(outputs)}", 6 * setting[-1][3], 1, eps=eps,
                          act_kind="hardswish")
    outputs.append(y)
    return outputs


def classifier(net, x, model, num_classes, prefix=""):
    """avgpool → flatten → classifier: v2 Dropout, Linear (`classifier.1`); v3 Linear (`classifier.0`), Hardswish
    (`classifier.1`), Dropout, Linear (`classifier.3`)."""
    y = flatten(net, global_avgpool(net, x, f"{prefix}avgpool"), f"{prefix}flatten")
    if model == "mobilenet_v2":
        return linear(net, y, f"{prefix}classifier.1", num_classes)
    y = linear(net, y, f"{prefix}classifier.0", V3_LAST_CHANNEL[model])
    y = act(net, y, f"{prefix}classifier.1", "hardswish")
    return linear(net, y, f"{prefix}classifier.3", num_classes)


# ---- weights
def describe_weights(names_and_shapes):
    """(model name, classes) of torchvision MobileNet weights from their names and shapes, or ModelMismatch."""
    shapes = {k: tuple(v) for k, v in names_and_shapes}
    if "features.0.0.weight" not in shapes:
        raise ModelMismatch("these weights are not a torchvision MobileNet (no features.0.0.weight)")
    if "features.1.conv.0.0.weight" in shapes:
        found, fc = "mobilenet_v2", "classifier.1.weight"
    elif "features.1.block.0.0.weight" in shapes:
        n = sum(1 for k in shapes if k.endswith(".block.0.0.weight") and k.count(".") == 5)
        found = {len(V3_LARGE): "mobilenet_v3_large", len(V3_SMALL): "mobilenet_v3_small"}.get(n)
        if found is None:
            raise ModelMismatch(f"MobileNetV3 weights with {n} inverted residual blocks match neither small "
                                f"({len(V3_SMALL)}) nor large ({len(V3_LARGE)})")
        fc = "classifier.3.weight"
    else:
        raise ModelMismatch("these weights are not a torchvision MobileNet (features.1 is neither a V2 nor a V3 "
                            "block)")
    return found, (int(shapes[fc][0]) if fc in shapes else None)


def check_weights(weights, model):
    """Refuse weights of another MobileNet, naming the model they are."""
    found, nc = describe_weights((k, weights.shape(k)) for k in weights.names())
    if found != model.lower():
        raise ModelMismatch(f"the weights are {found} ({nc} classes), but {model} was asked for: "
                            f"build with model name {found}")


def define(net, model, imgsz=224, batch=1, num_classes=None):
    """Add torchvision `model` to `net.network`: input "images" (batch, 3, H, W), normalised on the host; output
    "logits" (batch, classes). Classes come from the last classifier Linear's weight unless given."""
    model = model.lower()
    if model not in MODELS:
        raise ModelMismatch(f"unknown MobileNet model {model!r}; known: {', '.join(MODELS)}")
    h, w = (imgsz, imgsz) if isinstance(imgsz, int) else tuple(imgsz)
    if num_classes is None:
        fc = "classifier.1.weight" if model == "mobilenet_v2" else "classifier.3.weight"
        num_classes = int(net.weights.shape(fc)[0])
    x = net.input("images", (batch, 3, h, w))
    logits = classifier(net, mobilenet_features(net, x, model)[-1], model, num_classes)
    net.output(logits, "logits")
    return {"family": "mobilenet", "model": model, "task": "classify", "input": "images", "imgsz": [h, w],
            "outputs": ["logits"], "num_classes": num_classes, "preprocess": dict(IMAGENET_PREPROCESS)}
