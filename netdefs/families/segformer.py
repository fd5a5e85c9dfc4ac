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

from ..errors import ModelMismatch
from ..family import Family, count
from ..layers.transformers import LN_EPS, decode_head, encoder

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
OUTPUT_STRIDE = 4
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



def rename_legacy(state_dict):
    """A transformers 4.x SegFormer state_dict (name -> array) with transformers 5.x names."""
    out = {}
    for name, value in state_dict.items():
        new = name
        for pattern, repl in _LEGACY:
            new = re.sub(pattern, repl, new)
        out[new] = value
    return out



class SegFormer(Family):
    name = "segformer"
    reference = "transformers 5.23 SegformerForSemanticSegmentation"
    task = "segment"
    models = tuple(f"segformer-{v}" for v in VARIANTS)
    imgsz = 512
    input_name = "pixel_values"
    demo_classes = 150  # ADE20k, as nvidia/segformer-b*-finetuned-ade-512-512

    def parse(self, name):
        return name.split("-")[1]

    def describe(self, shapes):
        """Which SegFormer a state_dict is: (model name, num_labels), from names and element counts alone."""
        if any(k.startswith("segformer.encoder.") for k in shapes):
            raise ModelMismatch("these are SegFormer weights with transformers 4.x names (segformer.encoder.block...): "
                                "convert them with netdefs.families.segformer.rename_legacy (transformers 5.x names)")
        hidden = [count(shapes, f"segformer.stages.{i}.layer_norm.weight") for i in range(4)]
        if None in hidden or count(shapes, "decode_head.classifier.bias") is None:
            raise ModelMismatch("these weights are not a SegFormer semantic-segmentation model "
                                "(no segformer.stages.{0..3}.layer_norm or decode_head.classifier weights)")
        depths = [len({k.split(".")[4] for k in shapes if k.startswith(f"segformer.stages.{i}.blocks.")})
                  for i in range(4)]
        decoder = count(shapes, "decode_head.batch_norm.weight")
        num_labels = count(shapes, "decode_head.classifier.bias")
        for name, (h, d, dec) in VARIANTS.items():
            if h == hidden and d == depths and dec == decoder:
                return f"segformer-{name}", num_labels
        raise ModelMismatch(f"SegFormer weights with hidden sizes {hidden}, depths {depths} and decoder width {decoder} "
                            f"match no b0...b5 variant")

    def preprocess(self, variant, imgsz):
        return dict(PREPROCESS, size=list(imgsz))

    def define(self, net, variant, x, num_classes):
        """Output "logits" (batch, num_labels, H/4, W/4), as the HF model's `.logits`."""
        hidden_sizes, depths, decoder_hidden = VARIANTS[variant]
        stages = encoder(net, x, hidden_sizes, depths, NUM_HEADS, SR_RATIOS, "segformer.stages", LN_EPS)
        net.output(decode_head(net, stages, "decode_head", decoder_hidden, num_classes), "logits")
        return {"outputs": ["logits"], "output_stride": OUTPUT_STRIDE}


FAMILY = SegFormer()
