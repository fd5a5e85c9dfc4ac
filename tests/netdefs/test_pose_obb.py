"""Pose and OBB head pieces and rotated NMS (netdefs/layers/ultralytics_pose_obb.py) against ultralytics 8.4.x:
its non_max_suppression(rotated=True), and its OBBModel / PoseModel heads built from the yaml with seeded random
weights and randomised BatchNorm statistics, fed their own head inputs."""
import math

import numpy as np
import pytest
import torch

pytest.importorskip("ultralytics")

from tests.helpers.ref_pose_obb import (build_network, head_inputs, head_intermediates, rel_err,  # noqa: E402
                                        state_dict_arrays, ultralytics_model, ultralytics_rotated_nms)

from netdefs.layers import ultralytics_pose_obb as po  # noqa: E402

OUTPUTS = ("num_dets", "boxes", "scores", "classes", "index")


# ---------------------------------------------------------------- rotated NMS
def nms_engine(shape, iou, conf, max_det, candidates, agnostic=False, dynamic=None):
    b, n, nc = shape

    def define(net, t):
        out = po.rotated_nms(net, t["pred_boxes"], t["pred_scores"], "nms", iou, conf, max_det, candidates, agnostic)
        for k in OUTPUTS:
            net.output(out[k], k)

    profile = None
    if dynamic:
        profile = {"pred_boxes": [(d, n, 5) for d in dynamic], "pred_scores": [(d, n, nc) for d in dynamic]}
    return build_network(define, {"pred_boxes": (b, n, 5), "pred_scores": (b, n, nc)}, dynamic=profile)


def assert_same_detections(out, ref, max_det):
    """The packed outputs hold exactly ultralytics' detections, in its order, and zeros / -1 after them."""
    total = 0
    for b, (rows, keep) in enumerate(ref):
        n = int(out["num_dets"][b, 0])
        assert n == len(rows), f"image {b}: {n} detections, ultralytics has {len(rows)}"
        np.testing.assert_array_equal(out["index"][b, :n], keep)
        np.testing.assert_array_equal(out["boxes"][b, :n, :4], rows[:, :4])
        np.testing.assert_array_equal(out["boxes"][b, :n, 4], rows[:, 6])
        np.testing.assert_array_equal(out["scores"][b, :n], rows[:, 4])
        np.testing.assert_array_equal(out["classes"][b, :n], rows[:, 5].astype(np.int32))
        assert (out["classes"][b, n:] == -1).all() and (out["scores"][b, n:] == 0).all()
        assert (out["boxes"][b, n:] == 0).all() and out["boxes"].shape[1] == max_det
        total += n
    return total


def random_rboxes(rng, b, n, nc, spread=100.0, size=(5, 40)):
    xy = rng.uniform(0, spread, (b, n, 2))
    wh = rng.uniform(*size, (b, n, 2))
    angle = rng.uniform(-math.pi / 4, 3 * math.pi / 4, (b, n, 1))
    return np.concatenate([xy, wh, angle], 2).astype(np.float32), rng.random((b, n, nc)).astype(np.float32)


@pytest.mark.parametrize("seed,nc,iou,conf,max_det,agnostic", [
    (0, 3, 0.3, 0.5, 50, False),   # max_det binds
    (1, 1, 0.7, 0.25, 300, False), # fewer detections than max_det, one class
    (2, 15, 0.45, 0.1, 100, True), # DOTA's class count, class-agnostic
])
def test_rotated_nms_equals_ultralytics_on_random_boxes(seed, nc, iou, conf, max_det, agnostic):
    rng = np.random.default_rng(seed)
    boxes, scores = random_rboxes(rng, 2, 300, nc)
    out = nms_engine(boxes.shape[:2] + (nc,), iou, conf, max_det, 300, agnostic)(
        {"pred_boxes": boxes, "pred_scores": scores})
    ref = ultralytics_rotated_nms(boxes, scores, conf, iou, max_det, agnostic)
    assert assert_same_detections(out, ref, max_det) > 20


def test_rotated_nms_dense_overlaps_and_near_threshold_ious():
    """Crowded boxes (most pairs overlap), and an IoU threshold equal to one pair's float32 probiou: that pair is
    on the boundary (`iou > threshold` false), which only agrees when probiou is computed bit for bit alike."""
    from ultralytics.utils.metrics import batch_probiou
    rng = np.random.default_rng(5)
    boxes, scores = random_rboxes(rng, 1, 200, 1, spread=30.0, size=(10, 30))  # one class: no class offsets
    ious = batch_probiou(torch.from_numpy(boxes[0]), torch.from_numpy(boxes[0])).numpy()
    order = np.argsort(-scores[0].max(1), kind="stable")
    j, i = order[0], order[1]  # the top box against the second: decides whether the second survives
    threshold = float(ious[j, i])
    for iou in (threshold, float(np.nextafter(np.float32(threshold), np.float32(0)))):
        out = nms_engine((1, 200, 1), iou, 0.05, 100, 200)({"pred_boxes": boxes, "pred_scores": scores})
        ref = ultralytics_rotated_nms(boxes, scores, 0.05, iou, 100)
        assert_same_detections(out, ref, 100)
    # just above the boundary the second box stays, at it it goes: the test did probe the boundary
    assert i in ultralytics_rotated_nms(boxes, scores, 0.05, threshold, 100)[0][1]
    assert i not in ultralytics_rotated_nms(boxes, scores, 0.05, float(np.nextafter(np.float32(threshold),
                                                                                     np.float32(0))), 100)[0][1]


def test_rotated_nms_ties_are_broken_by_anchor_order():
    """Equal scores on overlapping boxes: ultralytics' argsort is unstable, so its choice among them is arbitrary;
    ours is the lower anchor index, i.e. ultralytics' rule under a stable sort."""
    rng = np.random.default_rng(9)
    boxes, _ = random_rboxes(rng, 2, 120, 2, spread=40.0, size=(10, 30))
    scores = np.round(rng.random((2, 120, 2)) * 4) / 4  # scores in {0, .25, .5, .75, 1}: many exact ties
    scores = scores.astype(np.float32)
    out = nms_engine((2, 120, 2), 0.4, 0.2, 60, 120)({"pred_boxes": boxes, "pred_scores": scores})
    ref = ultralytics_rotated_nms(boxes, scores, 0.2, 0.4, 60, stable=True)
    assert assert_same_detections(out, ref, 60) > 5


def test_rotated_nms_degenerate_boxes():
    """Zero-width and zero-area boxes, exact duplicates with equal scores, angles far outside [-π/4, 3π/4)."""
    rng = np.random.default_rng(21)
    boxes, scores = random_rboxes(rng, 1, 60, 2, spread=20.0)
    boxes[0, :10, 2] = 0          # zero width
    boxes[0, 10:15, 2:4] = 0      # points
    boxes[0, 20:30] = boxes[0, 30:40]  # duplicates ...
    scores[0, 20:30] = scores[0, 30:40]  # ... with equal scores
    boxes[0, 40:50, 4] += 7.0     # angles beyond a turn
    out = nms_engine((1, 60, 2), 0.5, 0.2, 60, 60)({"pred_boxes": boxes, "pred_scores": scores})
    ref = ultralytics_rotated_nms(boxes, scores, 0.2, 0.5, 60, stable=True)
    assert assert_same_detections(out, ref, 60) > 5


def test_rotated_nms_empty_images_small_candidate_list_and_dynamic_batch():
    """No candidate at all in one image; a candidate list shorter than max_det (padded slots); a dynamic batch."""
    rng = np.random.default_rng(3)
    boxes, scores = random_rboxes(rng, 3, 64, 4)
    scores[1] *= 0.1  # image 1: nothing above the threshold
    engine = nms_engine((-1, 64, 4), 0.5, 0.3, 100, 64, dynamic=(1, 2, 4))
    for batch in (3, 1):
        out = engine({"pred_boxes": boxes[:batch], "pred_scores": scores[:batch]})
        assert out["boxes"].shape == (batch, 100, 5)
        ref = ultralytics_rotated_nms(boxes[:batch], scores[:batch], 0.3, 0.5, 100)
        assert_same_detections(out, ref, 100)
    assert int(out["num_dets"][0, 0]) > 0
    assert int(engine({"pred_boxes": boxes[1:2], "pred_scores": scores[1:2]})["num_dets"][0, 0]) == 0


def test_rotated_nms_on_a_dynamic_anchor_count():
    """A dynamic image size makes N dynamic: the candidate list keeps its build-time length (<= the smallest N). At
    N = 336 more boxes pass the threshold than the list holds; the result still equals ultralytics', since a
    candidate's fate depends only on those ranked before it and the first 84 leave more than max_det kept."""
    rng = np.random.default_rng(8)

    def define(net, t):
        out = po.rotated_nms(net, t["pred_boxes"], t["pred_scores"], "nms", 0.5, 0.3, 50, 84)
        for k in OUTPUTS:
            net.output(out[k], k)

    engine = build_network(define, {"pred_boxes": (1, -1, 5), "pred_scores": (1, -1, 2)},
                           dynamic={"pred_boxes": [(1, 84, 5), (1, 84, 5), (1, 336, 5)],
                                    "pred_scores": [(1, 84, 2), (1, 84, 2), (1, 336, 2)]})
    for n in (84, 336):
        boxes, scores = random_rboxes(rng, 1, n, 2)
        scores *= 0.45
        out = engine({"pred_boxes": boxes, "pred_scores": scores})
        assert n == 84 or (scores[0].max(1) > 0.3).sum() > 84
        assert_same_detections(out, ultralytics_rotated_nms(boxes, scores, 0.3, 0.5, 50), 50)


def test_rotated_nms_class_offsets_keep_overlapping_classes_apart():
    """Two identical boxes of different classes both stay (class-aware); agnostic keeps only the better one."""
    boxes = np.array([[[50, 50, 20, 10, 0.3], [50, 50, 20, 10, 0.3]]], np.float32)
    scores = np.array([[[0.9, 0.1], [0.1, 0.8]]], np.float32)
    for agnostic, n in ((False, 2), (True, 1)):
        out = nms_engine((1, 2, 2), 0.5, 0.25, 5, 2, agnostic)({"pred_boxes": boxes, "pred_scores": scores})
        assert int(out["num_dets"][0, 0]) == n
        assert_same_detections(out, ultralytics_rotated_nms(boxes, scores, 0.25, 0.5, 5, agnostic), 5)


def test_candidates_out_of_range_is_refused():
    with pytest.raises(ValueError, match="candidates must be in"):
        nms_engine((1, 5000, 1), 0.5, 0.25, 10, 4000)


# ---------------------------------------------------------------- OBB and Pose heads, fed the model's own head inputs
# n of each generation; s only for YOLO26 here: v8 / 11 s are held whole-model (FAMILY_MODELS below), which adds
# nothing new to the head alone but time.
HEADS = [(f"{gen}{size}-{task}.yaml", end2end) for task in ("obb", "pose") for gen in ("yolov8", "yolo11", "yolo26")
         for size in (("n", "s") if gen == "yolo26" else ("n",))
         for end2end in ((False, True) if gen == "yolo26" else (False,))]


def head_case(yaml_name, end2end, seed=4, batch=2, hw=(64, 96)):
    model = ultralytics_model(yaml_name, seed=seed)
    head = model.model[-1]
    if end2end:
        head.end2end = True
    x = np.random.default_rng(seed).random((batch, 3) + hw, dtype=np.float32)
    feats, _ = head_inputs(model, x)
    branches, dist, anchors, strides, decoded = head_intermediates(model, feats)
    inputs = {f"feat{i}": f.numpy() for i, f in enumerate(feats)}
    inputs["dist"] = dist.numpy()
    return model, head, inputs, anchors.numpy(), strides.numpy(), branches, decoded.numpy()


def head_prefix(model, head, branch):
    return f"model.{len(model.model) - 1}.{'one2one_' if head.end2end else ''}{branch}"


@pytest.mark.parametrize("yaml_name,end2end", [h for h in HEADS if "-obb" in h[0]])
def test_obb_angle_branch_and_rotated_decode_match_ultralytics(yaml_name, end2end):
    """cv4 → angle ((σ − 1/4)·π, raw for YOLO26) → dist2rbox × stride equal OBB._inference's xywh and angle rows."""
    model, head, inputs, anchors, strides, branches, decoded = head_case(yaml_name, end2end)
    yolo26 = "yolo26" in yaml_name

    def define(net, t):
        from netdefs.layers.ops import constant
        levels = [t[f"feat{i}"] for i in range(3)]
        angle = po.obb_angle(net, levels, head_prefix(model, head, "cv4"), po.obb_hidden(levels[0].shape[1]), yolo26)
        a = constant(net, anchors, "anchors")
        s = constant(net, strides, "strides")
        net.output(angle, "angle")
        net.output(po.dist2rbox(net, t["dist"], angle, a, s, "head.rboxes"), "rboxes")

    engine = build_network(define, {k: v.shape for k, v in inputs.items()}, state_dict_arrays(model))
    out = engine(inputs)
    assert rel_err(out["angle"], branches["angle"].numpy()) <= 1e-4
    assert rel_err(out["angle"], decoded[:, -1:]) <= 1e-4
    assert rel_err(out["rboxes"], decoded[:, :4]) <= 1e-4
    if not yolo26:
        assert out["angle"].min() >= -math.pi / 4 and out["angle"].max() <= 3 * math.pi / 4


@pytest.mark.parametrize("yaml_name,end2end", [h for h in HEADS if "-pose" in h[0]])
def test_pose_keypoint_branch_and_decode_match_ultralytics(yaml_name, end2end):
    """cv4 (Pose26: cv4 + cv4_kpts) → kpts_decode equal Pose._inference's keypoint rows (x, y, visibility)."""
    model, head, inputs, anchors, strides, branches, decoded = head_case(yaml_name, end2end)
    yolo26 = "yolo26" in yaml_name
    kpt_shape = tuple(head.kpt_shape)

    def define(net, t):
        from netdefs.layers.ops import constant
        levels = [t[f"feat{i}"] for i in range(3)]
        hidden = po.pose_hidden(levels[0].shape[1], kpt_shape, yolo26)
        raw = po.pose_keypoints(net, levels, head_prefix(model, head, "cv4"), hidden, kpt_shape, yolo26,
                                kpts_prefix=head_prefix(model, head, "cv4_kpts"))
        net.output(raw, "kpts_raw")
        net.output(po.kpts_decode(net, raw, constant(net, anchors, "anchors"), constant(net, strides, "strides"),
                                  kpt_shape, "head.kpts", yolo26), "kpts")

    engine = build_network(define, {k: v.shape for k, v in inputs.items() if k != "dist"}, state_dict_arrays(model))
    out = engine({k: v for k, v in inputs.items() if k != "dist"})
    nk = kpt_shape[0] * kpt_shape[1]
    assert rel_err(out["kpts_raw"], branches["kpts"].numpy()) <= 1e-4
    assert rel_err(out["kpts"], decoded[:, -nk:]) <= 1e-4


# ---------------------------------------------------------------- after NMS, on a real image
def real_image(hw=(128, 160), batch=2):
    """ultralytics' bus.jpg and zidane.jpg resized to `hw`, RGB in [0, 1], (batch, 3, H, W)."""
    from pathlib import Path

    import ultralytics
    from PIL import Image
    assets = Path(ultralytics.__file__).parent / "assets"
    images = [np.asarray(Image.open(assets / n).convert("RGB").resize(hw[::-1]), np.float32) / 255
              for n in ("bus.jpg", "zidane.jpg")[:batch]]
    return np.ascontiguousarray(np.stack(images).transpose(0, 3, 1, 2))


def set_match(ours, theirs, rtol=1e-3):
    """Each of our rows matches one of theirs (same class, every value within rtol relative, 1e-3 absolute)."""
    assert len(ours) == len(theirs)
    left = list(range(len(theirs)))
    for row in ours:
        hit = next((j for j in left if np.allclose(row, theirs[j], rtol=rtol, atol=1e-3)), None)
        assert hit is not None, f"no ultralytics detection matches {row}"
        left.remove(hit)


@pytest.mark.parametrize("yaml_name", ["yolov8n-obb.yaml", "yolo11n-obb.yaml"])
def test_obb_detections_after_nms_equal_ultralytics_postprocessing(yaml_name):
    """Branches → decoded (B, 4 + nc + 1, N) → rotated NMS in one network, on real images, against ultralytics'
    non_max_suppression(nc=nc, rotated=True) of the model's own decoded output."""
    model = ultralytics_model(yaml_name, seed=6, nc=15)
    head = model.model[-1]
    x = real_image()
    feats, out = head_inputs(model, x)
    branches, dist, anchors, strides, decoded = head_intermediates(model, feats)
    np.testing.assert_allclose(decoded.numpy(), out[0].numpy(), rtol=0, atol=0)
    inputs = {f"feat{i}": f.numpy() for i, f in enumerate(feats)}
    inputs.update(dist=dist.numpy(), cls_logits=branches["scores"].numpy())
    conf, iou, max_det = 0.5, 0.3, 100  # DFL kept (as in checkpoints): scores nearer 0.5 than with a random one

    def define(net, t):
        from netdefs.layers.ops import activation, concat, constant
        levels = [t[f"feat{i}"] for i in range(3)]
        angle = po.obb_angle(net, levels, "model.%d.cv4" % (len(model.model) - 1), po.obb_hidden(levels[0].shape[1]))
        boxes = po.dist2rbox(net, t["dist"], angle, constant(net, anchors.numpy(), "anchors"),
                             constant(net, strides.numpy(), "strides"), "head.rboxes")
        pred = concat(net, [boxes, activation(net, t["cls_logits"], "head.cls", "sigmoid"), angle], "head.pred", 1)
        po.obb_nms_head(net, pred, 15, "head.nms", iou, conf, max_det)

    engine = build_network(define, {k: v.shape for k, v in inputs.items()}, state_dict_arrays(model))
    got = engine(inputs)
    from ultralytics.utils.nms import non_max_suppression
    ref = non_max_suppression(out[0], conf, iou, max_det=max_det, nc=15, rotated=True)
    total = 0
    for b, r in enumerate(ref):
        r = r.numpy()
        n = int(got["num_dets"][b, 0])
        ours = np.concatenate([got["boxes"][b, :n, :4], got["scores"][b, :n, None],
                               got["classes"][b, :n, None].astype(np.float32), got["boxes"][b, :n, 4:]], 1)
        set_match(ours, r)
        total += n
    assert total > 10


@pytest.mark.parametrize("yaml_name", ["yolov8n-pose.yaml", "yolo26n-pose.yaml"])
def test_pose_keypoints_gathered_with_kept_boxes_equal_ultralytics(yaml_name):
    """The decoded keypoints, gathered at ultralytics' kept anchor indices (non_max_suppression(return_idxs=True)
    on a real image), equal the keypoint columns of its detections; empty slots hold zeros."""
    model = ultralytics_model(yaml_name, seed=7)
    head = model.model[-1]
    x = real_image()
    feats, out = head_inputs(model, x)
    _, _, anchors, strides, decoded = head_intermediates(model, feats)
    from ultralytics.utils.nms import non_max_suppression
    max_det = 40
    ref, keep = non_max_suppression(decoded, 0.5, 0.5, max_det=max_det, nc=head.nc, return_idxs=True)
    index = np.full((2, max_det), -1, np.int32)
    for b, k in enumerate(keep):
        index[b, :len(k)] = k.numpy().reshape(-1)
    yolo26 = "yolo26" in yaml_name
    kpt_shape = tuple(head.kpt_shape)
    inputs = {f"feat{i}": f.numpy() for i, f in enumerate(feats)}
    inputs["keep_index"] = index

    def define(net, t):
        from netdefs.layers.ops import constant, elementwise
        levels = [t[f"feat{i}"] for i in range(3)]
        p = f"model.{len(model.model) - 1}"
        raw = po.pose_keypoints(net, levels, f"{p}.cv4", po.pose_hidden(levels[0].shape[1], kpt_shape, yolo26),
                                kpt_shape, yolo26, kpts_prefix=f"{p}.cv4_kpts")
        kpts = po.kpts_decode(net, raw, constant(net, anchors.numpy(), "anchors"),
                              constant(net, strides.numpy(), "strides"), kpt_shape, "head.kpts", yolo26)
        minus_one = constant(net, np.full((1, 1), -1), "minus_one", np.int32)
        valid = elementwise(net, t["keep_index"], minus_one, "valid", "greater")
        index = elementwise(net, t["keep_index"], constant(net, np.zeros((1, 1)), "zero", np.int32), "index", "max")
        net.output(po.kept_keypoints(net, kpts, index, valid, kpt_shape, "head.kept_kpts"), "keypoints")

    got = engine_out = build_network(define, {k: v.shape for k, v in inputs.items()},
                                     state_dict_arrays(model))(inputs)["keypoints"]
    assert engine_out.shape == (2, max_det) + kpt_shape
    got = got.reshape(2, max_det, -1)
    total = 0
    for b, r in enumerate(ref):
        n = len(r)
        assert r.shape[1] == 6 + got.shape[2]
        np.testing.assert_allclose(got[b, :n], r[:, 6:].numpy(), rtol=1e-4, atol=1e-3)
        assert (got[b, n:] == 0).all()
        total += n
    assert total > 5


# ---------------------------------------------------------------- host side: geometry, metrics, drawing
from netdefs.tasks import pose_obb_draw as draw  # noqa: E402


def test_rbox_geometry_by_hand():
    np.testing.assert_allclose(draw.rbox_corners([0, 0, 2, 2, 0]), [[1, 1], [1, -1], [-1, -1], [-1, 1]])
    np.testing.assert_allclose(draw.regularize_rboxes([0, 0, 2, 1, 2.0]), [0, 0, 1, 2, 2.0 - math.pi / 2])
    np.testing.assert_allclose(draw.regularize_rboxes([0, 0, 2, 1, 0.3]), [0, 0, 2, 1, 0.3])
    square = [0, 0, 2, 2, 0]
    iou = draw.rotated_iou([square, [1, 0, 2, 2, 0], [0, 0, 2, 2, math.pi / 4], [0, 0, 2, 4, math.pi / 2],
                            [10, 0, 2, 2, 0.2]], [square, [0, 0, 4, 2, 0]])
    # same box; half overlap (2 / 6); the 45° square: an octagon of 4 − 4(√2 − 1)², IoU = 1/√2; a 2×4 box turned
    # a quarter is the 4×2 box; far apart
    np.testing.assert_allclose(iou[:, 0], [1, 1 / 3, 1 / math.sqrt(2), 0.5, 0], atol=1e-12)
    np.testing.assert_allclose(iou[3, 1], 1.0, atol=1e-12)
    assert draw.DOTA_V1_NAMES[0] == "plane" and draw.DOTA_V1_NAMES[14] == "swimming pool"
    assert len(draw.DOTA_V1_NAMES) == 15


def test_oks_and_keypoint_agreement_by_hand():
    truth = np.array([[[0.0, 0.0, 1.0]]])  # one keypoint; K = 1: sigma 1, e = d / (8 · area)
    pred = np.array([[[math.sqrt(8 * math.log(2)), 0.0, 1.0]], [[0.0, 0.0, 1.0]]])
    np.testing.assert_allclose(draw.oks(truth, pred, [1.0]), [[0.5, 1.0]], rtol=1e-6)
    assert draw.oks(np.array([[[0.0, 0.0, 0.0]]]), pred, [1.0]).max() == 0  # invisible truth counts nothing
    coco = np.random.default_rng(0).random((2, 17, 3)) * 100
    coco[..., 2] = 1
    boxes = np.array([[0, 0, 100, 100], [0, 0, 50, 50]])
    assert draw.keypoint_agreement(coco, boxes, coco) == pytest.approx(1.0)
    assert draw.keypoint_agreement(coco, boxes, coco[:1]) == pytest.approx(0.5)  # one truth unmatched: 0
    assert draw.keypoint_agreement(coco[:0], boxes[:0], coco[:0]) == 1.0


def test_rotated_map50_by_hand():
    a, b = [10, 10, 8, 4, 0.3], [40, 40, 6, 6, 1.0]
    truth = [(np.array([a, b]), np.array([0, 0]))]
    perfect = [(np.array([a, b]), np.array([0.9, 0.8]), np.array([0, 0]))]
    assert draw.rotated_map50(truth, perfect) == 1.0
    # one hit then a false positive (wrong place): precision 1 up to recall 1/2, then nothing: 51 of 101 points
    half = [(np.array([a, [70, 70, 5, 5, 0]]), np.array([0.9, 0.8]), np.array([0, 0]))]
    assert draw.rotated_map50(truth, half) == pytest.approx(51 / 101)
    wrong_class = [(np.array([a, b]), np.array([0.9, 0.8]), np.array([1, 1]))]
    assert draw.rotated_map50(truth, wrong_class) == 0.0
    # the same box turned a quarter with w and h swapped is the same box
    turned = [(np.array([[10, 10, 4, 8, 0.3 + math.pi / 2], b]), np.array([0.9, 0.8]), np.array([0, 0]))]
    assert draw.rotated_map50(truth, turned) == 1.0


def test_drawing_skeleton_points_and_rotated_boxes():
    from PIL import Image
    kpts = np.zeros((1, 17, 3))
    kpts[0, :, 0], kpts[0, :, 1], kpts[0, :, 2] = np.linspace(10, 90, 17), 50, 1.0
    kpts[0, 5, :2], kpts[0, 11, :2] = (20, 10), (20, 90)  # limb 5-11 (left shoulder - hip) runs down x = 20
    image = draw.draw_keypoints(Image.new("RGB", (100, 100)), kpts)
    assert image.getpixel((20, 30)) != (0, 0, 0)  # on the limb, away from any joint
    points = draw.draw_keypoints(Image.new("RGB", (100, 100)), kpts[:, :5])  # 5 keypoints: points only
    assert points.getpixel((20, 30)) == (0, 0, 0) and points.getpixel((10, 50)) != (0, 0, 0)
    hidden = kpts.copy()
    hidden[0, :, 2] = 0.1
    assert draw.draw_keypoints(Image.new("RGB", (100, 100)), hidden).getbbox() is None
    boxes = draw.draw_rotated_boxes(Image.new("RGB", (100, 100)), [[50, 50, 40, 20, math.pi / 4]], [1], [0.9],
                                    draw.DOTA_V1_NAMES)
    corner = draw.rbox_corners([50, 50, 40, 20, math.pi / 4])[0]
    assert boxes.getpixel((int(round(corner[0])), int(round(corner[1])))) != (0, 0, 0)
    assert boxes.getpixel((50, 50)) == (0, 0, 0)  # an outline, not a fill


# ---------------------------------------------------------------- precision, dynamic batch, INT8 defaults
def test_rotated_nms_in_an_fp16_network_runs_in_float32():
    """In an fp16 network the NMS casts its inputs to float32: the result is ultralytics' on the fp16 values."""
    rng = np.random.default_rng(12)
    boxes, scores = random_rboxes(rng, 2, 150, 3)

    def define(net, t):
        out = po.rotated_nms(net, t["pred_boxes"], t["pred_scores"], "nms", 0.4, 0.3, 60, 150)
        for k in OUTPUTS:
            net.output(out[k], k)

    engine = build_network(define, {"pred_boxes": boxes.shape, "pred_scores": scores.shape}, precision="fp16")
    out = engine({"pred_boxes": boxes, "pred_scores": scores})
    half_boxes, half_scores = (a.astype(np.float16).astype(np.float32) for a in (boxes, scores))
    ref = ultralytics_rotated_nms(half_boxes, half_scores, 0.3, 0.4, 60, stable=True)  # fp16 rounding ties scores
    assert assert_same_detections(out, ref, 60) > 20


def test_obb_head_dynamic_batch_and_fp16_error():
    """The angle branch and decode on a dynamic batch (each image as alone), and in fp16 within 2e-2 of PyTorch."""
    model, head, inputs, anchors, strides, branches, decoded = head_case("yolo11n-obb.yaml", False, batch=3)

    def define(net, t):
        from netdefs.layers.ops import constant
        levels = [t[f"feat{i}"] for i in range(3)]
        angle = po.obb_angle(net, levels, "model.23.cv4", po.obb_hidden(levels[0].shape[1]))
        net.output(po.dist2rbox(net, t["dist"], angle, constant(net, anchors, "anchors"),
                                constant(net, strides, "strides"), "head.rboxes"), "rboxes")
        net.output(angle, "angle")

    weights = state_dict_arrays(model)
    shapes = {k: (-1,) + v.shape[1:] for k, v in inputs.items()}
    profile = {k: [(b,) + v.shape[1:] for b in (1, 2, 4)] for k, v in inputs.items()}
    engine = build_network(define, shapes, weights, dynamic=profile)
    batched = engine(inputs)
    for i in range(3):
        single = engine({k: v[i:i + 1] for k, v in inputs.items()})
        np.testing.assert_allclose(batched["rboxes"][i:i + 1], single["rboxes"], rtol=1e-5, atol=1e-4)
    assert rel_err(batched["rboxes"], decoded[:, :4]) <= 1e-4
    half = build_network(define, {k: v.shape for k, v in inputs.items()}, weights, precision="fp16")(inputs)
    assert rel_err(half["angle"], decoded[:, -1:]) <= 2e-2
    assert rel_err(half["rboxes"], decoded[:, :4]) <= 2e-2


def test_int8_defaults_keep_the_pose_and_obb_branches_out():
    import fnmatch
    patterns = po.quant_defaults(22)
    out = [n for n in ("model.22.cv4.0.0.conv", "model.22.cv4.2.2", "model.22.cv4_kpts.1",
                       "model.22.one2one_cv4.0.1.conv", "model.22.one2one_cv4_kpts.0")
           if any(fnmatch.fnmatchcase(n, p) for p, _ in patterns)]
    assert len(out) == 5
    assert not any(fnmatch.fnmatchcase(n, p) for p, _ in patterns
                   for n in ("model.22.cv2.0.0.conv", "model.22.cv3.0.2", "model.21.cv4.0.0.conv"))


@pytest.mark.parametrize("one2one", [False, True])
def test_pose26_reads_every_keypoint_weight_or_marks_it_unused_on_purpose(one2one):
    from netdefs.layers.ops import constant
    from netdefs.layers.net import Net
    from weights import WeightStore
    import reftrt as trt
    model = ultralytics_model("yolo26n-pose.yaml", seed=2)
    weights = state_dict_arrays(model)
    store = WeightStore(weights)
    net = Net(trt, trt.Builder(trt.Logger()).create_network(0), store)
    levels = [net.input(f"feat{i}", (1, c, 8 >> i, 8 >> i)) for i, c in enumerate((64, 128, 256))]
    p = f"model.23.{'one2one_' if one2one else ''}"
    raw = po.pose_keypoints(net, levels, f"{p}cv4", po.pose_hidden(64, (17, 3), True), (17, 3), True,
                            kpts_prefix=f"{p}cv4_kpts")
    po.kpts_decode(net, raw, constant(net, np.zeros((2, 84)), "anchors"), constant(net, np.ones((1, 84)), "strides"),
                   (17, 3), "kpts", True)
    po.mark_training_only(net, 23, one2one)
    left = {".".join(n.split(".")[:3]) for n in store.unused() if n.startswith("model.23.")}
    assert left == {"model.23.cv2", "model.23.cv3", "model.23.one2one_cv2", "model.23.one2one_cv3"}


# ---------------------------------------------------------------- whole models, built by the ultralytics family
# The contract: head="raw" gives each level's box / class maps and the extra branch ("angle" in radians, "kpts"
# undecoded) as ultralytics' prediction dict holds them; head="decode" gives "pred" = ultralytics' model(x)[0],
# (B, 4 + nc + extra, N); head="nms" gives num_dets, boxes ((B, max_det, 4) x1y1x2y2, or (B, max_det, 5) xywhr for
# OBB), scores, classes, and for -pose "keypoints" (B, max_det, nkpt, ndim), as non_max_suppression(pred, conf, iou,
# nc=nc, rotated=obb) on real images.
FAMILY_MODELS = [f"{g}{s}-{t}" for t in ("pose", "obb") for g in ("yolov8", "yolo11") for s in ("n", "s")]
# measured on reftrt (float32, 128x160, seed 11): raw and decode within 1.9e-7 relative of PyTorch
FAMILY_RTOL = 2e-6
# random weights put pose models' one class near 0.5: a threshold below that leaves detections to compare
FAMILY_CONF = {"pose": 0.45, "obb": 0.5}


def family_or_skip(name):
    family = pytest.importorskip("netdefs.families.ultralytics").FAMILY
    if name not in family.models:
        pytest.skip(f"the ultralytics family does not build {name} yet")
    return family


def raw_reference(model, x):
    """ultralytics' one-to-many prediction dict cut per level: [box | class] maps, and the extra branch whole."""
    with torch.no_grad():
        preds = model(torch.from_numpy(x))[1]
    preds = preds.get("one2many", preds)
    maps, offset = [], 0
    for feat in preds["feats"]:
        n = feat.shape[2] * feat.shape[3]
        part = torch.cat([preds["boxes"][..., offset:offset + n], preds["scores"][..., offset:offset + n]], 1)
        maps.append(part.reshape(feat.shape[0], -1, *feat.shape[2:]).numpy())
        offset += n
    return maps, preds["angle" if "angle" in preds else "kpts"].numpy()


def nms_rows(out, b, obb):
    """Image b's detections as ultralytics' rows: box, score, class, then angle (OBB) or keypoints (pose)."""
    n = int(out["num_dets"][b, 0])
    cols = [out["boxes"][b, :n, :4], out["scores"][b, :n, None], out["classes"][b, :n, None].astype(np.float32)]
    if obb:
        cols.append(out["boxes"][b, :n, 4:])
    else:
        cols.append(out["keypoints"][b, :n].reshape(n, -1))
    return np.concatenate(cols, 1)


@pytest.mark.parametrize("name", FAMILY_MODELS)
def test_family_decode_and_nms_match_ultralytics(name):
    import netdefs
    from ultralytics.utils.nms import non_max_suppression
    family_or_skip(name)
    obb = "-obb" in name
    model = ultralytics_model(f"{name}.yaml", seed=11, nc=15 if obb else None)
    weights = state_dict_arrays(model)
    x = real_image((128, 160))
    with torch.no_grad():
        ref_pred = model(torch.from_numpy(x))[0]
    kwargs = dict(backend="reference", imgsz=(128, 160), batch=2, quiet=True)
    raw = netdefs.build(name, weights, head="raw", **kwargs)(x)
    maps, extra = raw_reference(model, x)
    for i, m in enumerate(maps):
        assert rel_err(raw[f"raw{i}"], m) <= FAMILY_RTOL
    assert rel_err(raw["angle" if obb else "kpts"], extra) <= FAMILY_RTOL
    dec = netdefs.build(name, weights, head="decode", **kwargs)(x)
    assert rel_err(dec["pred"], ref_pred.numpy()) <= FAMILY_RTOL
    conf, iou, max_det = FAMILY_CONF["obb" if obb else "pose"], 0.5, 100
    out = netdefs.build(name, weights, head="nms", score_threshold=conf, iou_threshold=iou, max_det=max_det,
                        **kwargs)(x)
    head = model.model[-1]
    ref = non_max_suppression(ref_pred, conf, iou, max_det=max_det, nc=head.nc, rotated=obb)
    if not obb:
        assert out["keypoints"].shape == (2, max_det) + tuple(head.kpt_shape)
    for b, r in enumerate(ref):
        set_match(nms_rows(out, b, obb), r.numpy())
    assert sum(len(r) for r in ref) >= 4  # the comparison saw detections


@pytest.mark.parametrize("name", ["yolo26n-pose", "yolo26n-obb"])
def test_family_yolo26_heads_match_ultralytics(name):
    """YOLO26: the one-to-many branch through NMS as above, and the end-to-end head (one-to-one branch, top-k, no
    NMS) equal to ultralytics' model(x)[0] with end2end on, after non_max_suppression's score filter."""
    import netdefs
    from ultralytics.utils.nms import non_max_suppression
    obb = "-obb" in name
    model = ultralytics_model(f"{name}.yaml", seed=11, nc=15 if obb else None)
    weights = state_dict_arrays(model)
    x = real_image((128, 160))
    head = model.model[-1]
    kwargs = dict(backend="reference", imgsz=(128, 160), batch=2, quiet=True)
    conf, max_det = FAMILY_CONF["obb" if obb else "pose"], 50

    head.end2end = False
    with torch.no_grad():
        many = model(torch.from_numpy(x))[0]
    dec = netdefs.build(name, weights, head="decode", **kwargs)(x)
    assert rel_err(dec["pred"], many.numpy()) <= FAMILY_RTOL
    out = netdefs.build(name, weights, head="nms", score_threshold=conf, iou_threshold=0.5, max_det=max_det,
                        **kwargs)(x)
    for b, r in enumerate(non_max_suppression(many, conf, 0.5, max_det=max_det, nc=head.nc, rotated=obb)):
        set_match(nms_rows(out, b, obb), r.numpy())

    head.end2end = True
    head.max_det = max_det
    with torch.no_grad():
        one = model(torch.from_numpy(x))[0]  # (B, max_det, 6 + extra): box, score, class, extra
    out = netdefs.build(name, weights, head="end2end", score_threshold=conf, max_det=max_det, **kwargs)(x)
    total = 0
    for b in range(2):
        r = one[b][one[b][:, 4] > conf].numpy()
        if obb:  # OBB's end-to-end rows are xywh, score, class, angle
            r = np.concatenate([r[:, :4], r[:, 4:6], r[:, 6:]], 1)
        set_match(nms_rows(out, b, obb), r)
        total += len(r)
    assert total >= 4


def test_per_image_results_scaling_and_agreement():
    outputs = {"num_dets": np.array([[1]]), "boxes": np.array([[[30, 20, 4, 8, 2.0], [0, 0, 0, 0, 0]]]),
               "scores": np.array([[0.9, 0]]), "classes": np.array([[2, -1]])}
    boxes, scores, classes = draw.obb_detections(outputs, 0)
    np.testing.assert_allclose(boxes, [[30, 20, 8, 4, 2.0 - math.pi / 2]])
    # letterbox ratio 0.5, padding (10, 0): centre (30, 20) → (40, 40), sides doubled
    np.testing.assert_allclose(draw.scale_rboxes(boxes, 0.5, (10, 0)), [[40, 40, 16, 8, 2.0 - math.pi / 2]])
    kpts = np.array([[[30, 20, 0.7], [5, 500, 0.2]]])
    np.testing.assert_allclose(draw.scale_keypoints(kpts, 0.5, (10, 0), (100, 200, 3)),
                               [[[40, 40, 0.7], [0, 100, 0.2]]])
    same = draw.obb_agreement([(boxes, scores, classes)], [(boxes, scores, classes)])
    assert same == {"map50": 1.0, "detections": 1, "truth_detections": 1}
    pose = (np.array([[0, 0, 10, 10]]), np.array([0.9]), np.array([0]), np.ones((1, 17, 3)))
    assert draw.pose_agreement([pose], [pose])["oks"] == pytest.approx(1.0)


@pytest.mark.parametrize("name", ["yolov8n-pose", "yolo11s-pose", "yolo26n-pose", "yolov8n-obb", "yolo11n-obb",
                                  "yolo26s-obb"])
def test_describe_pose_and_obb_from_element_counts(name):
    """Flat weights (tensorrtx's .wts) name the model and class count; the task follows the variant; a YOLO26
    checkpoint fused to its end-to-end head is still recognised."""
    import netdefs
    family = family_or_skip(name)
    obb = "-obb" in name
    model = ultralytics_model(f"{name}.yaml", seed=1, nc=15 if obb else None)
    shapes = {k: (int(np.prod(v.shape)),) for k, v in model.state_dict().items()}
    nc = model.model[-1].nc
    assert family.describe(shapes) == (name, nc)
    assert family.model(name).task == ("obb" if obb else "pose")
    if name.startswith("yolo26"):
        d = len(model.model) - 1
        fused = {k: v for k, v in shapes.items() if not k.startswith((f"model.{d}.cv", f"model.{d}.dfl"))}
        assert family.describe(fused) == (name, nc)
    with pytest.raises(netdefs.ModelMismatch, match=f"the weights are {name}"):
        family.check_weights(family.model(name.replace("-obb", "-pose") if obb else name.replace("-pose", "-obb")),
                             shapes)


@pytest.mark.parametrize("name", ["yolov8n-obb", "yolo26n-obb", "yolo11n-pose"])
def test_registered_reference_gives_the_raw_head_tensors(name):
    """netdefs/analysis/reference.py (tools/accuracy.py's path): the ultralytics reference is registered, builds the
    PoseModel / OBBModel for the weights, and its raw tensors (per-level maps, the angle or undecoded keypoints)
    equal the netdef's under the names raw_names gives."""
    import netdefs
    from netdefs.analysis import reference
    from netdefs.runtime.build import build_definition
    family = family_or_skip(name)
    weights = state_dict_arrays(ultralytics_model(f"{name}.yaml", seed=5, nc=15 if "-obb" in name else None))
    module = reference.reference_model(name, weights)
    d = netdefs.define(name, weights, backend="reference", imgsz=64, quiet=True, **family.compare_options)
    names = reference.raw_names(d.info)
    assert len(names) == 4
    x = np.random.default_rng(5).random((1, 3, 64, 64), dtype=np.float32)
    out = build_definition(d, debug_tensors=names, quiet=True)(x, debug=True)
    expected = reference.raw_outputs(module, d.info)(x)
    for n in names:
        assert rel_err(out[n], expected[n]) <= FAMILY_RTOL, n


def test_family_options_quant_defaults_and_metadata():
    """The candidates option is OBB's, in [1, 3840], recorded in the sidecar; the INT8 defaults keep the whole cv4
    branch of -pose / -obb heads out; pose metadata names the keypoint layout."""
    import fnmatch
    import netdefs
    from netdefs.runtime.demo import DemoWeights
    family = family_or_skip("yolov8n-obb")
    kwargs = dict(backend="reference", imgsz=64, quiet=True)
    d = netdefs.define("yolov8n-obb", DemoWeights(), candidates=50, **kwargs)
    assert d.info["candidates"] == 50 and d.info["task"] == "obb" and d.info["num_classes"] == 15
    with pytest.raises(netdefs.UserError, match="candidates must be an integer in"):
        netdefs.define("yolov8n-obb", DemoWeights(), candidates=5000, **kwargs)
    with pytest.raises(netdefs.UserError, match="-obb models only"):
        netdefs.define("yolov8n-pose", DemoWeights(), candidates=50, **kwargs)
    d = netdefs.define("yolo11n-pose", DemoWeights(), **kwargs)
    assert d.info["kpt_shape"] == [17, 3] and d.info["outputs"][-1] == "keypoints"
    for name, d in (("yolov8n-pose", 22), ("yolo26s-obb", 23)):
        patterns = family.quant_defaults(family.model(name).variant)
        kept = [n for n in (f"model.{d}.cv4.0.0.conv", f"model.{d}.cv4.1.1.conv", f"model.{d}.cv2.0.2",
                            f"model.{d}.one2one_cv4.2.2", f"model.{d}.cv3.0.0.conv")
                if any(fnmatch.fnmatchcase(n, p) for p, _ in patterns)]
        assert kept == [f"model.{d}.cv4.0.0.conv", f"model.{d}.cv4.1.1.conv", f"model.{d}.cv2.0.2",
                        f"model.{d}.one2one_cv4.2.2"], name
