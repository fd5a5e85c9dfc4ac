"""SegFormer b0 ... b5 for semantic segmentation, as transformers 5.23's `SegformerForSemanticSegmentation`
(models/segformer/modeling_segformer.py), with its state_dict names (`segformer.stages.0.patch_embeddings.proj`,
`segformer.stages.1.blocks.0.attention.q_proj`, `decode_head.linear_projections.3.proj`, ...).

Encoder (Mix Transformer), per stage: overlapping patch embedding (strided conv + LayerNorm) → blocks → LayerNorm.
A block: x + attention(LayerNorm(x)), then x + MixFFN(LayerNorm(x)).
- Efficient self-attention: q from every token; k and v from the tokens reduced by a conv of kernel and stride
  `sr_ratio` + LayerNorm (when sr_ratio > 1); softmax(q kᵀ / sqrt(head_dim)) v per head; output projection.
- Mix-FFN: fc1 → depthwise 3×3 conv → GELU (exact, erf) → fc2.
Decode head (all-MLP): per stage a linear projection to `decoder_hidden_size`, bilinear upsampling to the 1/4
resolution (align_corners=False), concatenated in reverse stage order, 1×1 conv (no bias) + BatchNorm + ReLU, and the
classifier 1×1 conv. Output "logits" (batch, num_labels, H/4, W/4), as the HF model's `.logits`.

Tensors between layers are (batch, tokens, channels) sequences, as in PyTorch, so every named point compares
directly with a forward hook; convolutions get (batch, channels, h, w) images through shuffles. LayerNorm is
INormalizationLayer over the last axis; attention is IMatrixMultiplyLayer + ISoftMaxLayer (the softmax in float32 in
an fp16 network, as HF's `softmax(..., dtype=torch.float32)`).

Every nn.LayerNorm in the HF model is built with the default eps 1e-5 (`config.layer_norm_eps`, 1e-6, is not used by
the modules); BatchNorm eps 1e-5. Hidden sizes, depths and the decoder width are checked against the weights; the
number of heads and the reduction ratios cannot be read from them and come from the table (all SegFormer variants
share heads [1, 2, 5, 8] and sr ratios [8, 4, 2, 1]).

Checkpoints saved by transformers < 5 (and the Hub's nvidia/segformer-* files) use the old names
(`segformer.encoder.block.0.0.attention.self.query`, `decode_head.linear_c.0.proj`); `check_weights` says so and
`rename_legacy` maps such a state_dict to these names (as transformers 5's conversion_mapping.py does on load).
"""
import re

import numpy as np

from .common import (activation, batchnorm, cast, concat, conv2d, elementwise, interpolate, layernorm, linear,
                     shape_of, shuffle)

# name: (hidden_sizes, depths, decoder_hidden_size); transformers' SegformerConfig docs and the nvidia/mit-b* and
# nvidia/segformer-b*-finetuned-* configs.
VARIANTS = {
    "b0": ([32, 64, 160, 256], [2, 2, 2, 2], 256),
    "b1": ([64, 128, 320, 512], [2, 2, 2, 2], 256),
    "b2": ([64, 128, 320, 512], [3, 4, 6, 3], 768),
    "b3": ([64, 128, 320, 512], [3, 4, 18, 3], 768),
    "b4": ([64, 128, 320, 512], [3, 8, 27, 3], 768),
    "b5": ([64, 128, 320, 512], [3, 6, 40, 3], 768),
}
NUM_HEADS = [1, 2, 5, 8]
SR_RATIOS = [8, 4, 2, 1]
PATCH_SIZES = [7, 3, 3, 3]
STRIDES = [4, 2, 2, 2]
MLP_RATIO = 4
LN_EPS = 1e-5  # nn.LayerNorm's default, used by every LayerNorm of HF's SegFormer
BN_EPS = 1e-5
OUTPUT_STRIDE = 4
MODELS = [f"segformer-{v}" for v in VARIANTS]
DEMO_OPTIONS = {"num_classes": 150}  # ADE20k, as nvidia/segformer-b*-finetuned-ade-512-512
PREPROCESS = {"resize": "bilinear", "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "scale": 1 / 255,
              "rgb": True}  # SegformerImageProcessor: 512x512 bilinear, rescale 1/255, ImageNet mean/std

_LEGACY = [  # transformers 5.23 conversion_mapping.py, "SegformerModel" and "SegformerForSemanticSegmentation"
    (r"encoder\.patch_embeddings\.(\d+)\.", r"stages.\1.patch_embeddings."),
    (r"encoder\.block\.(\d+)\.", r"stages.\1.blocks."),
    (r"encoder\.layer_norm\.(\d+)", r"stages.\1.layer_norm"),
    (r"attention\.self\.query", "attention.q_proj"),
    (r"attention\.self\.key", "attention.k_proj"),
    (r"attention\.self\.value", "attention.v_proj"),
    (r"attention\.self\.sr", "attention.sequence_reduction.sequence_reduction"),
    (r"attention\.self\.layer_norm", "attention.sequence_reduction.layer_norm"),
    (r"attention\.output\.dense", "attention.o_proj"),
    (r"mlp\.dense1", "mlp.fc1"),
    (r"mlp\.dense2", "mlp.fc2"),
    (r"layer_norm_1", "layernorm_before"),
    (r"layer_norm_2", "layernorm_after"),
    (r"decode_head\.linear_c", "decode_head.linear_projections"),
]


class ModelMismatch(ValueError):
    pass


def rename_legacy(state_dict):
    """A transformers 4.x SegFormer state_dict (name -> array) with transformers 5.x names."""
    out = {}
    for name, value in state_dict.items():
        new = name
        for pattern, repl in _LEGACY:
            new = re.sub(pattern, repl, new)
        out[new] = value
    return out


def _count(shapes, name):
    return int(np.prod(shapes[name])) if name in shapes else None


def describe_weights(names_and_shapes):
    """Which SegFormer a state_dict is: (model name, num_labels), from names and element counts alone."""
    shapes = dict(names_and_shapes)
    if any(k.startswith("segformer.encoder.") for k in shapes):
        raise ModelMismatch("these are SegFormer weights with transformers 4.x names (segformer.encoder.block...): "
                            "convert them with netdefs.segformer.rename_legacy (transformers 5.x names)")
    hidden = [_count(shapes, f"segformer.stages.{i}.layer_norm.weight") for i in range(4)]
    if None in hidden or _count(shapes, "decode_head.classifier.bias") is None:
        raise ModelMismatch("these weights are not a SegFormer semantic-segmentation model "
                            "(no segformer.stages.{0..3}.layer_norm or decode_head.classifier weights)")
    depths = [len({k.split(".")[4] for k in shapes if k.startswith(f"segformer.stages.{i}.blocks.")})
              for i in range(4)]
    decoder = _count(shapes, "decode_head.batch_norm.weight")
    num_labels = _count(shapes, "decode_head.classifier.bias")
    for name, (h, d, dec) in VARIANTS.items():
        if h == hidden and d == depths and dec == decoder:
            return f"segformer-{name}", num_labels
    raise ModelMismatch(f"SegFormer weights with hidden sizes {hidden}, depths {depths} and decoder width {decoder} "
                        f"match no b0...b5 variant")


def parse_name(model):
    name = model.lower()
    if name not in MODELS:
        raise ModelMismatch(f"unknown SegFormer model {model!r}; known: {', '.join(MODELS)}")
    return name.split("-")[1]


def check_weights(weights, model):
    """Refuse weights of another SegFormer variant, naming the variant they are."""
    parse_name(model)
    found, num_labels = describe_weights((k, weights.shape(k)) for k in weights.names())
    if found != model.lower():
        raise ModelMismatch(f"the weights are {found} ({num_labels} labels), but {model} was asked for: "
                            f"build with model name {found}")


# ---- layout changes: (B, N, C) tokens <-> (B, C, h, w) images
def to_image(net, x, name, h, w):
    """(B, h·w, C) -> (B, C, h, w): x.transpose(1, 2).reshape(B, C, h, w)."""
    return shuffle(net, x, name, first=(0, 2, 1), reshape=(0, shape_of(x)[2], h, w))


def to_tokens(net, x, name):
    """(B, C, h, w) -> (B, h·w, C): x.flatten(2).transpose(1, 2)."""
    _, c, h, w = shape_of(x)
    return shuffle(net, x, name, reshape=(0, c, h * w), second=(0, 2, 1))


# ---- encoder
def patch_embeddings(net, x, prefix, c_out, patch, stride, eps=LN_EPS):
    """SegformerOverlapPatchEmbeddings: conv (kernel patch, stride, padding patch // 2) → tokens → LayerNorm."""
    y = conv2d(net, x, f"{prefix}.proj", c_out, patch, stride, patch // 2)
    h, w = shape_of(y)[2:]
    y = to_tokens(net, y, f"{prefix}.tokens")
    return layernorm(net, y, f"{prefix}.layer_norm", eps), h, w


def efficient_attention(net, x, prefix, h, w, heads, sr, eps=LN_EPS):
    """SegformerAttention on (B, N, C) tokens: softmax(q kᵀ · head_dim^-0.5) v, k and v from the tokens reduced by
    `sequence_reduction` (conv kernel = stride = sr, then LayerNorm) when sr > 1; then o_proj."""
    trt, network = net.trt, net.network
    c = shape_of(x)[2]
    d = c // heads
    q = linear(net, x, f"{prefix}.q_proj", c)
    kv = x
    if sr > 1:
        p = f"{prefix}.sequence_reduction"
        t = to_image(net, x, f"{p}.image", h, w)
        t = conv2d(net, t, f"{p}.sequence_reduction", c, sr, sr, 0)
        kv = layernorm(net, to_tokens(net, t, f"{p}.tokens"), f"{p}.layer_norm", eps)
    k = linear(net, kv, f"{prefix}.k_proj", c)
    v = linear(net, kv, f"{prefix}.v_proj", c)
    n, n_kv = shape_of(q)[1], shape_of(k)[1]

    def split(t, name, length):  # (B, N, C) -> (B, heads, N, d)
        return shuffle(net, t, name, reshape=(0, length, heads, d), second=(0, 2, 1, 3))

    qh = split(q, f"{prefix}.q_heads", n)
    kh = split(k, f"{prefix}.k_heads", n_kv)
    vh = split(v, f"{prefix}.v_heads", n_kv)
    scores = net.named(network.add_matrix_multiply(qh, trt.MatrixOperation.NONE, kh, trt.MatrixOperation.TRANSPOSE),
                       f"{prefix}.scores").get_output(0)
    scale = net.named(network.add_constant((1, 1, 1, 1), net.array(np.full((1, 1, 1, 1), d ** -0.5))),
                      f"{prefix}.scaling").get_output(0)
    scores = elementwise(net, scores, scale, f"{prefix}.scaled_scores", "PROD")
    half = scores.dtype == trt.DataType.HALF
    if half:  # HF: softmax(attn_weights, dim=-1, dtype=torch.float32).to(query.dtype)
        scores = cast(net, scores, f"{prefix}.scores_float", trt.DataType.FLOAT)
    softmax = network.add_softmax(scores)
    softmax.axes = 1 << 3
    probs = net.named(softmax, f"{prefix}.attn_weights").get_output(0)
    if half:
        probs = cast(net, probs, f"{prefix}.attn_weights_half", trt.DataType.HALF)
    out = net.named(network.add_matrix_multiply(probs, trt.MatrixOperation.NONE, vh, trt.MatrixOperation.NONE),
                    f"{prefix}.attn_output").get_output(0)
    out = shuffle(net, out, f"{prefix}.merge_heads", first=(0, 2, 1, 3), reshape=(0, n, c))
    return linear(net, out, f"{prefix}.o_proj", c)


def mix_ffn(net, x, prefix, h, w, hidden):
    """SegformerMixMLP: fc1 → depthwise 3×3 conv (on the h×w image) → GELU (erf) → fc2."""
    y = linear(net, x, f"{prefix}.fc1", hidden)
    t = to_image(net, y, f"{prefix}.dwconv.image", h, w)
    t = conv2d(net, t, f"{prefix}.dwconv.dwconv", hidden, 3, 1, 1, g=hidden)
    y = to_tokens(net, t, f"{prefix}.dwconv")
    y = activation(net, y, f"{prefix}.activation_fn", "GELU_ERF")
    return linear(net, y, f"{prefix}.fc2", shape_of(x)[2])


def block(net, x, prefix, h, w, heads, sr, eps=LN_EPS):
    """SegformerLayer: x + attention(layernorm_before(x)); then x + mlp(layernorm_after(x))."""
    c = shape_of(x)[2]
    y = efficient_attention(net, layernorm(net, x, f"{prefix}.layernorm_before", eps), f"{prefix}.attention",
                            h, w, heads, sr, eps)
    x = elementwise(net, y, x, f"{prefix}.attention_residual", "SUM")
    y = mix_ffn(net, layernorm(net, x, f"{prefix}.layernorm_after", eps), f"{prefix}.mlp", h, w, c * MLP_RATIO)
    return elementwise(net, y, x, prefix, "SUM")


def encoder(net, x, hidden_sizes, depths, prefix="segformer.stages", eps=LN_EPS):
    """The four stages; returns per stage (tokens (B, h·w, C) after the stage LayerNorm, h, w)."""
    stages = []
    for i, (c, depth) in enumerate(zip(hidden_sizes, depths)):
        p = f"{prefix}.{i}"
        y, h, w = patch_embeddings(net, x, f"{p}.patch_embeddings", c, PATCH_SIZES[i], STRIDES[i], eps)
        for j in range(depth):
            y = block(net, y, f"{p}.blocks.{j}", h, w, NUM_HEADS[i], SR_RATIOS[i], eps)
        y = layernorm(net, y, f"{p}.layer_norm", eps)
        stages.append((y, h, w))
        if i + 1 < len(hidden_sizes):  # the stage's output image, the next stage's input (as the HF stage returns)
            x = shuffle(net, y, p, reshape=(0, h, w, c), second=(0, 3, 1, 2))
    return stages


# ---- decode head
def decode_head(net, stages, prefix, decoder_hidden, num_labels, eps=BN_EPS):
    """SegformerDecodeHead: per-stage linear → image → bilinear to the first stage's size → concat (reversed) →
    linear_fuse (1×1, no bias) → batch_norm → ReLU → classifier (1×1)."""
    _, h0, w0 = stages[0]
    maps = []
    for i, (tokens, h, w) in enumerate(stages):
        p = f"{prefix}.linear_projections.{i}"
        # HF flattens the stage's image back to tokens: the stage LayerNorm's tokens are the same values.
        y = linear(net, tokens, f"{p}.proj", decoder_hidden)
        y = to_image(net, y, f"{p}.image", h, w)
        if (h, w) != (h0, w0):  # F.interpolate to the same size is the identity
            y = interpolate(net, y, f"{p}.upsample", size=(h0, w0), mode="bilinear", align_corners=False)
        maps.append(y)
    y = concat(net, maps[::-1], f"{prefix}.concat", axis=1)
    y = conv2d(net, y, f"{prefix}.linear_fuse", decoder_hidden, 1, bias=False)
    y = batchnorm(net, y, f"{prefix}.batch_norm", eps)
    y = activation(net, y, f"{prefix}.activation", "RELU")
    return conv2d(net, y, f"{prefix}.classifier", num_labels, 1)


def define(net, model, imgsz=512, batch=1, num_classes=None, layer_norm_eps=LN_EPS):
    """Add SegFormer `model` ("segformer-b0" ... "segformer-b5") to `net.network`; returns the engine metadata.

    Input "pixel_values" (batch, 3, H, W), normalized as SegformerImageProcessor does; H and W multiples of 32.
    Output "logits" (batch, num_labels, H/4, W/4). num_labels comes from the classifier's weights unless given.
    """
    variant = parse_name(model)
    hidden_sizes, depths, decoder_hidden = VARIANTS[variant]
    h, w = (imgsz, imgsz) if isinstance(imgsz, int) else tuple(imgsz)
    if h % 32 or w % 32:
        raise ValueError(f"imgsz {h}x{w} must be a multiple of 32")
    if num_classes is None:
        num_classes = int(np.prod(net.weights.shape("decode_head.classifier.bias")))
    x = net.input("pixel_values", (batch, 3, h, w))
    stages = encoder(net, x, hidden_sizes, depths, "segformer.stages", layer_norm_eps)
    logits = decode_head(net, stages, "decode_head", decoder_hidden, num_classes)
    net.output(logits, "logits")
    return {"family": "segformer", "model": model.lower(), "task": "segment", "input": "pixel_values",
            "imgsz": [h, w], "outputs": ["logits"], "num_classes": num_classes, "output_stride": OUTPUT_STRIDE,
            "preprocess": dict(PREPROCESS, size=[h, w])}
