"""ResNet (torchvision.models.resnet): resnet18, resnet34, resnet50, resnet101, resnet152.

Names are torchvision's state_dict: `conv1`, `bn1`, `layer1.0.conv1`, `layer1.0.downsample.0` (conv) / `.1` (BN),
`fc`. Every BatchNorm has torchvision's default eps 1e-5 (`nn.BatchNorm2d` in `ResNet._norm_layer`). The blocks are
netdefs/layers/torchvision.py; the same backbone serves smp's encoders (netdefs/families/smp.py).

The network input "images" is (batch, 3, H, W) already normalised with the ImageNet mean / std: the classify task
(netdefs/tasks/classify.py) does the resize, centre crop and normalisation on the host, as the `preprocess` metadata
says. Output "logits" (batch, classes): the fc layer, before softmax.
"""
from ..errors import ModelMismatch
from ..family import Family, count
from ..layers.torchvision import ARCHITECTURES, classifier_head, resnet_features

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
# torchvision's eval transforms (ImageClassification): resize the shorter side to 256 (bilinear, antialiased),
# centre crop 224, scale to [0, 1], normalise; for another imgsz the resize scales with it (round(imgsz·256/224)).
IMAGENET_PREPROCESS = {"resize": "shorter side to round(imgsz * resize_ratio), bilinear", "resize_ratio": 256 / 224,
                       "center_crop": True,
                       "mean": IMAGENET_MEAN, "std": IMAGENET_STD, "scale": 1 / 255, "rgb": True,
                       "done_by": "host (tools/infer.py, netdefs/tasks); not in the network"}


def describe_resnet(shapes, prefix=""):
    """(model name, classes) of ResNet weights ({name: shape}) under `prefix`, or raise ModelMismatch."""
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
                            f"{'/'.join(ResNet.models)}")
    return f"resnet{found[0]}", count(shapes, f"{prefix}fc.bias")


class ResNet(Family):
    name = "resnet"
    reference = "torchvision.models.resnet"
    task = "classify"
    models = tuple(f"resnet{d}" for d in ARCHITECTURES)
    imgsz = 224
    demo_classes = 1000

    def parse(self, name):
        return int(name[len("resnet"):])  # the depth

    def describe(self, shapes):
        return describe_resnet(shapes)

    def preprocess(self, depth, imgsz):
        return dict(IMAGENET_PREPROCESS)

    def define(self, net, depth, x, num_classes):
        features = resnet_features(net, x, "", depth)
        net.output(classifier_head(net, features[-1], num_classes), "logits")
        return {"outputs": ["logits"]}


FAMILY = ResNet()
