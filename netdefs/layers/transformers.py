"""Blocks of transformers 5.23's SegFormer (`models/segformer/modeling_segformer.py`), named after its modules and
state_dict: SegformerOverlapPatchEmbeddings, SegformerEfficientSelfAttention (`attention.q_proj`,
`attention.sequence_reduction`), SegformerMixFFN, SegformerLayer, the stages and SegformerDecodeHead.
Tensors between layers are (batch, tokens, channels) sequences, as in PyTorch, so every named point compares
directly with a forward hook; convolutions get (batch, channels, h, w) images through shuffles.
"""
from .ops import (activation, batchnorm, cast, concat, constant, conv2d, elementwise, interpolate, layernorm, linear,
                  matmul, shape_of, shuffle, softmax)

PATCH_SIZES = [7, 3, 3, 3]
STRIDES = [4, 2, 2, 2]
MLP_RATIO = 4
LN_EPS = 1e-5  # nn.LayerNorm's default, used by every LayerNorm of HF's SegFormer
BN_EPS = 1e-5


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
    scores = matmul(net, qh, kh, f"{prefix}.scores", transpose_b=True)
    scores = elementwise(net, scores, constant(net, [[[[d ** -0.5]]]], f"{prefix}.scaling"), f"{prefix}.scaled_scores",
                         "prod")
    half = scores.dtype == net.trt.DataType.HALF
    if half:  # HF: softmax(attn_weights, dim=-1, dtype=torch.float32).to(query.dtype)
        scores = cast(net, scores, f"{prefix}.scores_float", "float32")
    probs = softmax(net, scores, f"{prefix}.attn_weights", axis=3)
    if half:
        probs = cast(net, probs, f"{prefix}.attn_weights_half", "float16")
    out = matmul(net, probs, vh, f"{prefix}.attn_output")
    out = shuffle(net, out, f"{prefix}.merge_heads", first=(0, 2, 1, 3), reshape=(0, n, c))
    return linear(net, out, f"{prefix}.o_proj", c)


def mix_ffn(net, x, prefix, h, w, hidden):
    """SegformerMixMLP: fc1 → depthwise 3×3 conv (on the h×w image) → GELU (erf) → fc2."""
    y = linear(net, x, f"{prefix}.fc1", hidden)
    t = to_image(net, y, f"{prefix}.dwconv.image", h, w)
    t = conv2d(net, t, f"{prefix}.dwconv.dwconv", hidden, 3, 1, 1, g=hidden)
    y = to_tokens(net, t, f"{prefix}.dwconv")
    y = activation(net, y, f"{prefix}.activation_fn", "gelu")
    return linear(net, y, f"{prefix}.fc2", shape_of(x)[2])


def block(net, x, prefix, h, w, heads, sr, eps=LN_EPS):
    """SegformerLayer: x + attention(layernorm_before(x)); then x + mlp(layernorm_after(x))."""
    c = shape_of(x)[2]
    y = efficient_attention(net, layernorm(net, x, f"{prefix}.layernorm_before", eps), f"{prefix}.attention",
                            h, w, heads, sr, eps)
    x = elementwise(net, y, x, f"{prefix}.attention_residual", "SUM")
    y = mix_ffn(net, layernorm(net, x, f"{prefix}.layernorm_after", eps), f"{prefix}.mlp", h, w, c * MLP_RATIO)
    return elementwise(net, y, x, prefix, "SUM")


def encoder(net, x, hidden_sizes, depths, heads, sr_ratios, prefix="segformer.stages", eps=LN_EPS):
    """The four stages; returns per stage (tokens (B, h·w, C) after the stage LayerNorm, h, w)."""
    stages = []
    for i, (c, depth) in enumerate(zip(hidden_sizes, depths)):
        p = f"{prefix}.{i}"
        y, h, w = patch_embeddings(net, x, f"{p}.patch_embeddings", c, PATCH_SIZES[i], STRIDES[i], eps)
        for j in range(depth):
            y = block(net, y, f"{p}.blocks.{j}", h, w, heads[i], sr_ratios[i], eps)
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
    y = activation(net, y, f"{prefix}.activation", "relu")
    return conv2d(net, y, f"{prefix}.classifier", num_labels, 1)
