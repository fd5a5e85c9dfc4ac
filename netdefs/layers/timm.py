"""Blocks of timm: PoolFormer (timm `poolformer_s12` / `s24` / `s36` / `m36` / `m48`, timm/models/metaformer.py), as a backbone.

Names are timm's MetaFormer state_dict under a prefix: `stem.conv`, `stages.0.blocks.0.norm1`, ... for a timm model,
`stages_0.blocks.0.norm1` for its `features_only` form (timm's FeatureListNet flattens `stages` to `stages_0` ...),
which is what segmentation-models-pytorch's `tu-poolformer_s12` encoder holds under `encoder.model.`.

    stem:         Conv2d 7×7 / 4, padding 2 (no norm)
    stages.i:     [Downsampling: Conv2d 3×3 / 2, padding 1 (stages 1-3)] + depth × MetaFormerBlock
    block:        x = x + layer_scale1 · (AvgPool2d(3, 1, 1, count_include_pad=False)(n) − n), n = GroupNorm1(x)
                  x = x + layer_scale2 · fc2(GELU(fc1(GroupNorm1(x))))      (fc1 / fc2: 1×1 convolutions)
GroupNorm1 is nn.GroupNorm(1, C) with eps 1e-5; GELU is the exact (erf) one; `layer_scale*.scale` is (C,).
"""
import numpy as np

from .ops import activation, conv2d, elementwise, groupnorm, pool, scale, shape_of

# variant -> (depths, dims), timm's poolformer_* builders (mlp ratio 4, layer scale, GroupNorm1, GELU)
ARCHITECTURES = {
    "s12": ((2, 2, 6, 2), (64, 128, 320, 512)),
    "s24": ((4, 4, 12, 4), (64, 128, 320, 512)),
    "s36": ((6, 6, 18, 6), (64, 128, 320, 512)),
    "m36": ((6, 6, 18, 6), (96, 192, 384, 768)),
    "m48": ((8, 8, 24, 8), (96, 192, 384, 768)),
}
GN_EPS = 1e-5  # timm GroupNorm1: nn.GroupNorm's default eps
MLP_RATIO = 4


def layer_scale(net, x, prefix):
    """timm `Scale`: x · scale.view(C, 1, 1), a channel scale layer (weights `prefix.scale`)."""
    return scale(net, x, prefix, scale=net.weight(f"{prefix}.scale", (shape_of(x)[1],)))


def pooling(net, x, prefix, pool_size=3):
    """PoolFormer's token mixer `Pooling`: AvgPool2d(pool_size, 1, pool_size // 2, count_include_pad=False)(x) − x."""
    y = pool(net, x, f"{prefix}.pool", "avg", pool_size, 1, pool_size // 2, count_include_pad=False)
    return elementwise(net, y, x, prefix, "SUB")


def metaformer_block(net, x, p):
    """MetaFormerBlock with a pooling token mixer; the block's output is named `p`."""
    c = shape_of(x)[1]
    y = groupnorm(net, x, f"{p}.norm1", 1, GN_EPS)
    y = layer_scale(net, pooling(net, y, f"{p}.token_mixer"), f"{p}.layer_scale1")
    x = elementwise(net, x, y, f"{p}.add1", "SUM")
    y = groupnorm(net, x, f"{p}.norm2", 1, GN_EPS)
    y = conv2d(net, y, f"{p}.mlp.fc1", c * MLP_RATIO, 1)
    y = activation(net, y, f"{p}.mlp.act", "gelu")
    y = conv2d(net, y, f"{p}.mlp.fc2", c, 1)
    y = layer_scale(net, y, f"{p}.layer_scale2")
    return elementwise(net, x, y, p, "SUM")


def poolformer_features(net, x, prefix="", variant="s12", stage_sep="."):
    """The four stage outputs (strides 4, 8, 16, 32) of PoolFormer `variant` on `x` (N, 3, H, W).

    `prefix` goes before every name ("encoder.model." for smp's tu- encoders); `stage_sep` is "." for a timm model
    (`stages.0`) and "_" for timm's features_only FeatureListNet (`stages_0`). A stage's output is its last block's
    (`{prefix}stages_0.blocks.1`), which is also what a forward hook on the stage sees."""
    depths, dims = ARCHITECTURES[variant]
    y = conv2d(net, x, f"{prefix}stem.conv", dims[0], 7, 4, 2)
    features = []
    for i, (depth, dim) in enumerate(zip(depths, dims)):
        stage = f"{prefix}stages{stage_sep}{i}"
        if i > 0:
            y = conv2d(net, y, f"{stage}.downsample.conv", dim, 3, 2, 1)
        for j in range(depth):
            y = metaformer_block(net, y, f"{stage}.blocks.{j}")
        features.append(y)
    return features


def describe_variant(names_and_shapes, prefix="", stage_sep="."):
    """The PoolFormer variant ("s12", ...) of weights from their names and shapes (element counts: tensorrtx .wts
    files store tensors flat), or None."""
    shapes = {k: int(np.prod(v)) for k, v in names_and_shapes}
    stem = shapes.get(f"{prefix}stem.conv.weight")
    if stem is None:
        return None
    depths = []
    for i in range(4):
        n = 0
        while f"{prefix}stages{stage_sep}{i}.blocks.{n}.norm1.weight" in shapes:
            n += 1
        depths.append(n)
    for variant, (d, dims) in ARCHITECTURES.items():
        if tuple(depths) == d and stem == dims[0] * 3 * 7 * 7:
            return variant
    return None
