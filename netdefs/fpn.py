"""FPN (segmentation-models-pytorch 0.6 `smp.FPN`) over a PoolFormer-S12 backbone: `fpn-poolformer_s12`, the kind of
model behind FastSegFormer (a PoolFormer encoder with a light multi-scale segmentation head).

Reference: `smp.FPN('tu-poolformer_s12', encoder_weights=None, classes=N)`; names are its state_dict:
- encoder: timm's poolformer_s12 `features_only` under `encoder.model.` (`encoder.model.stem.conv`,
  `encoder.model.stages_0.blocks.0.norm1`, ...): netdefs/poolformer.py. Features c2..c5 at strides 4, 8, 16, 32.
- decoder (smp/decoders/fpn/decoder.py): `decoder.p5` 1×1 conv on c5; `decoder.p4` / `p3` / `p2` (FPNBlock):
  nearest ×2 of the coarser level + `skip_conv` 1×1 of the encoder feature; `decoder.seg_blocks.{0..3}` on p5, p4,
  p3, p2 with 3, 2, 1, 0 upsamplings, each `block.{j}` a Conv3x3GNReLU (`block.{j}.block.0` conv 3×3 no bias,
  `.1` GroupNorm(32, C), `.2` ReLU, then bilinear ×2 with align_corners=True); merge "add" (sum of the four);
  Dropout2d (identity in inference).
- head: `segmentation_head.0` 1×1 conv to the classes, `segmentation_head.1` bilinear ×4 with align_corners=True
  (nn.Upsample(scale_factor=4, mode="bilinear", align_corners=True)), identity activation.

Every resampling is an integer factor (2 or 4) and maps exactly onto TensorRT's native Resize: nearest ×2 is
ASYMMETRIC + FLOOR, smp's bilinear is align_corners=True, i.e. ALIGN_CORNERS + LINEAR (source coordinate
dst · (in − 1) / (out − 1), which PyTorch uses whatever the scale factor). smp uses no non-integer scale factor and
no half-pixel bilinear here, so no plugin is needed.

Output "logits" (batch, classes, H, W), before any activation; input "images" (batch, 3, H, W) normalised on the host
with the ImageNet mean / std. H and W must be multiples of 32 (smp's own check).
"""
import numpy as np

from . import smp
from .common import activation, conv2d, elementwise, groupnorm, interpolate, shape_of
from .poolformer import poolformer_features

ENCODERS = {"poolformer_s12": "s12"}
MODELS = [f"fpn-{e}" for e in ENCODERS]
DEMO_OPTIONS = {"num_classes": 2}
GN_GROUPS = 32  # smp Conv3x3GNReLU: nn.GroupNorm(32, out_channels), eps 1e-5
GN_EPS = 1e-5
PYRAMID_CHANNELS = 256  # smp FPN defaults (decoder_pyramid_channels, decoder_segmentation_channels)
SEGMENTATION_CHANNELS = 128
UPSAMPLING = 4
ModelMismatch = smp.ModelMismatch
check_weights = smp.check_weights


def parse_name(model):
    name = model.lower()
    if name not in MODELS:
        raise ModelMismatch(f"unknown FPN model {model!r}; known: {', '.join(MODELS)}")
    return name[len("fpn-"):]


def fpn_block(net, x, skip, prefix):
    """FPNBlock: nearest ×2 of `x` + skip_conv(skip) (1×1 with bias); the sum is named `prefix`."""
    up = interpolate(net, x, f"{prefix}.upsample", scale_factor=2, mode="nearest")
    s = conv2d(net, skip, f"{prefix}.skip_conv", shape_of(x)[1], 1)
    return elementwise(net, up, s, prefix, "SUM")


def conv3x3_gn_relu(net, x, prefix, c_out, upsample):
    """Conv3x3GNReLU: conv 3×3 (no bias) → GroupNorm(32) → ReLU [→ bilinear ×2, align_corners=True]; the module's
    output is named `prefix`."""
    y = conv2d(net, x, f"{prefix}.block.0", c_out, 3, 1, 1, bias=False)
    y = groupnorm(net, y, f"{prefix}.block.1", GN_GROUPS, GN_EPS)
    y = activation(net, y, f"{prefix}.block.2" if upsample else prefix, "RELU")
    if upsample:
        y = interpolate(net, y, prefix, scale_factor=2, mode="bilinear", align_corners=True)
    return y


def segmentation_block(net, x, prefix, c_out, n_upsamples):
    for j in range(max(n_upsamples, 1)):
        x = conv3x3_gn_relu(net, x, f"{prefix}.block.{j}", c_out, n_upsamples > 0)
    return x


def fpn_decoder(net, features, prefix="decoder."):
    """smp FPNDecoder on [c2, c3, c4, c5]: the merged (added) segmentation features at stride 4, named
    `{prefix}merge`."""
    c2, c3, c4, c5 = features[-4:]
    pyramid = smp.channels(net, f"{prefix}p5.bias", PYRAMID_CHANNELS)
    seg = smp.channels(net, f"{prefix}seg_blocks.0.block.0.block.1.weight", SEGMENTATION_CHANNELS)
    p5 = conv2d(net, c5, f"{prefix}p5", pyramid, 1)
    p4 = fpn_block(net, p5, c4, f"{prefix}p4")
    p3 = fpn_block(net, p4, c3, f"{prefix}p3")
    p2 = fpn_block(net, p3, c2, f"{prefix}p2")
    levels = [segmentation_block(net, p, f"{prefix}seg_blocks.{i}", seg, n)
              for i, (p, n) in enumerate(zip((p5, p4, p3, p2), (3, 2, 1, 0)))]
    y = levels[0]
    for i, level in enumerate(levels[1:], 1):
        y = elementwise(net, y, level, f"{prefix}merge" if i == len(levels) - 1 else f"{prefix}merge.{i}", "SUM")
    return y


def quant_defaults(model):
    """INT8 fallbacks: the segmentation head (the logits themselves) stays out of INT8."""
    return [("segmentation_head.*", "fp16")]


def define(net, model, imgsz=512, batch=1, num_classes=None):
    """Add smp FPN `model` to `net.network`: input "images" (batch, 3, H, W), output "logits" (batch, classes, H, W).
    Classes come from segmentation_head.0 unless given."""
    encoder = parse_name(model)
    h, w = (imgsz, imgsz) if isinstance(imgsz, int) else tuple(imgsz)
    if h % 32 or w % 32:
        raise ValueError(f"imgsz {h}x{w} must be a multiple of 32 (the encoder's output stride)")
    if num_classes is None:
        num_classes = int(np.prod(net.weights.shape("segmentation_head.0.bias")))
    x = net.input("images", (batch, 3, h, w))
    features = poolformer_features(net, x, "encoder.model.", ENCODERS[encoder], stage_sep="_")
    y = fpn_decoder(net, features, "decoder.")
    y = conv2d(net, y, "segmentation_head.0", num_classes, 1)
    y = interpolate(net, y, "segmentation_head.1", scale_factor=UPSAMPLING, mode="bilinear", align_corners=True)
    net.output(y, "logits")
    return {"family": "fpn", "model": model.lower(), "task": "segment", "input": "images", "imgsz": [h, w],
            "outputs": ["logits"], "num_classes": num_classes, "output_stride": 1,
            "preprocess": dict(smp.SEGMENT_PREPROCESS)}
