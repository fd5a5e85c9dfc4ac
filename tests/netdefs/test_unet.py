"""smp Unet (segmentation-models-pytorch 0.6) with ResNet-18/34/50 encoders: parity with the real smp.Unet built
with seeded random weights and randomised BatchNorm statistics."""
import numpy as np
import pytest

pytest.importorskip("segmentation_models_pytorch")

from tests.helpers.bounds import within  # noqa: E402
from tests.helpers.ref_smp import build_with_probes, hooked_forward, one_torch_thread, unet_model  # noqa: E402
from tests.helpers.refmodels import state_dict_arrays  # noqa: E402

import netdefs  # noqa: E402
from netdefs.errors import ModelMismatch  # noqa: E402

IMGSZ, BATCH, CLASSES = 64, 2, 3

# Relative errors of clean runs on reftrt (2026-12-04); bounds are 10x these.
CLEAN = {"unet-resnet18": 9.8e-7, "unet-resnet18 batch 1": 1.3e-6, "unet-resnet34": 1.4e-6, "unet-resnet50": 1.3e-6,
         "unet-resnet18 encoder.relu": 8.6e-8, "unet-resnet18 encoder.layer1.1": 3.2e-7,
         "unet-resnet18 encoder.layer4.1": 5.9e-7, "unet-resnet18 decoder.blocks.0": 4.0e-7,
         "unet-resnet18 decoder.blocks.2.conv1": 5.6e-7, "unet-resnet18 decoder.blocks.3.conv2.1": 5.7e-7,
         "unet-resnet18 decoder.blocks.4": 8.8e-7, "unet-resnet18 fp16": 2.0e-3}

_one_thread = pytest.fixture(scope="module", autouse=True)(one_torch_thread)


def rel_err(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-12))


def images(seed, batch=BATCH):
    # normalised images: roughly zero-mean, unit-variance
    return np.random.default_rng(seed).standard_normal((batch, 3, IMGSZ, IMGSZ)).astype(np.float32)


@pytest.mark.parametrize("encoder", ["resnet18", "resnet34", "resnet50"])
def test_logits_match_smp(encoder):
    """Logits within 1e-4 relative and 10x the clean run; unet-resnet18 is built with a dynamic batch (1..4) and
    run at batch 2 and 1."""
    model = unet_model(encoder, CLASSES, seed=1)
    x = images(7)
    ref, _ = hooked_forward(model, x, [])
    dynamic = (1, 2, 4) if encoder == "resnet18" else None
    engine = netdefs.build(f"unet-{encoder}", state_dict_arrays(model), backend="reference", imgsz=IMGSZ,
                           batch=BATCH, dynamic_batch=dynamic, quiet=True)
    out = engine(x)["logits"]
    assert out.shape == ref.shape == (BATCH, CLASSES, IMGSZ, IMGSZ)
    within(rel_err(out, ref), CLEAN, f"unet-{encoder}")
    if dynamic:
        assert engine.input_shape() == (-1, 3, IMGSZ, IMGSZ)
        within(rel_err(engine(x[1:])["logits"], ref[1:]), CLEAN, f"unet-{encoder} batch 1")
    meta = engine.meta
    assert (meta["family"], meta["task"], meta["num_classes"], meta["output_stride"]) == ("smp", "segment",
                                                                                          CLASSES, 1)
    assert meta["outputs"] == ["logits"] and meta["input"] == "images" and meta["imgsz"] == [IMGSZ, IMGSZ]


def test_intermediate_tensors_carry_state_dict_names():
    """Encoder stages, decoder blocks and Conv2dReLUs inside them equal smp's forward hooks of the same name."""
    model = unet_model("resnet18", CLASSES, seed=1)
    probes = ["encoder.relu", "encoder.layer1.1", "encoder.layer4.1", "decoder.blocks.0", "decoder.blocks.2.conv1",
              "decoder.blocks.3.conv2.1", "decoder.blocks.4"]
    x = images(3)
    _, seen = hooked_forward(model, x, probes)
    out = build_with_probes("unet-resnet18", state_dict_arrays(model), probes, IMGSZ, BATCH)(x)
    for p in probes:
        assert out[p].shape == seen[p].shape, p
        within(rel_err(out[p], seen[p]), CLEAN, f"unet-resnet18 {p}")


def test_fp16_error_is_bounded():
    """fp16 (strongly typed float16 network): logits within 1e-2 relative of fp32 smp (the acceptance) and 10x the
    clean run."""
    model = unet_model("resnet18", CLASSES, seed=1)
    x = images(2)
    ref, _ = hooked_forward(model, x, [])
    out = netdefs.build("unet-resnet18", state_dict_arrays(model), backend="reference", imgsz=IMGSZ, batch=BATCH,
                        precision="fp16", quiet=True)(x)["logits"]
    assert out.dtype == np.float32
    within(rel_err(out, ref), CLEAN, "unet-resnet18 fp16", acceptance=1e-2)


def test_weights_of_another_model_are_refused_by_name():
    r34 = state_dict_arrays(unet_model("resnet34", CLASSES, seed=1))
    with pytest.raises(ModelMismatch, match=r"the weights are unet-resnet34 \(3 classes\), but unet-resnet18 .*"
                                            "build with model name unet-resnet34"):
        netdefs.build("unet-resnet18", r34, backend="reference", imgsz=IMGSZ, quiet=True)
    with pytest.raises(ModelMismatch, match="not a segmentation-models-pytorch Unet or FPN"):
        netdefs.build("unet-resnet18", {k: v for k, v in r34.items() if k.startswith("encoder.")},
                      backend="reference", imgsz=IMGSZ, quiet=True)
