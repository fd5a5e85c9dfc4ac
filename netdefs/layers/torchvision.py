"""Blocks of torchvision's models (`torchvision/models/resnet.py`, `mobilenetv2.py`, `mobilenetv3.py`), named after
its modules and state_dict: ResNet's `BasicBlock` / `Bottleneck` / `layer1..4` (`layer1.0.conv1`,
`layer1.0.downsample.0`), MobileNet's `Conv2dNormActivation` (`features.0.0` conv, `.1` BN, `.2` activation),
`InvertedResidual` and `SqueezeExcitation`. The tables are torchvision's own configurations (`_resnet(BasicBlock,
[2, 2, 2, 2])`, `inverted_residual_setting`, `_mobilenet_v3_conf`); the backbones serve the classifiers
(netdefs/families/resnet.py, mobilenet.py) and, under a prefix, segmentation encoders (smp's `encoder.`).
"""
from ..errors import ModelMismatch
from .ops import activation, conv2d, conv_norm_act, elementwise, flatten, global_avgpool, linear, pool, shape_of

BN_EPS = 1e-5  # torchvision ResNet: nn.BatchNorm2d default
# depth -> (block, blocks per layer), as torchvision's resnet18 ... resnet152 builders
ARCHITECTURES = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}
PLANES = (64, 128, 256, 512)
EXPANSION = {"basic": 1, "bottleneck": 4}


# ---- building blocks (torchvision.models.resnet.BasicBlock / Bottleneck)
def basic_block(net, x, p, planes, stride, eps=BN_EPS):
    """BasicBlock: conv1 3×3 (stride) → bn1 → relu → conv2 3×3 → bn2, + identity or downsample, → relu.
    The block's output is named `p` (a forward hook on `layer1.0` sees it)."""
    y = conv_norm_act(net, x, f"{p}.conv1", f"{p}.bn1", planes, 3, stride, eps=eps, act="relu",
                      act_name=f"{p}.relu1")
    y = conv_norm_act(net, y, f"{p}.conv2", f"{p}.bn2", planes, 3, 1, eps=eps)
    return _residual(net, x, y, p, stride, eps)


def bottleneck_block(net, x, p, planes, stride, groups=1, base_width=64, eps=BN_EPS):
    """Bottleneck (ResNet v1.5, stride on the 3×3): conv1 1×1 → conv2 3×3 (stride, groups) → conv3 1×1 (×4)."""
    width = int(planes * (base_width / 64.0)) * groups
    y = conv_norm_act(net, x, f"{p}.conv1", f"{p}.bn1", width, 1, eps=eps, act="relu", act_name=f"{p}.relu1")
    y = conv_norm_act(net, y, f"{p}.conv2", f"{p}.bn2", width, 3, stride, g=groups, eps=eps, act="relu",
                      act_name=f"{p}.relu2")
    y = conv_norm_act(net, y, f"{p}.conv3", f"{p}.bn3", planes * 4, 1, eps=eps)
    return _residual(net, x, y, p, stride, eps)


def _residual(net, x, y, p, stride, eps):
    c_out = shape_of(y)[1]
    if stride != 1 or shape_of(x)[1] != c_out:  # torchvision's rule for a downsample branch
        x = conv_norm_act(net, x, f"{p}.downsample.0", f"{p}.downsample.1", c_out, 1, stride, p=0, eps=eps)
    # INT8: the add's second input gets a Q/DQ pair (pytorch-quantization's `residual_quantizer`), so that
    # TensorRT fuses conv3 + bn3 + add + relu into one INT8 convolution ("Q/DQ Layer-Placement Recommendations").
    x = net.quantize_input(x, p, "residual")
    return activation(net, elementwise(net, y, x, f"{p}.add", "SUM"), p, "relu")


def stem(net, x, prefix=""):
    """conv1 7×7/2 → bn1 → relu (stride 2, named `{prefix}relu`); the max pool comes with layer1."""
    return conv_norm_act(net, x, f"{prefix}conv1", f"{prefix}bn1", 64, 7, 2, p=3, eps=BN_EPS, act="relu",
                         act_name=f"{prefix}relu")


def resnet_layer(net, x, prefix, index, block, blocks, groups=1, base_width=64):
    """torchvision's `layer{index}` (index 1..4): `blocks` blocks, the first with stride 2 (except layer1)."""
    planes, stride = PLANES[index - 1], 1 if index == 1 else 2
    for i in range(blocks):
        p = f"{prefix}layer{index}.{i}"
        s = stride if i == 0 else 1
        if block == "basic":
            x = basic_block(net, x, p, planes, s)
        else:
            x = bottleneck_block(net, x, p, planes, s, groups, base_width)
    return x


def resnet_features(net, x, prefix="", depth=50, stages=5, groups=1, base_width=64):
    """The ResNet backbone on `x` (N, 3, H, W): [relu after conv1/bn1 (stride 2), layer1 (stride 4, after the max
    pool), layer2 (8), layer3 (16), layer4 (32)], the first `stages` of them (smp's encoder `depth`).

    `prefix` goes before every state_dict name: "" for torchvision classifiers, "encoder." for smp's Unet / FPN /
    ... encoders. `depth` is the ResNet depth (18, 34, 50, 101, 152); groups / base_width give ResNeXt and
    Wide ResNet bottlenecks (torchvision's `groups`, `width_per_group`)."""
    if depth not in ARCHITECTURES:
        raise ModelMismatch(f"ResNet depth must be one of {sorted(ARCHITECTURES)}, got {depth}")
    block, layers = ARCHITECTURES[depth]
    features = [stem(net, x, prefix)]
    y = features[0]
    for index in range(1, min(stages, 5)):
        if index == 1:
            y = pool(net, y, f"{prefix}maxpool", "max", 3, 2, 1)
        y = resnet_layer(net, y, prefix, index, block, layers[index - 1], groups, base_width)
        features.append(y)
    return features


def resnet_out_channels(depth):
    """Channels of resnet_features' outputs, as smp's `out_channels[1:]`."""
    block, _ = ARCHITECTURES[depth]
    return [64] + [p * EXPANSION[block] for p in PLANES]


def classifier_head(net, x, num_classes, prefix="", fc="fc"):
    """avgpool → flatten → fc: logits (N, classes)."""
    y = global_avgpool(net, x, f"{prefix}avgpool")
    y = flatten(net, y, f"{prefix}flatten")
    return linear(net, y, f"{prefix}{fc}", num_classes)


# ---- MobileNet v2 / v3
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
EPS = {"mobilenet_v2": 1e-5, "mobilenet_v3_small": 1e-3, "mobilenet_v3_large": 1e-3}


def make_divisible(v, divisor=8, min_value=None):
    """torchvision.models._utils._make_divisible."""
    min_value = min_value or divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


def Conv2dNormActivation(net, x, prefix, c_out, k, s=1, g=1, eps=1e-5, act=None):
    """torchvision's Conv2dNormActivation: `prefix.0` conv, `prefix.1` BN, `prefix.2` activation."""
    return conv_norm_act(net, x, f"{prefix}.0", f"{prefix}.1", c_out, k, s, g=g, eps=eps, act=act,
                         act_name=f"{prefix}.2")


def squeeze_excitation(net, x, prefix, squeeze):
    """torchvision.ops.SqueezeExcitation(ReLU, Hardsigmoid): x · hardsigmoid(fc2(relu(fc1(avgpool(x)))))."""
    c = shape_of(x)[1]
    s = global_avgpool(net, x, f"{prefix}.avgpool")
    s = activation(net, conv2d(net, s, f"{prefix}.fc1", squeeze, 1), f"{prefix}.activation", "relu")
    s = activation(net, conv2d(net, s, f"{prefix}.fc2", c, 1), f"{prefix}.scale_activation", "hardsigmoid")
    return elementwise(net, x, s, prefix, "PROD")


def v2_block(net, x, prefix, c_out, stride, t, eps):
    """MobileNetV2 InvertedResidual: [1×1 expand ReLU6] → 3×3 depthwise ReLU6 → 1×1 project (conv, BN)."""
    c_in = shape_of(x)[1]
    hidden = int(round(c_in * t))
    y, k = x, 0
    if t != 1:
        y, k = Conv2dNormActivation(net, y, f"{prefix}.conv.0", hidden, 1, eps=eps, act="relu6"), 1
    y = Conv2dNormActivation(net, y, f"{prefix}.conv.{k}", hidden, 3, stride, g=hidden, eps=eps, act="relu6")
    y = conv_norm_act(net, y, f"{prefix}.conv.{k + 1}", f"{prefix}.conv.{k + 2}", c_out, 1, eps=eps)
    if stride == 1 and c_in == c_out:
        y = elementwise(net, x, y, prefix, "SUM")
    return y


def v3_block(net, x, prefix, cnf, eps):
    """MobileNetV3 InvertedResidual: [1×1 expand] → k×k depthwise → [SE] → 1×1 project, + input when it fits."""
    c_in, k, expanded, c_out, se, kind, stride = cnf
    a = "hardswish" if kind == "HS" else "relu"
    y, i = x, 0
    if expanded != c_in:
        y, i = Conv2dNormActivation(net, y, f"{prefix}.block.0", expanded, 1, eps=eps, act=a), 1
    y = Conv2dNormActivation(net, y, f"{prefix}.block.{i}", expanded, k, stride, g=expanded, eps=eps, act=a)
    i += 1
    if se:
        y = squeeze_excitation(net, y, f"{prefix}.block.{i}", make_divisible(expanded // 4, 8))
        i += 1
    y = Conv2dNormActivation(net, y, f"{prefix}.block.{i}", c_out, 1, eps=eps)
    if stride == 1 and c_in == c_out:
        y = elementwise(net, y, x, prefix, "SUM")
    return y


def mobilenet_features(net, x, model, prefix=""):
    """Every output of `{prefix}features.N`, N = 0 ... last (strides 2 ... 32), for classifiers and encoders."""
    model = model.lower()
    eps = EPS[model]
    outputs = []
    if model == "mobilenet_v2":
        y = Conv2dNormActivation(net, x, f"{prefix}features.0", 32, 3, 2, eps=eps, act="relu6")
        outputs.append(y)
        for t, c, n, s in V2_SETTING:
            for i in range(n):
                y = v2_block(net, y, f"{prefix}features.{len(outputs)}", c, s if i == 0 else 1, t, eps)
                outputs.append(y)
        y = Conv2dNormActivation(net, y, f"{prefix}features.{len(outputs)}", 1280, 1, eps=eps, act="relu6")
    else:
        setting = V3_SETTINGS[model]
        y = Conv2dNormActivation(net, x, f"{prefix}features.0", setting[0][0], 3, 2, eps=eps, act="hardswish")
        outputs.append(y)
        for cnf in setting:
            y = v3_block(net, y, f"{prefix}features.{len(outputs)}", cnf, eps)
            outputs.append(y)
        y = Conv2dNormActivation(net, y, f"{prefix}features.{len(outputs)}", 6 * setting[-1][3], 1, eps=eps,
                          act="hardswish")
    outputs.append(y)
    return outputs


def classifier(net, x, model, num_classes, prefix=""):
    """avgpool → flatten → classifier: v2 Dropout, Linear (`classifier.1`); v3 Linear (`classifier.0`), Hardswish
    (`classifier.1`), Dropout, Linear (`classifier.3`)."""
    y = flatten(net, global_avgpool(net, x, f"{prefix}avgpool"), f"{prefix}flatten")
    if model == "mobilenet_v2":
        return linear(net, y, f"{prefix}classifier.1", num_classes)
    y = linear(net, y, f"{prefix}classifier.0", V3_LAST_CHANNEL[model])
    y = activation(net, y, f"{prefix}classifier.1", "hardswish")
    return linear(net, y, f"{prefix}classifier.3", num_classes)


