"""U-Net (segmentation-models-pytorch 0.6 `smp.Unet`) with a ResNet encoder: unet-resnet18, unet-resnet34,
unet-resnet50.

Reference: `smp.Unet('resnet34', encoder_weights=None, classes=N)` with its defaults (encoder_depth 5,
decoder_channels (256, 128, 64, 32, 16), BatchNorm in the decoder, no attention, nearest interpolation); names are
its state_dict:
- encoder: torchvision's ResNet under `encoder.` (`encoder.conv1`, `encoder.layer1.0.conv1`, ...), smp's
  ResNetEncoder without avgpool / fc: netdefs/resnet.py `resnet_features`. Features [x, relu (stride 2), layer1 (4),
  layer2 (8), layer3 (16), layer4 (32)].
- decoder (smp/decoders/unet/decoder.py): no center block (ResNet encoders); `decoder.blocks.{i}`, i = 0..4: nearest
  interpolation of the previous output to the next feature's size (×2), concatenated with that feature (layer3,
  layer2, layer1, relu; block 4 has no skip and goes to the input size), then `conv1` and `conv2`, each a
  Conv2dReLU: `.0` conv 3×3 (no bias), `.1` BatchNorm2d (eps 1e-5), `.2` ReLU. Each Conv2dReLU's output is
  named after it (`decoder.blocks.0.conv1`), except conv2's, which is the block's output: `decoder.blocks.{i}`.
- head: `segmentation_head.0` conv 3×3 (padding 1, bias) to the classes; no upsampling, identity activation.

Nearest interpolation to twice the size is TensorRT's Resize with ASYMMETRIC + FLOOR (source index
floor(dst · in / out)), exactly F.interpolate(size=...).
Output "logits" (batch, classes, H, W), before any activation; input "images" (batch, 3, H, W) normalised on the host
with the ImageNet mean / std. H and W must be multiples of 32.
"""
import numpy as np

from . import smp
from .common import concat, conv_bn, conv2d, interpolate, shape_of
from .resnet import BN_EPS, resnet_features

ENCODERS = {"resnet18": 18, "resnet34": 34, "resnet50": 50}
MODELS = [f"unet-{e}" for e in ENCODERS]
DEMO_OPTIONS = {"num_classes": 2}
DECODER_CHANNELS = (256, 128, 64, 32, 16)  # smp Unet default decoder_channels
ModelMismatch = smp.ModelMismatch
check_weights = smp.check_weights


def parse_name(model):
    name = model.lower()
    if name not in MODELS:
        raise ModelMismatch(f"unknown Unet model {model!r}; known: {', '.join(MODELS)}")
    return name[len("unet-"):]


def conv2d_relu(net, x, prefix, c_out, eps=BN_EPS, name=None):
    """smp Conv2dReLU with BatchNorm: `prefix.0` conv 3×3 padding 1 (no bias) → `prefix.1` BN → ReLU, named
    `name` or `prefix` (the Sequential's output)."""
    return conv_bn(net, x, f"{prefix}.0", f"{prefix}.1", c_out, 3, 1, 1, eps=eps, act_kind="relu",
                   act_name=name or prefix)


def decoder_block(net, x, skip, prefix, c_out, size):
    """UnetDecoderBlock: nearest to `size`, concatenated with `skip` (if any), conv1, conv2 (attention: none).
    conv2's output is the block's: it is named `prefix`."""
    y = interpolate(net, x, f"{prefix}.upsample", size=size, mode="nearest")
    if skip is not None:
        y = concat(net, [y, skip], f"{prefix}.cat")
    y = conv2d_relu(net, y, f"{prefix}.conv1", c_out)
    return conv2d_relu(net, y, f"{prefix}.conv2", c_out, name=prefix)


def unet_decoder(net, x, features, prefix="decoder.", channels=DECODER_CHANNELS):
    """smp UnetDecoder on the encoder's features [stride 2, 4, 8, 16, 32] (the input itself excluded) and the input
    `x` (for the last block's size): the last block's output at the input's resolution."""
    sizes = [shape_of(f)[2:] for f in [x] + list(features)][::-1]  # [s32, s16, s8, s4, s2, s1]
    skips = list(features[:-1])[::-1] + [None]  # layer3, layer2, layer1, relu, none
    y = features[-1]
    for i, c_out in enumerate(channels):
        c_out = smp.channels(net, f"{prefix}blocks.{i}.conv1.1.weight", c_out)
        y = decoder_block(net, y, skips[i], f"{prefix}blocks.{i}", c_out, sizes[i + 1])
    return y


def quant_defaults(model):
    """INT8 fallbacks: the segmentation head (the logits themselves) stays out of INT8."""
    return [("segmentation_head.*", "fp16")]


def define(net, model, imgsz=512, batch=1, num_classes=None):
    """Add smp Unet `model` to `net.network`: input "images" (batch, 3, H, W), output "logits"
    (batch, classes, H, W). Classes come from segmentation_head.0 unless given."""
    encoder = parse_name(model)
    h, w = (imgsz, imgsz) if isinstance(imgsz, int) else tuple(imgsz)
    if h % 32 or w % 32:
        raise ValueError(f"imgsz {h}x{w} must be a multiple of 32 (the encoder's output stride)")
    if num_classes is None:
        num_classes = int(np.prod(net.weights.shape("segmentation_head.0.bias")))
    x = net.input("images", (batch, 3, h, w))
    features = resnet_features(net, x, "encoder.", ENCODERS[encoder])
    y = unet_decoder(net, x, features, "decoder.")
    y = conv2d(net, y, "segmentation_head.0", num_classes, 3, 1, 1)
    net.output(y, "logits")
    return {"family": "unet", "model": model.lower(), "task": "segment", "input": "images", "imgsz": [h, w],
            "outputs": ["logits"], "num_classes": num_classes, "output_stride": 1,
            "preprocess": dict(smp.SEGMENT_PREPROCESS)}
