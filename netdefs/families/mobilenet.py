"""MobileNet (torchvision.models): mobilenet_v2, mobilenet_v3_small, mobilenet_v3_large.

Names are torchvision's state_dict: `features.0.0` (conv) / `features.0.1` (BN) for every Conv2dNormActivation,
whose activation is `features.0.2`; MobileNetV2 blocks `features.N.conv.K...`, MobileNetV3 blocks
`features.N.block.K...` with Squeeze-Excitation `features.N.block.K.fc1` / `fc2`; classifier Linear layers
`classifier.1` (v2) and `classifier.0`, `classifier.3` (v3). The blocks and torchvision's settings tables are
netdefs/layers/torchvision.py.

BatchNorm eps as torchvision's source sets it: nn.BatchNorm2d's default 1e-5 in MobileNetV2, and
`partial(nn.BatchNorm2d, eps=0.001, momentum=0.01)` in MobileNetV3. Activations: ReLU6 = CLIP(0, 6); Hardsigmoid =
TensorRT's HARD_SIGMOID (alpha 1/6, beta 0.5); Hardswish = x · hardsigmoid(x) (netdefs.layers.ops.activation).

The network input "images" is (batch, 3, H, W) already normalised with the ImageNet mean / std on the host.
Output "logits" (batch, classes). Dropout is the identity in inference.
"""
from ..errors import ModelMismatch
from ..family import Family, count
from ..layers.torchvision import V3_LARGE, V3_SMALL, classifier, mobilenet_features
from .resnet import IMAGENET_PREPROCESS

CLASSIFIER = {"mobilenet_v2": "classifier.1", "mobilenet_v3_small": "classifier.3",
              "mobilenet_v3_large": "classifier.3"}


class MobileNet(Family):
    name = "mobilenet"
    reference = "torchvision.models.mobilenet_v2 / mobilenet_v3_*"
    task = "classify"
    models = ("mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large")
    imgsz = 224
    demo_classes = 1000

    def describe(self, shapes):
        if "features.0.0.weight" not in shapes:
            raise ModelMismatch("these weights are not a torchvision MobileNet (no features.0.0.weight)")
        if "features.1.conv.0.0.weight" in shapes:
            found = "mobilenet_v2"
        elif "features.1.block.0.0.weight" in shapes:
            n = sum(1 for k in shapes if k.endswith(".block.0.0.weight") and k.count(".") == 5)
            found = {len(V3_LARGE): "mobilenet_v3_large", len(V3_SMALL): "mobilenet_v3_small"}.get(n)
            if found is None:
                raise ModelMismatch(f"MobileNetV3 weights with {n} inverted residual blocks match neither small "
                                    f"({len(V3_SMALL)}) nor large ({len(V3_LARGE)})")
        else:
            raise ModelMismatch("these weights are not a torchvision MobileNet (features.1 is neither a V2 nor a V3 "
                                "block)")
        return found, count(shapes, f"{CLASSIFIER[found]}.bias")

    def preprocess(self, model, imgsz):
        return dict(IMAGENET_PREPROCESS)

    def define(self, net, model, x, num_classes):
        logits = classifier(net, mobilenet_features(net, x, model)[-1], model, num_classes)
        net.output(logits, "logits")
        return {"outputs": ["logits"]}


FAMILY = MobileNet()
