"""What segmentation-models-pytorch weights are, for the smp families (netdefs/unet.py, netdefs/fpn.py).

smp models keep their parts under `encoder.`, `decoder.` and `segmentation_head.`; the decoder's names say which
architecture it is (`decoder.blocks.0.conv1.0` Unet, `decoder.p5` FPN) and the encoder's which backbone
(`encoder.layer1.0.conv1` a torchvision ResNet, `encoder.model.stem.conv` timm's PoolFormer through `tu-`).
"""
import numpy as np

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
# smp's get_preprocessing_params for the ResNet ("imagenet") and timm PoolFormer encoders: RGB in [0, 1], ImageNet
# mean / std. Segmenters take the whole image resized to imgsz (no crop).
SEGMENT_PREPROCESS = {"resize": "to imgsz (H, W), bilinear", "center_crop": False, "mean": IMAGENET_MEAN,
                      "std": IMAGENET_STD, "scale": 1 / 255, "rgb": True,
                      "done_by": "host (tools/infer.py, netdefs/images.py); not in the network"}


class ModelMismatch(ValueError):
    """The weights are another smp model (or no smp model at all)."""


def describe_weights(names_and_shapes):
    """(model name, classes) of smp weights from names and shapes, e.g. ("unet-resnet34", 2). The model name is
    this project's when it builds the combination, else a description ("an smp FPN with an unknown encoder")."""
    from .poolformer import describe_variant
    from .resnet import ModelMismatch as ResNetMismatch, describe_weights as describe_resnet
    shapes = {k: tuple(v) for k, v in names_and_shapes}
    counts = {k: int(np.prod(v)) for k, v in shapes.items()}
    if "decoder.blocks.0.conv1.0.weight" in shapes:
        arch = "unet"
    elif "decoder.p5.weight" in shapes:
        arch = "fpn"
    else:
        raise ModelMismatch("these weights are not a segmentation-models-pytorch Unet or FPN (no "
                            "decoder.blocks.0.conv1.0 / decoder.p5 weights)")
    classes = counts.get("segmentation_head.0.bias")
    variant = describe_variant(shapes.items(), "encoder.model.", "_")
    if variant is not None:
        return f"{arch}-poolformer_{variant}", classes
    try:
        encoder, _ = describe_resnet(shapes.items(), prefix="encoder.")
    except ResNetMismatch:
        return f"an smp {'Unet' if arch == 'unet' else 'FPN'} with an unknown encoder", classes
    return f"{arch}-{encoder}", classes


def channels(net, name, default):
    """Channels from a weight's element count (smp's decoder widths are options), else `default` (demo weights
    have no shapes)."""
    try:
        return int(np.prod(net.weights.shape(name)))
    except KeyError:
        return default


def check_weights(weights, model):
    """Refuse weights of another smp model, naming the model they are."""
    found, classes = describe_weights((k, weights.shape(k)) for k in weights.names())
    if found != model.lower():
        hint = f"build with model name {found}" if not found.startswith("an smp") else "this project does not build it"
        raise ModelMismatch(f"the weights are {found} ({classes} classes), but {model} was asked for: {hint}")
