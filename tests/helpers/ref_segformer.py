"""transformers 5.23's SegformerForSemanticSegmentation b0 ... b5, built offline from a SegformerConfig with seeded
random weights (never from_pretrained).

b5 has 85M parameters: the model is created on the meta device (no HF initialisation) and every parameter and
buffer is then drawn in place, as tests/helpers/refmodels.randomise draws them (weights N(0, 1/fan_in), 1-D
parameters N(0, 0.01), BatchNorm affine and statistics randomised), except LayerNorm weights, drawn around 1
(around 0 they would nearly zero every LayerNorm's output)."""
import torch

from tests.helpers.refmodels import state_dict_arrays  # noqa: F401  (importing refmodels sets the offline env)

# The published configurations, written here and not imported from netdefs.segformer (a typo in the netdef's tables
# must not reach the reference too). Source: the config.json of the Hub's nvidia/mit-b0 ... nvidia/mit-b5 (and the
# nvidia/segformer-b*-finetuned-* models built on them); every entry is given, SegformerConfig's defaults included.
_COMMON = dict(num_channels=3, num_encoder_blocks=4, num_attention_heads=[1, 2, 5, 8], sr_ratios=[8, 4, 2, 1],
               patch_sizes=[7, 3, 3, 3], strides=[4, 2, 2, 2], mlp_ratios=[4, 4, 4, 4], hidden_act="gelu",
               layer_norm_eps=1e-6, semantic_loss_ignore_index=255)
PUBLISHED = {
    "b0": dict(_COMMON, hidden_sizes=[32, 64, 160, 256], depths=[2, 2, 2, 2], decoder_hidden_size=256),
    "b1": dict(_COMMON, hidden_sizes=[64, 128, 320, 512], depths=[2, 2, 2, 2], decoder_hidden_size=256),
    "b2": dict(_COMMON, hidden_sizes=[64, 128, 320, 512], depths=[3, 4, 6, 3], decoder_hidden_size=768),
    "b3": dict(_COMMON, hidden_sizes=[64, 128, 320, 512], depths=[3, 4, 18, 3], decoder_hidden_size=768),
    "b4": dict(_COMMON, hidden_sizes=[64, 128, 320, 512], depths=[3, 8, 27, 3], decoder_hidden_size=768),
    "b5": dict(_COMMON, hidden_sizes=[64, 128, 320, 512], depths=[3, 6, 40, 3], decoder_hidden_size=768),
}


def segformer_model(model="segformer-b0", seed=0, num_labels=19):
    from transformers import SegformerConfig, SegformerForSemanticSegmentation
    config = SegformerConfig(**PUBLISHED[model.split("-")[1]], num_labels=num_labels)
    with torch.device("meta"):
        m = SegformerForSemanticSegmentation(config)
    m = m.to_empty(device="cpu")
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in m.parameters():
            p.normal_(0.0, p[0].numel() ** -0.5 if p.dim() > 1 else 0.1, generator=g)
        for mod in m.modules():
            if isinstance(mod, torch.nn.LayerNorm):
                mod.weight.normal_(1.0, 0.2, generator=g)
            if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm):
                mod.weight.normal_(1.0, 0.2, generator=g)
                mod.bias.normal_(0.0, 0.1, generator=g)
                mod.running_mean.normal_(0.0, 0.1, generator=g)
                mod.running_var.uniform_(0.5, 1.5, generator=g)
                mod.num_batches_tracked.zero_()
    return m.float().eval()
