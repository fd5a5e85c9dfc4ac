"""ResNet (torchvision.models.resnet): resnet18, resnet34, resnet50, resnet101, resnet152.

Names are torchvision's state_dict: `conv1`, `bn1`, `layer1.0.conv1`, `layer1.0.downsample.0` (conv) / `.1` (BN),
`fc`. Every BatchNorm has torchvision's default eps 1e-5 (`nn.BatchNorm2d` in `ResNet._norm_layer`).

`resnet_features(net, x, prefix, depth)` is the backbone alone, for encoders: segmentation-models-pytorch's
`ResNetEncoder` subclasses torchvision's ResNet, so its names are the same under a prefix (`encoder.conv1.weight`,
`encoder.layer1.0.conv1.weight`), and it returns the same feature list (minus the input itself).

The network input "images" is (batch, 3, H, W) already normalised with the ImageNet mean / std: tools/infer.py
(netdefs/images.py) does the resize, centre crop and normalisation on the host, as the `preprocess` metadata says.
Output "logits" (batch, classes): the fc layer, before softmax.
"""
from .common import act, conv_bn, elementwise, flatten, global_avgpool, linear, maxpool, shape_of

BN_EPS = 1e-5  # torchvision ResNet: nn.BatchNorm2d default
# depth -> (block, blocks per layer), as torchvision's resnet18 ... resnet152 builders
ARCHITECTURES = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}
MODELS = [f"resnet{d}" for d in ARCHITECTURES]
DEMO_OPTIONS = {"num_classes": 1000}
IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
# torchvision's eval transforms (ImageClassification): resize the shorter side to 256 (bilinear, antialiased),
# centre crop 224, scale to [0, 1], normalise; for another imgsz the resize scales with it (round(imgsz·256/224)).
IMAGENET_PREPROCESS = {"resize": "shorter side to round(imgsz * resize_ratio), bilinear", "resize_ratio": 256 / 224,
                       "center_crop": True,
                       "mean": IMAGENET_MEAN, "std": IMAGENET_STD, "scale": 1 / 255, "rgb": True,
                       "done_by": "host (tools/infer.py, netdefs/images.py); not in the network"}
PLANES = (64, 128, 256, 512)
EXPANSION = {"basic": 1, "bottleneck": 4}


class ModelMismatch(ValueError):
    """The weights are another ResNet (or no ResNet at all)."""


def parse_name(model):
    name = model.lower()
    if name not in MODELS:
        raise ModelMismatch(f"unknown ResNet model {model!r}; known: {', '.join(MODELS)}")
    return int(name[len("resnet"):])


# ---- building blocks (torchvision.models.resnet.BasicBlock / Bottleneck)
def basic_block(net, x, p, planes, stride, eps=BN_EPS):
    """BasicBlock: conv1 3×3 (stride) → bn1 → relu → conv2 3×3 → bn2, + identity or downsample, → relu.
    The block's output is named `p` (a forward hook on `layer1.0` sees it)."""
    y = conv_bn(net, x, f"{p}.conv1", f"{p}.bn1", planes, 3, stride, eps=eps, act_kind="relu",
                act_name=f"{p}.relu1")
    y = conv_bn(net, y, f"{p}.conv2", f"{p}.bn2", planes, 3, 1, eps=eps)
    return _residual(net, x, y, p, stride, eps)


def bottleneck_block(net, x, p, planes, stride, groups=1, base_width=64, eps=BN_EPS):
    """Bottleneck (ResNet v1.5, stride on the 3×3): conv1 1×1 → conv2 3×3 (stride, groups) → conv3 1×1 (×4)."""
    width = int(planes * (base_width / 64.0)) * groups
    y = conv_bn(net, x, f"{p}.conv1", f"{p}.bn1", width, 1, eps=eps, act_kind="relu", act_name=f"{p}.relu1")
    y = conv_bn(net, y, f"{p}.conv2", f"{p}.bn2", width, 3, stride, g=groups, eps=eps, act_kind="relu",
                act_name=f"{p}.relu2")
    y = conv_bn(net, y, f"{p}.conv3", f"{p}.bn3", planes * 4, 1, eps=eps)
    return _residual(net, x, y, p, stride, eps)


def _residual(net, x, y, p, stride, eps):
    c_out = shape_of(y)[1]
    if stride != 1 or shape_of(x)[1] != c_out:  # torchvision's rule for a downsample branch
        x = conv_bn(net, x, f"{p}.downsample.0", f"{p}.downsample.1", c_out, 1, stride, p=0, eps=eps)
    # INT8: the add's second input gets a Q/DQ pair (pytorch-quantization's `residual_quantizer`), so that
    # TensorRT fuses conv3 + bn3 + add + relu into one INT8 convolution ("Q/DQ Layer-Placement Recommendations").
    x = net.quantize_input(x, p, "residual")
    return act(net, elementwise(net, y, x, f"{p}.add", "SUM"), p, "relu")


def stem(net, x, prefix=""):
    """conv1 7×7/2 → bn1 → relu (stride 2, named `{prefix}relu`); the max pool comes with layer1."""
    return conv_bn(net, x, f"{prefix}conv1", f"{prefix}bn1", 64, 7, 2, p=3, eps=BN_EPS, act_kind="relu",
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
            y = maxpool(net, y, f"{prefix}maxpool", 3, 2, 1)
        y = resnet_layer(net, y, prefix, index, block, layers[index - 1], groups, base_width)
        features.append(y)
    return features


def resnet_out_channels(depth):
    """Channels of resnet_features' outputs, as smp's `out_channels[1:]`."""
    block, _ = ARCHITECTURES[depth]
    return [64] + [p * EXPANSION[block] for p in PLANES]


# ---- weights
def describe_weights(names_and_shapes, prefix=""):
    """(model name, classes) of ResNet weights from their names and shapes, or raise ModelMismatch."""
    shapes = {k: tuple(v) for k, v in names_and_shapes}
    if f"{prefix}conv1.weight" not in shapes or f"{prefix}layer1.0.conv1.weight" not in shapes:
        raise ModelMismatch(f"these weights are not a torchvision ResNet (no {prefix}conv1 / {prefix}layer1.0.conv1 "
                            "weights)")
    block = "bottleneck" if f"{prefix}layer1.0.conv3.weight" in shapes else "basic"
    counts = []
    for index in range(1, 5):
        n = 0
        while f"{prefix}layer{index}.{n}.conv1.weight" in shapes:
            n += 1
        counts.append(n)
    found = [d for d, arch in ARCHITECTURES.items() if arch == (block, tuple(counts))]
    if not found:
        raise ModelMismatch(f"ResNet weights with {block} blocks {counts} per layer match no "
                            f"{'/'.join(MODELS)}")
    fc = shapes.get(f"{prefix}fc.weight")
    return f"resnet{found[0]}", (int(fc[0]) if fc else None)


def check_weights(weights, model):
    """Refuse weights of another ResNet, naming the model they are."""
    found, nc = describe_weights((k, weights.shape(k)) for k in weights.names())
    if found != model.lower():
        raise ModelMismatch(f"the weights are {found} ({nc} classes), but {model} was asked for: "
                            f"build with model name {found}")


def classifier_head(net, x, num_classes, prefix="", fc="fc"):
    """avgpool → flatten → fc: logits (N, classes)."""
    y = global_avgpool(net, x, f"{prefix}avgpool")
    y = flatten(net, y, f"{prefix}flatten")
    return linear(net, y, f"{prefix}{fc}", num_classes)


def define(net, model, imgsz=224, batch=1, num_classes=None):
    """Add torchvision `model` (resnet18 ... resnet152) to `net.network`: input "images" (batch, 3, H, W),
    normalised on the host; output "logits" (batch, classes). Classes come from fc.weight unless given."""
    depth = parse_name(model)
    h, w = (imgsz, imgsz) if isinstance(imgsz, int) else tuple(imgsz)
    if num_classes is None:
        num_classes = int(net.weights.shape("fc.weight")[0])
    x = net.input("images", (batch, 3, h, w))
    features = resnet_features(net, x, "", depth)
    logits = classifier_head(net, features[-1], num_classes)
    net.output(logits, "logits")
    return {"family": "resnet", "model": model.lower(), "task": "classify", "input": "images", "imgsz": [h, w],
            "outputs": ["logits"], "num_classes": num_classes, "preprocess": dict(IMAGENET_PREPROCESS)}
