"""Blocks of segmentation-models-pytorch 0.6 (`smp/decoders/unet/decoder.py`, `smp/decoders/fpn/decoder.py`),
named after its modules and state_dict: the Unet decoder (`decoder.blocks.{i}` of Conv2dReLU pairs) and the FPN
decoder (`decoder.p5`, FPNBlock `decoder.p4`, `decoder.seg_blocks.{i}` of Conv3x3GNReLU, merge by sum). The encoders
are torchvision's ResNet (netdefs/layers/torchvision.py) and timm's PoolFormer (netdefs/layers/timm.py) under
`encoder.`. Decoder widths are options in smp: they are read from the weights (`channels`).
"""
import numpy as np

from .ops import activation, concat, conv2d, conv_norm_act, elementwise, groupnorm, interpolate, shape_of
from .torchvision import BN_EPS

DECODER_CHANNELS = (256, 128, 64, 32, 16)  # smp Unet default decoder_channels
GN_GROUPS = 32  # smp Conv3x3GNReLU: nn.GroupNorm(32, out_channels), eps 1e-5
GN_EPS = 1e-5
PYRAMID_CHANNELS = 256  # smp FPN defaults (decoder_pyramid_channels, decoder_segmentation_channels)
SEGMENTATION_CHANNELS = 128


def channels(net, name, default):
    """Channels from a weight's element count (smp's decoder widths are options), else `default` (demo weights
    have no shapes)."""
    try:
        return int(np.prod(net.weights.shape(name)))
    except KeyError:  # demo weights have no shapes
        return default



# ---- Unet
def conv2d_relu(net, x, prefix, c_out, eps=BN_EPS, name=None):
    """smp Conv2dReLU with BatchNorm: `prefix.0` conv 3×3 padding 1 (no bias) → `prefix.1` BN → ReLU, named
    `name` or `prefix` (the Sequential's output)."""
    return conv_norm_act(net, x, f"{prefix}.0", f"{prefix}.1", c_out, 3, 1, 1, eps=eps, act="relu",
                         act_name=name or prefix)


def decoder_block(net, x, skip, prefix, c_out, size):
    """UnetDecoderBlock: nearest to `size`, concatenated with `skip` (if any), conv1, conv2 (attention: none).
    conv2's output is the block's: it is named `prefix`."""
    y = interpolate(net, x, f"{prefix}.upsample", size=size, mode="nearest")
    if skip is not None:
        y = concat(net, [y, skip], f"{prefix}.cat")
    y = conv2d_relu(net, y, f"{prefix}.conv1", c_out)
    return conv2d_relu(net, y, f"{prefix}.conv2", c_out, name=prefix)


def unet_decoder(net, x, features, prefix="decoder.", widths=DECODER_CHANNELS):
    """smp UnetDecoder on the encoder's features [stride 2, 4, 8, 16, 32] (the input itself excluded) and the input
    `x` (for the last block's size): the last block's output at the input's resolution."""
    sizes = [shape_of(f)[2:] for f in [x] + list(features)][::-1]  # [s32, s16, s8, s4, s2, s1]
    skips = list(features[:-1])[::-1] + [None]  # layer3, layer2, layer1, relu, none
    y = features[-1]
    for i, c_out in enumerate(widths):
        c_out = channels(net, f"{prefix}blocks.{i}.conv1.1.weight", c_out)
        y = decoder_block(net, y, skips[i], f"{prefix}blocks.{i}", c_out, sizes[i + 1])
    return y


# ---- FPN
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
    y = activation(net, y, f"{prefix}.block.2" if upsample else prefix, "relu")
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
    pyramid = channels(net, f"{prefix}p5.bias", PYRAMID_CHANNELS)
    seg = channels(net, f"{prefix}seg_blocks.0.block.0.block.1.weight", SEGMENTATION_CHANNELS)
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
