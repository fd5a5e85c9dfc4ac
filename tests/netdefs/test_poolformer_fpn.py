"""FPN over PoolFormer-S12 (`fpn-poolformer_s12`): parity with segmentation-models-pytorch 0.6
`smp.FPN('tu-poolformer_s12')` (timm's poolformer_s12 features) built with seeded random weights."""
import numpy as np
import pytest

pytest.importorskip("segmentation_models_pytorch")
pytest.importorskip("timm")

from tests.helpers.bounds import within  # noqa: E402
from tests.helpers.ref_smp import (build_with_probes, fpn_model, hooked_forward, one_torch_thread,  # noqa: E402
                                   unet_model)
from tests.helpers.refmodels import state_dict_arrays  # noqa: E402

import netdefs  # noqa: E402
from netdefs.errors import ModelMismatch  # noqa: E402

IMGSZ, BATCH = 64, 2
MODEL = "fpn-poolformer_s12"

# Relative errors of clean runs on reftrt (2026-12-04); bounds are 10x these.
CLEAN = {"fpn logits": 6.9e-7, "fpn encoder.model.stem.conv": 0.0,
         "fpn encoder.model.stages_0.blocks.0.norm1": 1.0e-7,
         "fpn encoder.model.stages_0.blocks.0.token_mixer": 1.0e-7,
         "fpn encoder.model.stages_0.blocks.0.layer_scale1": 1.2e-7,
         "fpn encoder.model.stages_1.blocks.1.mlp.act": 3.6e-7, "fpn encoder.model.stages_1.blocks.1.mlp.fc2": 5.2e-7,
         "fpn encoder.model.stages_2.blocks.5": 2.6e-7, "fpn encoder.model.stages_3.blocks.1": 4.9e-7,
         "fpn decoder.p5": 5.1e-7, "fpn decoder.p2": 3.8e-7, "fpn decoder.seg_blocks.0.block.0.block.1": 6.8e-7,
         "fpn decoder.seg_blocks.0.block.2": 7.8e-7, "fpn decoder.seg_blocks.3.block.0": 5.2e-7,
         "fpn segmentation_head.0": 7.0e-7, "fpn segmentation_head.1": 6.9e-7, "fpn fp16": 1.3e-3,
         "fpn logits, TensorRT 10 groupnorm": 6.9e-7}

_one_thread = pytest.fixture(scope="module", autouse=True)(one_torch_thread)


def rel_err(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-12))


def images(seed, batch=BATCH):
    return np.random.default_rng(seed).standard_normal((batch, 3, IMGSZ, IMGSZ)).astype(np.float32)


@pytest.fixture(scope="module")
def model():
    return fpn_model(classes=4, seed=1)


def test_logits_and_named_points_match_smp(model):
    """Logits, and the state_dict-named points a forward hook sees: PoolFormer block parts (GroupNorm1, pooling
    token mixer, MLP, layer scale), stage outputs, the FPN levels, the segmentation blocks (GroupNorm(32), bilinear
    ×2 align_corners) and the head's ×4 upsampling."""
    probes = ["encoder.model.stem.conv", "encoder.model.stages_0.blocks.0.norm1",
              "encoder.model.stages_0.blocks.0.token_mixer", "encoder.model.stages_0.blocks.0.layer_scale1",
              "encoder.model.stages_1.blocks.1.mlp.act", "encoder.model.stages_1.blocks.1.mlp.fc2",
              "encoder.model.stages_2.blocks.5", "encoder.model.stages_3.blocks.1", "decoder.p5", "decoder.p2",
              "decoder.seg_blocks.0.block.0.block.1", "decoder.seg_blocks.0.block.2", "decoder.seg_blocks.3.block.0",
              "segmentation_head.0", "segmentation_head.1"]
    x = images(7)
    ref, seen = hooked_forward(model, x, probes)
    out = build_with_probes(MODEL, state_dict_arrays(model), probes, IMGSZ, BATCH)(x)
    assert out["logits"].shape == ref.shape == (BATCH, 4, IMGSZ, IMGSZ)
    within(rel_err(out["logits"], ref), CLEAN, "fpn logits")
    for p in probes:
        assert out[p].shape == seen[p].shape, p
        within(rel_err(out[p], seen[p]), CLEAN, f"fpn {p}")


def test_build_metadata_and_fp16_error_is_bounded(model):
    """fp16 (strongly typed float16 network): logits within 1e-2 relative of fp32 smp (the acceptance) and 10x the
    clean run."""
    x = images(2)
    ref, _ = hooked_forward(model, x, [])
    engine = netdefs.build(MODEL, state_dict_arrays(model), backend="reference", imgsz=IMGSZ, batch=BATCH,
                           precision="fp16", quiet=True)
    out = engine(x)["logits"]
    assert out.dtype == np.float32
    within(rel_err(out, ref), CLEAN, "fpn fp16", acceptance=1e-2)
    meta = engine.meta
    assert (meta["family"], meta["task"], meta["num_classes"], meta["output_stride"]) == ("smp", "segment", 4, 1)
    assert meta["outputs"] == ["logits"] and meta["imgsz"] == [IMGSZ, IMGSZ]


def test_group_normalization_on_the_tensorrt_10_api(model, monkeypatch):
    """Without add_normalization_v2 (TensorRT 10.x), GroupNorm(32) is add_normalization with a unit per-group
    affine followed by a channel scale layer: same logits."""
    import reftrt
    monkeypatch.delattr(type(reftrt.Builder(reftrt.Logger()).create_network()), "add_normalization_v2",
                        raising=False)
    x = images(5, batch=1)
    ref, _ = hooked_forward(model, x, [])
    out = netdefs.build(MODEL, state_dict_arrays(model), backend="reference", imgsz=IMGSZ, quiet=True)(x)["logits"]
    within(rel_err(out, ref), CLEAN, "fpn logits, TensorRT 10 groupnorm")


def test_weights_of_another_model_are_refused_by_name(model):
    unet = state_dict_arrays(unet_model("resnet34", 3, seed=1))
    with pytest.raises(ModelMismatch, match=r"the weights are unet-resnet34 \(3 classes\), but fpn-poolformer_s12"):
        netdefs.build(MODEL, unet, backend="reference", imgsz=IMGSZ, quiet=True)
    with pytest.raises(ModelMismatch, match=r"the weights are fpn-poolformer_s12 \(4 classes\), .*"
                                            "build with model name fpn-poolformer_s12"):
        netdefs.build("unet-resnet50", state_dict_arrays(model), backend="reference", imgsz=IMGSZ, quiet=True)
    with pytest.raises(netdefs.UserError, match="unknown model"):
        netdefs.build("fpn-poolformer_s99", unet, backend="reference", imgsz=IMGSZ, quiet=True)
