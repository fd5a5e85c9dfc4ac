"""SegFormer b0 ... b5 parity with transformers 5.23's SegformerForSemanticSegmentation (random weights, built from a
SegformerConfig written from the published nvidia/mit-b* configs, never from_pretrained): `logits` within 1e-4
relative (the acceptance) and 10x the clean run's error (tests/helpers/bounds.py) on reftrt, fp32."""
import numpy as np
import pytest
import torch

pytest.importorskip("transformers")

from tests.helpers.bounds import within  # noqa: E402
from tests.helpers.ref_segformer import segformer_model, state_dict_arrays  # noqa: E402
from tests.helpers.ref_smp import build_with_probes, one_torch_thread  # noqa: E402

import netdefs  # noqa: E402
from netdefs.errors import ModelMismatch  # noqa: E402
from netdefs.families.segformer import FAMILY, rename_legacy  # noqa: E402


def describe_weights(items):
    return FAMILY.describe(dict(items))


# Relative errors of clean runs on reftrt (2026-12-04); bounds are 10x these.
CLEAN = {"segformer-b0": 9.6e-7, "segformer-b1": 1.1e-6, "segformer-b2": 9.5e-7, "segformer-b3": 1.2e-6,
         "segformer-b4": 1.1e-6, "segformer-b5": 1.2e-6, "segformer-b0 fp16": 1.9e-3, "b0 dynamic batch 3": 1.4e-6,
         "b0 dynamic batch 1": 9.1e-7, "segformer-b0 segformer.stages.0.patch_embeddings.layer_norm": 1.7e-7,
         "segformer-b0 segformer.stages.0.blocks.0.layernorm_before": 2.3e-7,
         "segformer-b0 segformer.stages.1.blocks.0.attention.q_proj": 8.6e-7,
         "segformer-b0 segformer.stages.1.blocks.0.attention.sequence_reduction.sequence_reduction": 1.3e-6,
         "segformer-b0 segformer.stages.1.blocks.0.attention.sequence_reduction.layer_norm": 1.2e-6,
         "segformer-b0 segformer.stages.1.blocks.0.attention.o_proj": 1.3e-6,
         "segformer-b0 segformer.stages.2.blocks.1.mlp.fc1": 1.4e-6,
         "segformer-b0 segformer.stages.2.blocks.1.mlp.dwconv.dwconv": 1.3e-6,
         "segformer-b0 segformer.stages.2.blocks.1.mlp.dwconv": 1.3e-6,
         "segformer-b0 segformer.stages.2.blocks.1.mlp.activation_fn": 1.4e-6,
         "segformer-b0 segformer.stages.2.blocks.1": 1.2e-6, "segformer-b0 segformer.stages.2": 1.6e-6,
         "segformer-b0 segformer.stages.3.layer_norm": 1.1e-6,
         "segformer-b0 decode_head.linear_projections.3.proj": 1.4e-6, "segformer-b0 decode_head.linear_fuse": 1.5e-6,
         "segformer-b0 decode_head.batch_norm": 1.7e-6, "segformer-b0 decode_head.activation": 1.7e-6,
         "segformer-b0 decode_head.classifier": 1.5e-6,
         "small-variance layer_norm": 2.3e-7, "small-variance logits": 7.7e-7}


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    yield from one_torch_thread()


def rel_err(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-12))


def reference_logits(model, x):
    with torch.no_grad():
        return model(torch.from_numpy(x)).logits.numpy()


def inputs(shape, seed):
    # normalized images: roughly zero-mean, unit-variance
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


# b0 non-square (catches h / w mix-ups) with batch 2, b1 ... b5 at 64x64: every stage's attention then has 4 keys
# (16x16 / 8 → 2x2, 8x8 / 4, 4x4 / 2, 2x2 / 1), so the softmax and the heads matter (at 32x32 stages 0-2 would
# reduce to one key, where attention is v whatever q and k are), and the decode head upsamples 8x, 4x, 2x.
@pytest.mark.parametrize("name,imgsz,batch", [("segformer-b0", (64, 96), 2), ("segformer-b1", 64, 1),
                                              ("segformer-b2", 64, 1), ("segformer-b3", 64, 1),
                                              ("segformer-b4", 64, 1), ("segformer-b5", 64, 1)])
def test_logits_match_transformers(name, imgsz, batch):
    model = segformer_model(name, seed=1, num_labels=19)
    weights = state_dict_arrays(model)
    h, w = (imgsz, imgsz) if isinstance(imgsz, int) else imgsz
    x = inputs((batch, 3, h, w), seed=7)
    ref = reference_logits(model, x)
    del model
    engine = netdefs.build(name, weights, backend="reference", imgsz=imgsz, batch=batch, quiet=True)
    out = engine(x)["logits"]
    assert out.shape == ref.shape == (batch, 19, h // 4, w // 4)
    within(rel_err(out, ref), CLEAN, name)
    info = engine.meta
    assert info["task"] == "segment" and info["output_stride"] == 4 and info["num_classes"] == 19
    assert info["outputs"] == ["logits"] and info["input"] == "pixel_values" and info["imgsz"] == [h, w]


def test_fp16_error_is_bounded():
    """fp16 (strongly typed float16; attention softmax in float32): logits within 1e-2 relative of fp32 PyTorch (the
    acceptance) and 10x the clean run."""
    model = segformer_model("segformer-b0", seed=5)
    weights = state_dict_arrays(model)
    x = inputs((1, 3, 64, 64), seed=2)
    ref = reference_logits(model, x)
    out = netdefs.build("segformer-b0", weights, backend="reference", imgsz=64, precision="fp16", quiet=True)(x)
    assert out["logits"].dtype == np.float32
    within(rel_err(out["logits"], ref), CLEAN, "segformer-b0 fp16", acceptance=1e-2)


def test_dynamic_batch():
    model = segformer_model("segformer-b0", seed=3, num_labels=5)
    weights = state_dict_arrays(model)
    engine = netdefs.build("segformer-b0", weights, backend="reference", imgsz=32, dynamic_batch=(1, 2, 3),
                           quiet=True)
    assert engine.input_shape() == (-1, 3, 32, 32)
    x = inputs((3, 3, 32, 32), seed=4)
    within(rel_err(engine(x)["logits"], reference_logits(model, x)), CLEAN, "b0 dynamic batch 3")
    within(rel_err(engine(x[:1])["logits"], reference_logits(model, x[:1])), CLEAN,
           "b0 dynamic batch 1")


def _shapes(model):
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def test_check_weights_names_the_variant():
    model = segformer_model("segformer-b1", seed=0, num_labels=7)
    assert describe_weights(_shapes(model).items()) == ("segformer-b1", 7)
    flat = {k: (int(np.prod(s)),) for k, s in _shapes(model).items()}  # .wts: counts only
    assert describe_weights(flat.items()) == ("segformer-b1", 7)
    with pytest.raises(ModelMismatch, match="the weights are segformer-b1 .7 classes.*segformer-b2"):
        netdefs.build("segformer-b2", state_dict_arrays(model), backend="reference", imgsz=32, quiet=True)
    with pytest.raises(ModelMismatch, match="not a SegFormer"):
        describe_weights([("model.0.conv.weight", (16, 3, 6, 6))])


# transformers 4.x names (the Hub's nvidia/segformer-* checkpoints) -> 5.x names
_TO_LEGACY = [
    ("segformer.stages.{i}.patch_embeddings.", "segformer.encoder.patch_embeddings.{i}."),
    ("segformer.stages.{i}.blocks.", "segformer.encoder.block.{i}."),
    ("segformer.stages.{i}.layer_norm.", "segformer.encoder.layer_norm.{i}."),
    ("attention.q_proj", "attention.self.query"), ("attention.k_proj", "attention.self.key"),
    ("attention.v_proj", "attention.self.value"),
    ("attention.sequence_reduction.sequence_reduction", "attention.self.sr"),
    ("attention.sequence_reduction.layer_norm", "attention.self.layer_norm"),
    ("attention.o_proj", "attention.output.dense"), ("mlp.fc1", "mlp.dense1"), ("mlp.fc2", "mlp.dense2"),
    ("layernorm_before", "layer_norm_1"), ("layernorm_after", "layer_norm_2"),
    ("decode_head.linear_projections", "decode_head.linear_c"),
]


def _legacy(name):
    for new, old in _TO_LEGACY:
        for i in range(4):
            name = name.replace(new.format(i=i), old.format(i=i))
    return name


def test_legacy_names():
    model = segformer_model("segformer-b0", seed=0)
    weights = state_dict_arrays(model)
    legacy = {_legacy(k): v for k, v in weights.items()}
    assert "segformer.encoder.block.1.0.attention.self.sr.weight" in legacy
    with pytest.raises(ModelMismatch, match="transformers 4.x names.*rename_legacy"):
        describe_weights((k, v.shape) for k, v in legacy.items())
    renamed = rename_legacy(legacy)
    assert sorted(renamed) == sorted(weights)


# state_dict-named points inside the network, as forward hooks see them ((B, N, C) tokens, (B, C, h, w) images)
PROBES = ["segformer.stages.0.patch_embeddings.layer_norm", "segformer.stages.0.blocks.0.layernorm_before",
          "segformer.stages.1.blocks.0.attention.q_proj",
          "segformer.stages.1.blocks.0.attention.sequence_reduction.sequence_reduction",
          "segformer.stages.1.blocks.0.attention.sequence_reduction.layer_norm",
          "segformer.stages.1.blocks.0.attention.o_proj", "segformer.stages.2.blocks.1.mlp.fc1",
          "segformer.stages.2.blocks.1.mlp.dwconv.dwconv", "segformer.stages.2.blocks.1.mlp.dwconv",
          "segformer.stages.2.blocks.1.mlp.activation_fn", "segformer.stages.2.blocks.1",
          "segformer.stages.2", "segformer.stages.3.layer_norm", "decode_head.linear_projections.3.proj",
          "decode_head.linear_fuse", "decode_head.batch_norm", "decode_head.activation", "decode_head.classifier"]


def test_named_points_match_forward_hooks():
    model = segformer_model("segformer-b0", seed=4)
    x = inputs((2, 3, 64, 64), seed=9)
    seen = {}
    handles = [model.get_submodule(p).register_forward_hook(
        lambda m, i, o, p=p: seen.__setitem__(p, o.detach().clone())) for p in PROBES]
    with torch.no_grad():
        model(torch.from_numpy(x))
    for h in handles:
        h.remove()
    out = build_with_probes("segformer-b0", state_dict_arrays(model), PROBES, imgsz=64, batch=2)(x)
    for p in PROBES:
        assert out[p].shape == tuple(seen[p].shape), p
        within(rel_err(out[p], seen[p].numpy()), CLEAN, f"segformer-b0 {p}")


def test_layernorm_eps_where_it_matters():
    """At unit variance a LayerNorm's eps (1e-5, nn.LayerNorm's default, which HF's SegFormer uses) moves its output
    by ~5e-6 relative, under every parity bound: a wrong eps (or sqrt(var) + eps) would pass. Stage 0's patch
    embedding is scaled down so that its LayerNorm sees a variance ~1e-4, where eps moves the output by ~5%."""
    model = segformer_model("segformer-b0", seed=6)
    with torch.no_grad():
        proj = model.get_submodule("segformer.stages.0.patch_embeddings.proj")
        proj.weight.mul_(1e-2)
        proj.bias.mul_(1e-2)
    probes = ["segformer.stages.0.patch_embeddings.layer_norm"]
    x = inputs((1, 3, 64, 64), seed=10)
    seen = {}
    handle = model.get_submodule(probes[0]).register_forward_hook(
        lambda m, i, o: seen.__setitem__(probes[0], o.detach().clone()))
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).logits.numpy()
    handle.remove()
    out = build_with_probes("segformer-b0", state_dict_arrays(model), probes, imgsz=64, batch=1)(x)
    within(rel_err(out[probes[0]], seen[probes[0]].numpy()), CLEAN, "small-variance layer_norm")
    within(rel_err(out["logits"], ref), CLEAN, "small-variance logits")
