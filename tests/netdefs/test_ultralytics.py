"""YOLOv8 / YOLO11 / YOLO26 parity with ultralytics 8.4.x, built from the package's own yaml files with seeded random
weights and randomised BatchNorm statistics (tests/helpers/ref_ultralytics.py)."""
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("ultralytics")

from tests.helpers.ref_ultralytics import state_dict_arrays, ultralytics_model  # noqa: E402

import netdefs  # noqa: E402
from netdefs.families.ultralytics import FAMILY, head_index  # noqa: E402
from netdefs.runtime.demo import DemoWeights  # noqa: E402

# fp32 on reftrt, largest relative errors measured over the parity models below (float32 summation order only);
# each asserted at about 10x its measured value.
RAW_TOL = 5e-6  # raw maps: 4.7e-7 (yolov8s-seg)
DECODE_TOL = 1.5e-6  # decoded output (model(x)[0]): 1.3e-7 (yolov8n, yolo11n, the -seg models; 1.26e-7 at 160 px)
PROTO_TOL = 4e-6  # prototypes: 4.0e-7 (yolo26n-seg)
LOGITS_TOL = 3.5e-6  # class logits: 3.3e-7 (yolo11s-cls)
_models = {}


def reference(name, seed=1):
    if (name, seed) not in _models:
        _models[(name, seed)] = ultralytics_model(name, seed=seed)
    return _models[(name, seed)]


def rel_err(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-12))


def run_reference(model, x):
    with torch.no_grad():
        return model(torch.from_numpy(x))


def variant(name):
    return FAMILY.model(name).variant


@pytest.mark.parametrize("name", ["yolov8n", "yolo11n", "yolo26n", "yolov8s-seg", "yolo11n-seg", "yolo26n-seg",
                                  "yolov8n-cls", "yolo11s-cls"])
def test_raw_decode_proto_logits_match_ultralytics(name):
    """One engine per model: the decoded output (model(x)[0]), the prototypes, and each level's head convolutions
    as debug tensors (the raw maps). n models, and s where it adds nothing new (the same blocks, wider). The C3k
    blocks (parse_model's choice for YOLO11 m / l / x) are in YOLO26n's neck; the m / l / x tables are checked by
    their parameter counts in test_every_model_defines."""
    model = reference(name)
    weights = state_dict_arrays(model)
    nc = model.model[-1].nc if not name.endswith("-cls") else model.model[-1].linear.out_features
    assert FAMILY.describe({k: v.shape for k, v in weights.items()}) == (name, nc)
    x = np.random.default_rng(7).random((2, 3, 64, 64), dtype=np.float32)
    ref = run_reference(model, x)
    kwargs = dict(backend="reference", imgsz=64, batch=2, quiet=True)
    if name.endswith("-cls"):
        out = netdefs.build(name, weights, **kwargs)(x)
        assert rel_err(out["logits"], ref[1].numpy()) <= LOGITS_TOL
        return
    seg = name.endswith("-seg")
    d = head_index(variant(name)[0], variant(name)[2])
    branches = ("cv2", "cv3", "cv4") if seg else ("cv2", "cv3")
    debug = [f"model.{d}.{b}.{i}.2" for i in range(3) for b in branches]
    out = netdefs.build(name, weights, head="decode", debug_tensors=debug, **kwargs)(x, debug=True)
    pred, proto = (ref[0][0], ref[0][1]) if seg else (ref[0], None)
    assert rel_err(out["pred"], pred.numpy()) <= DECODE_TOL
    if seg:
        assert rel_err(out["proto"], proto.numpy()) <= PROTO_TOL
    raw = ref[1].get("one2many", ref[1])
    offset = 0
    for i, feat in enumerate(raw["feats"]):
        n = feat.shape[2] * feat.shape[3]
        for b, key in zip(branches, ("boxes", "scores", "mask_coefficient")):
            expected = raw[key][..., offset:offset + n].reshape(2, -1, *feat.shape[2:]).numpy()
            assert rel_err(out[f"model.{d}.{b}.{i}.2"], expected) <= RAW_TOL, (i, b)
        offset += n


def letterboxed_images(imgsz):
    import ultralytics
    from netdefs.tasks.images import letterbox, read_image, to_input
    assets = Path(ultralytics.__file__).parent / "assets"
    return to_input([letterbox(read_image(assets / f), (imgsz, imgsz))[0] for f in ("bus.jpg", "zidane.jpg")])


def assert_same_detections(out, ref, nm=0):
    """Set match per image: every reference detection has ours with the same class, its score within 1e-5 and its
    box within 1e-3 relative (and the counts agree)."""
    total = 0
    for b, r in enumerate(ref):
        r = r.numpy()
        n = int(out["num_dets"][b, 0])
        assert n == len(r), f"image {b}: {n} detections, ultralytics has {len(r)}"
        total += n
        ours = np.concatenate([out["boxes"][b, :n], out["scores"][b, :n, None],
                               out["classes"][b, :n, None].astype(np.float32)]
                              + ([out["mask_coefficients"][b, :n]] if nm else []), 1)
        scale = max(np.abs(r[:, :4]).max(initial=1.0), 1.0)
        unmatched = list(range(n))
        for row in r:
            hit = [j for j in unmatched if ours[j, 5] == row[5] and abs(ours[j, 4] - row[4]) <= 1e-5
                   and np.abs(ours[j, :4] - row[:4]).max() <= 1e-3 * scale]
            assert hit, f"image {b}: ultralytics' detection {row[:6]} is not in ours"
            if nm:
                np.testing.assert_allclose(ours[hit[0], 6:], row[6:], rtol=1e-4, atol=1e-4)
            unmatched.remove(hit[0])
        assert (out["classes"][b, n:] == -1).all() and (out["scores"][b, n:] == 0).all()
    assert total > 0, "no detections: the comparison would prove nothing"
    return total


@pytest.mark.parametrize("name", ["yolov8n", "yolo11n-seg"])
def test_nms_head_equals_non_max_suppression_on_real_images(name):
    """The NMS head against ultralytics' non_max_suppression (same thresholds, max_det) of the engine's decoded
    output (a debug tensor of the same engine; it equals ultralytics' model(x)[0] to ~1e-7, checked here too).
    Applying non_max_suppression to ultralytics' own model(x)[0] instead is not a stable comparison with random
    weights: their many near-duplicate boxes put IoUs within 1e-7 of the threshold, and on zidane.jpg with yolov8n
    one borderline suppression flips (86 vs 87 detections) between two decodes that differ by 1.3e-7."""
    from ultralytics.utils.nms import non_max_suppression
    conf, iou, max_det = 0.25, 0.7, 300
    model = reference(name)
    x = letterboxed_images(160)
    ref_pred = run_reference(model, x)[0]
    ref_pred = ref_pred[0] if name.endswith("-seg") else ref_pred
    d = head_index(*variant(name)[::2])
    # yolov8n on a dynamic image size: the same check covers DFL, decoding and NMS on run-time shapes
    size = dict(dynamic_imgsz=(64, 160, 160)) if name == "yolov8n" else dict(imgsz=160)
    out = netdefs.build(name, state_dict_arrays(model), backend="reference", batch=2, quiet=True, head="nms",
                        score_threshold=conf, iou_threshold=iou, max_det=max_det, debug_tensors=[f"model.{d}.pred"],
                        **size)(x, debug=True)
    pred = out[f"model.{d}.pred"]
    assert rel_err(pred, ref_pred.numpy()) <= DECODE_TOL
    ref = non_max_suppression(torch.from_numpy(pred.copy()), conf, iou, max_det=max_det, nc=model.model[-1].nc)
    assert_same_detections(out, ref, nm=32 if name.endswith("-seg") else 0)


def test_yolo26_end2end_head_equals_ultralytics():
    """YOLO26's default head: the one-to-one branch and its top-k, as model(x)[0] with model.end2end = True, then
    non_max_suppression's end-to-end score filter; built from weights without the one-to-many head (fused)."""
    from ultralytics.utils.nms import non_max_suppression
    conf, max_det = 0.25, 300
    model = ultralytics_model("yolo26n", seed=4)
    x = letterboxed_images(160)
    model.end2end = True
    try:
        ref = non_max_suppression(run_reference(model, x)[0], conf, 0.7, max_det=max_det, end2end=True)
    finally:
        model.end2end = False
    # as ultralytics' fuse() leaves an end-to-end model: the one-to-many head removed
    fused = {k: v for k, v in state_dict_arrays(model).items() if not k.startswith(("model.23.cv", "model.23.dfl"))}
    assert FAMILY.describe({k: v.shape for k, v in fused.items()}) == ("yolo26n", 80)
    engine = netdefs.build("yolo26n", fused, backend="reference", imgsz=160, batch=2, quiet=True, strict=True,
                           score_threshold=conf, max_det=max_det)
    assert engine.meta["head"] == "end2end"
    assert_same_detections(engine(x), ref)


def test_dynamic_image_size_and_batch_match_ultralytics_at_each_size():
    """One engine with a dynamic H, W (anchors from the feature-map sizes at run time, the end-to-end top-k's k from
    the anchor count) and a dynamic batch, at 64, 96 and 128 (the 320 / 480 / 640 claim at small sizes): each
    level's raw maps, the prototypes (YOLO26's multi-level Proto26, attention in C2PSA) and the detections equal
    ultralytics' at every size."""
    from ultralytics.utils.nms import non_max_suppression
    model = reference("yolo26n-seg")
    d = head_index("26", "segment")
    branches = ("one2one_cv2", "one2one_cv3", "one2one_cv4")
    engine = netdefs.build("yolo26n-seg", state_dict_arrays(model), backend="reference", dynamic_batch=(1, 2, 2),
                           dynamic_imgsz=(64, 96, 128), score_threshold=0.25, max_det=100, quiet=True,
                           debug_tensors=[f"model.{d}.{b}.{i}.2" for i in range(3) for b in branches])
    assert engine.input_shape() == (-1, 3, -1, -1) and engine.meta["dynamic_imgsz"] == [[64, 64], [96, 96], [128, 128]]
    rng = np.random.default_rng(3)
    model.end2end, model.model[-1].max_det = True, 100
    try:
        for size, batch in ((64, 1), (96, 2), (128, 2)):
            x = rng.random((batch, 3, size, size), dtype=np.float32)
            (dets, proto), preds = run_reference(model, x)
            out = engine(x, debug=True)
            assert rel_err(out["proto"], proto.numpy()) <= PROTO_TOL, size
            raw, offset = preds["one2one"], 0
            for i, feat in enumerate(raw["feats"]):
                n = feat.shape[2] * feat.shape[3]
                for b, key in zip(branches, ("boxes", "scores", "mask_coefficient")):
                    expected = raw[key][..., offset:offset + n].reshape(batch, -1, *feat.shape[2:]).numpy()
                    assert rel_err(out[f"model.{d}.{b}.{i}.2"], expected) <= RAW_TOL, (size, i, b)
                offset += n
            assert_same_detections(out, non_max_suppression(dets, 0.25, 0.7, max_det=100, end2end=True), nm=32)
    finally:
        model.end2end, model.model[-1].max_det = False, 300


def test_describe_from_element_counts_and_flat_weights_build():
    """tensorrtx's yolov8 / yolo11 gen_wts writes every tensor flat: the model and class count come from names and
    element counts alone, and flat weights build the same engine."""
    model = reference("yolov8n")
    weights = state_dict_arrays(model)
    flat = {k: v.reshape(-1) for k, v in weights.items()}
    assert FAMILY.describe({k: v.shape for k, v in flat.items()}) == ("yolov8n", 80)
    for name in ("yolo11n-seg", "yolo26n", "yolo11s-cls"):
        shapes = {k: (v.size,) for k, v in state_dict_arrays(reference(name)).items()}
        assert FAMILY.describe(shapes)[0] == name
    x = np.random.default_rng(2).random((1, 3, 64, 64), dtype=np.float32)
    out = netdefs.build("yolov8n", flat, backend="reference", head="decode", imgsz=64, quiet=True)(x)
    assert rel_err(out["pred"], run_reference(model, x)[0].numpy()) <= DECODE_TOL
    with pytest.raises(netdefs.ModelMismatch, match="the weights are yolov8n .80 classes.*yolo11n"):
        netdefs.build("yolo11n", weights, backend="reference", imgsz=64, quiet=True)


class ConstantWeights(DemoWeights):
    """Weights of any shape at no cost (zeros, unit variances), counting the parameters read (BatchNorm running
    statistics are buffers, not parameters)."""

    def __init__(self):
        super().__init__()
        self.parameters = {}

    def get(self, name, shape, dtype=np.float32):
        if not name.endswith(("running_mean", "running_var")):
            self.parameters[name] = int(np.prod(shape))
        return (np.ones if name.endswith("running_var") else np.zeros)(shape, dtype)


def yaml_parameters(name):
    """The parameter count ultralytics' yaml states for a model in its `scales` comments (80 classes), or None."""
    import re
    from tests.helpers.ref_ultralytics import yaml_path
    path = yaml_path(name)
    unified = path.with_name(re.sub(r"(\d+)([nslmx])(.*)$", r"\1\3", path.name))
    for line in unified.read_text().splitlines():
        m = re.match(rf"\s+{name[6]}: \[.*#.* ([\d,]+) parameters", line)
        if m:
            return int(m.group(1).replace(",", ""))
    return None


def test_every_model_defines(monkeypatch):
    """All 75 models define (n ... x, detect / -seg / -cls / -pose / -obb) with their outputs' shapes, and read as
    many parameters as ultralytics' yaml comments state for the models that state it (80 classes; YOLOv8 / YOLO11
    detect, YOLO11-seg, -pose, -obb, YOLOv8-obb: all but DFL's fixed 16; YOLO26 detect and -obb: the model with both
    heads, of which the end-to-end network reads one). The n models also define with the seeded demo weights."""
    from netdefs.runtime.build import define
    checked = 0
    for name in FAMILY.models:
        if name[6] == "n":
            define(name, DemoWeights(), backend="reference", imgsz=64, quiet=True)
    # the yaml comments count 80 classes, whatever the variant's demo class count
    monkeypatch.setattr(type(FAMILY), "demo_classes_of", lambda self, variant: 80)
    for name in FAMILY.models:
        weights = ConstantWeights()
        d = define(name, weights, backend="reference", imgsz=64, quiet=True)
        expected_parameters = yaml_parameters(name)
        # the -cls comments predate 8.4's tables; yolo26-seg's and -pose's counts include training-only branches
        # (Proto26's semantic head; Pose26's keypoint sigma and flow model)
        if expected_parameters is not None and not name.endswith("-cls") and \
                name not in ("yolo26" + name[6] + "-seg", "yolo26" + name[6] + "-pose"):
            read = sum(weights.parameters.values())
            if name.startswith("yolo26"):
                other = sum(v for k, v in weights.parameters.items() if ".one2one_" in k)
                assert weights.parameters and other > 0
            else:
                other = 16  # DFL's fixed projection: a constant in the network, not read
            assert read + other == expected_parameters, name
            checked += 1
        shapes = {d.network.get_output(i).name: tuple(d.network.get_output(i).shape)
                  for i in range(d.network.num_outputs)}
        if name.endswith("-cls"):
            assert shapes == {"logits": (1, 80)}, name
            continue
        expected = {"num_dets": (1, 1), "boxes": (1, 84, 4), "scores": (1, 84), "classes": (1, 84)} \
            if name.startswith("yolo26") else \
            {"num_dets": (1, 1), "boxes": (1, 300, 4), "scores": (1, 300), "classes": (1, 300)}
        if name.endswith("-seg"):
            expected.update(mask_coefficients=expected["boxes"][:2] + (32,), proto=(1, 32, 16, 16))
        if name.endswith("-pose"):
            expected.update(keypoints=expected["boxes"][:2] + (17, 3))
        if name.endswith("-obb"):
            expected.update(boxes=expected["boxes"][:2] + (5,))
        assert shapes == expected, name
    assert checked >= 40


def test_demo_class_count_follows_the_variant():
    """Demo weights carry no shapes: each variant gets the class count of ultralytics' own checkpoints."""
    from netdefs.runtime.build import define
    for name, classes in (("yolov8n", 80), ("yolo11n-seg", 80), ("yolo11n-cls", 1000), ("yolov8n-pose", 1),
                          ("yolo26n-obb", 15)):
        d = define(name, DemoWeights(), backend="reference", imgsz=64, quiet=True)
        assert d.info["num_classes"] == classes, name
    d = define("yolov8n-cls", DemoWeights(), backend="reference", imgsz=64, quiet=True)
    assert tuple(d.network.get_output(0).shape) == (1, 1000)


def test_fp16_error_is_bounded():
    model = reference("yolo11n")
    x = np.random.default_rng(2).random((1, 3, 64, 64), dtype=np.float32)
    out = netdefs.build("yolo11n", state_dict_arrays(model), backend="reference", head="decode", imgsz=64,
                        precision="fp16", quiet=True)(x)
    assert out["pred"].dtype == np.float32
    assert rel_err(out["pred"], run_reference(model, x)[0].numpy()) <= 2e-2  # measured 3.5e-4


def test_int8_keeps_the_head_out_and_stays_close_to_fp32():
    """Explicit Q/DQ INT8 (calibrated on bus.jpg and zidane.jpg): the head's output convolutions stay out of INT8
    by default (quant_defaults), and the box maps stay close to the fp32 reference."""
    import ultralytics
    from netdefs.runtime.calibrate import calibrate
    images = [str(Path(ultralytics.__file__).parent / "assets" / f) for f in ("bus.jpg", "zidane.jpg")]
    model = reference("yolo11n")
    weights = state_dict_arrays(model)
    quant = calibrate("yolo11n", weights, images, method="max", imgsz=64, progress=False)
    kwargs = dict(backend="reference", imgsz=64, batch=2, quiet=True, head="raw")
    int8 = netdefs.build("yolo11n", weights, precision="int8", quant=quant, **kwargs)
    fallback = int8.meta["int8"]["fallback"]
    assert "model.23.cv2.*.2=fp16" in fallback and "model.23.cv3.*.2=fp16" in fallback
    assert int8.meta["int8"]["quantizers"] > 50
    x = letterboxed_images(64)
    y8, raw = int8(x), run_reference(model, x)[1]  # the fp32 engine equals the reference to ~1e-7 (above)
    offset = 0
    for i, feat in enumerate(raw["feats"]):  # the box distances (the class logits are dominated by their biases)
        n = feat.shape[2] * feat.shape[3]
        a = y8[f"raw{i}"][:, :64].ravel()
        b = raw["boxes"][..., offset:offset + n].reshape(2, 64, *feat.shape[2:]).numpy().ravel()
        offset += n
        cosine = float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))
        assert cosine >= 0.999 and 0 < rel_err(a, b) <= 5e-2, (i, cosine, rel_err(a, b))  # measured rel <= 6.2e-3


def test_option_errors_name_the_choice():
    from netdefs.runtime.build import define
    with pytest.raises(netdefs.UserError, match="no end-to-end head"):
        define("yolov8n", DemoWeights(), backend="reference", imgsz=64, quiet=True, head="end2end")
    with pytest.raises(netdefs.UserError, match="classifier"):
        define("yolo11n-cls", DemoWeights(), backend="reference", imgsz=64, quiet=True, head="nms")
    with pytest.raises(netdefs.UserError, match="head must be one of"):
        define("yolo26n", DemoWeights(), backend="reference", imgsz=64, quiet=True, head="boxes")
    with pytest.raises(netdefs.UserError, match="multiple of 32"):
        define("yolo11n", DemoWeights(), backend="reference", dynamic_imgsz=(64, 80, 128), quiet=True)
    assert define("yolo11n-cls", DemoWeights(), backend="reference", quiet=True).info["imgsz"] == [224, 224]


@pytest.mark.parametrize("name", ["yolo11n-seg", "yolov8n-cls"])
def test_compare_reference_gives_the_raw_head_tensors(name):
    """netdefs/analysis/ultralytics_reference.py (tools/compare.py's reference, to be registered in
    analysis/reference.py): the yaml-built module loaded with the weights runs to the raw head's tensors."""
    from netdefs.analysis import ultralytics_reference as ur
    weights = state_dict_arrays(reference(name))
    module = ur.build(name, {k: v.shape for k, v in weights.items()})
    module.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()}, strict=True)
    module.eval()
    from netdefs.runtime.build import build_definition
    d = netdefs.define(name, weights, backend="reference", imgsz=64, quiet=True, **FAMILY.compare_options)
    names = ur.raw_names(d.info)
    x = np.random.default_rng(5).random((1, 3, 64, 64), dtype=np.float32)
    out = build_definition(d, debug_tensors=names, quiet=True)(x, debug=True)
    expected = ur.raw_outputs(module, d.info)(x)
    for n in names:
        assert rel_err(out[n], expected[n]) <= RAW_TOL, n
