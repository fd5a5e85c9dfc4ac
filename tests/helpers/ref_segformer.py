"""transformers 5.23's SegformerForSemanticSegmentation b0 ... b5, built offline from a SegformerConfig with seeded
random weights (never from_pretrained).

b5 has 85M parameters: the model is created on the meta device (no HF initialisation) and every parameter and
buffer is then drawn in place, as tests/helpers/refmodels.randomise draws them (weights N(0, 1/fan_in), 1-D
parameters N(0, 0.01), BatchNorm affine and statistics randomised), except LayerNorm weights, drawn around 1
(around 0 they would nearly zero every LayerNorm's output)."""
import torch

from tests.helpers.refmodels import state_dict_arrays  # noqa: F401  (importing refmodels sets the offline env)

from netdefs.families.segformer import NUM_HEADS, SR_RATIOS, VARIANTS


def segformer_model(model="segformer-b0", seed=0, num_labels=19):
    from transformers import SegformerConfig, SegformerForSemanticSegmentation
    hidden_sizes, depths, decoder = VARIANTS[model.split("-")[1]]
    config = SegformerConfig(hidden_sizes=hidden_sizes, depths=depths, decoder_hidden_size=decoder,
                             num_attention_heads=NUM_HEADS, sr_ratios=SR_RATIOS, num_labels=num_labels)
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
