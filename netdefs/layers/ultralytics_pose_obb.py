"""What ultralytics' Pose and OBB heads add on top of Detect (ultralytics 8.4.x, nn/modules/head.py), and the
rotated NMS of its `non_max_suppression(..., rotated=True)` (utils/nms.py), over the op layer only.

Layouts follow ultralytics' own tensors, so that each piece compares with a forward hook or with the module's
`_inference`: branch outputs and decoded predictions are channels-first over anchors, (B, C, N); NMS takes rows,
(B, N, C), as TensorRT's INMSLayer does. `anchors` (2, N) and `strides` (1, N) are what Detect's `make_anchors`
gives (cell centres in grid units, and each anchor's stride): the Detect family owns them and passes them in.

Rotated NMS is built from native layers, not a plugin, because ultralytics' rule is Fast-NMS (TorchNMS.fast_nms):
after sorting the candidates by score, a candidate is dropped when *any* higher-scored candidate, kept or not,
overlaps it by more than the threshold (the column max of the upper-triangular IoU matrix). That is one pairwise
matrix and one reduction, with no sequential dependence; greedy NMS (suppression by kept boxes only) would need a
loop or a plugin. Native layers also build on TensorRT 10.3 (JetPack 6), which has no `tensorrt.plugin`.

How the ultralytics family's define uses these (d = the head's index, 22 for v8, 23 for 11 / 26; `levels` the
head's three inputs; `dist` (B, 4, N) the DFL output in grid units; `anchors`, `strides` as above):
- OBB: angle = obb_angle(net, levels, f"model.{d}.cv4", obb_hidden(C of levels[0]), yolo26) (YOLO26's end-to-end
  branch: f"model.{d}.one2one_cv4"); boxes = dist2rbox(net, dist, angle, anchors, strides, ...) in place of
  dist2bbox · stride; pred = concat([boxes, σ(cls), angle], axis 1) is OBBModel's output; head "nms":
  obb_nms_head(net, pred, nc, f"model.{d}.nms", iou, conf, max_det, candidates).
- Pose: raw = pose_keypoints(net, levels, f"model.{d}.cv4", pose_hidden(C, kpt_shape, yolo26), kpt_shape, yolo26,
  kpts_prefix=f"model.{d}.cv4_kpts"); kpts = kpts_decode(net, raw, anchors, strides, kpt_shape, ..., yolo26);
  pred = concat([boxes, σ(cls), kpts], axis 1); after the family's own NMS packing, kept_keypoints(net, kpts,
  index, valid, kpt_shape, ...) with the packing's (B, max_det) anchor indices and validity.
- YOLO26's NMS-free top-k: gather_kept(net, to_rows(angle or kpts), index, valid, ...) at the top-k indices.
- mark_training_only(net, d, one2one) and quant_defaults(d) for the weights and INT8 fallbacks.

No torch here (build path on a Jetson).
"""
import math

import numpy as np

from .ops import (activation, arange, cast, concat, constant, conv2d, elementwise, gather, gather_nd, reduce,
                  select, shape, shape_of, shuffle, slice_axis, topk, unary)
from .yolo import Conv

MAX_WH = 7680          # ultralytics' per-class coordinate offset (non_max_suppression's max_wh)
PROBIOU_EPS = 1e-7     # batch_probiou's eps
MAX_CANDIDATES = 3840  # TensorRT's TopK limit on k: the candidate list of rotated NMS is at most this long

f32, i32 = np.float32, np.int32


# ---------------------------------------------------------------- branches (cv4)
def _levels_flat(net, maps, name):
    """Per-level (B, C, H, W) maps as one (B, C, sum H·W), as the heads' `view(bs, c, -1)` + `cat(..., 2)`."""
    flat = [shuffle(net, m, f"{name}.view{i}", reshape=(0, 0, -1)) for i, m in enumerate(maps)]
    return concat(net, flat, name, axis=2) if len(flat) > 1 else flat[0]


def cv4_branch(net, levels, prefix, c_hidden, c_out, final="conv"):
    """The cv4 branch on each level: Conv 3×3 → Conv 3×3 → 1×1 Conv2d to `c_out` (`{prefix}.{i}.0/.1/.2`), flattened
    over anchors to (B, c_out, N). `final` "conv": the 1×1 is `{prefix}.{i}.2` (Pose, OBB, OBB26); a string prefix
    instead (Pose26: "model.23.cv4_kpts") puts it at `{final}.{i}` after the two Convs."""
    outs = []
    for i, x in enumerate(levels):
        p = f"{prefix}.{i}"
        y = Conv(net, x, f"{p}.0", c_hidden, 3)
        y = Conv(net, y, f"{p}.1", c_hidden, 3)
        outs.append(conv2d(net, y, f"{p}.2" if final == "conv" else f"{final}.{i}", c_out, 1, bias=True))
    return _levels_flat(net, outs, f"{prefix}.cat")


def obb_hidden(c_first, ne=1):
    """OBB's cv4 width: max(ch[0] // 4, ne)."""
    return max(c_first // 4, ne)


def pose_hidden(c_first, kpt_shape, yolo26=False):
    """Pose's cv4 width: max(ch[0] // 4, nk); Pose26 also leaves room for the σ branch (nkpt · (ndim + 2))."""
    nkpt, ndim = kpt_shape
    return max(c_first // 4, nkpt * (ndim + 2) if yolo26 else nkpt * ndim)


def obb_angle(net, levels, prefix, c_hidden, yolo26=False, ne=1):
    """OBB angle branch and its decode, (B, ne, N) radians: (σ(logit) − 0.25)·π, in [−π/4, 3π/4) (OBB); raw logits
    (OBB26, YOLO26 trains the angle unsquashed). `prefix` is the branch, e.g. "model.22.cv4" or, for an end-to-end
    YOLO26 head, "model.23.one2one_cv4"."""
    logits = cv4_branch(net, levels, prefix, c_hidden, ne)
    if yolo26:
        return logits
    s = activation(net, logits, f"{prefix}.sigmoid", "sigmoid")
    s = elementwise(net, s, constant(net, np.full((1, 1, 1), 0.25), f"{prefix}.quarter"), f"{prefix}.shift", "sub")
    return elementwise(net, s, constant(net, np.full((1, 1, 1), math.pi), f"{prefix}.pi"), f"{prefix}.angle",
                       "prod")


def dist2rbox(net, dist, angle, anchors, strides, name):
    """Rotated boxes (B, 4, N) xywh in input pixels from DFL distances `dist` (B, 4, N) ltrb in grid units, `angle`
    (B, 1, N): the centre moves by half of (rb − lt) rotated by the angle, w, h = lt + rb; all × stride (as OBB's
    decode_bboxes followed by Detect's `* strides`)."""
    lt = slice_axis(net, dist, f"{name}.lt", 1, 0, 2)
    rb = slice_axis(net, dist, f"{name}.rb", 1, 2, 2)
    cos = unary(net, angle, f"{name}.cos", "cos")
    sin = unary(net, angle, f"{name}.sin", "sin")
    half = elementwise(net, elementwise(net, rb, lt, f"{name}.rb_lt", "sub"),
                       constant(net, np.full((1, 1, 1), 2.0), f"{name}.two"), f"{name}.half", "div")
    xf = slice_axis(net, half, f"{name}.xf", 1, 0, 1)
    yf = slice_axis(net, half, f"{name}.yf", 1, 1, 1)
    x = elementwise(net, elementwise(net, xf, cos, f"{name}.xf_cos", "prod"),
                    elementwise(net, yf, sin, f"{name}.yf_sin", "prod"), f"{name}.x", "sub")
    y = elementwise(net, elementwise(net, xf, sin, f"{name}.xf_sin", "prod"),
                    elementwise(net, yf, cos, f"{name}.yf_cos", "prod"), f"{name}.y", "sum")
    anchors = shuffle(net, anchors, f"{name}.anchors", reshape=(1, 2, -1))
    xy = elementwise(net, concat(net, [x, y], f"{name}.xy0", axis=1), anchors, f"{name}.xy", "sum")
    wh = elementwise(net, lt, rb, f"{name}.wh", "sum")
    strides = shuffle(net, strides, f"{name}.strides", reshape=(1, 1, -1))
    return elementwise(net, concat(net, [xy, wh], f"{name}.xywh", axis=1), strides, name, "prod")


def pose_keypoints(net, levels, prefix, c_hidden, kpt_shape, yolo26=False, kpts_prefix=None):
    """Pose keypoint branch, raw (B, nkpt·ndim, N): cv4 (three layers), or for Pose26 cv4's two Convs and the 1×1
    `kpts_prefix` (e.g. "model.23.cv4_kpts", or "model.23.one2one_cv4_kpts" for the end-to-end head)."""
    nk = kpt_shape[0] * kpt_shape[1]
    return cv4_branch(net, levels, prefix, c_hidden, nk, final=kpts_prefix if yolo26 else "conv")


def kpts_decode(net, kpts, anchors, strides, kpt_shape, name, yolo26=False):
    """Pose.kpts_decode: x, y = (2·raw + anchor − 0.5)·stride (Pose26: (raw + anchor)·stride), visibility σ(raw)
    for ndim 3; (B, nkpt·ndim, N) interleaved x, y[, v] as ultralytics returns it."""
    nkpt, ndim = kpt_shape
    y = shuffle(net, kpts, f"{name}.view", reshape=(0, nkpt, ndim, -1))
    xy = slice_axis(net, y, f"{name}.xy_raw", 2, 0, 2)
    grid = shuffle(net, anchors, f"{name}.anchors", reshape=(1, 1, 2, -1))
    if not yolo26:
        xy = elementwise(net, xy, constant(net, np.full((1, 1, 1, 1), 2.0), f"{name}.two"), f"{name}.xy2", "prod")
        grid = elementwise(net, grid, constant(net, np.full((1, 1, 1, 1), 0.5), f"{name}.half"), f"{name}.grid",
                           "sub")
    xy = elementwise(net, xy, grid, f"{name}.xy_grid", "sum")
    xy = elementwise(net, xy, shuffle(net, strides, f"{name}.strides", reshape=(1, 1, 1, -1)), f"{name}.xy", "prod")
    parts = [xy]
    if ndim == 3:
        parts.append(activation(net, slice_axis(net, y, f"{name}.vis_raw", 2, 2, 1), f"{name}.vis", "sigmoid"))
    out = concat(net, parts, f"{name}.cat", axis=2) if len(parts) > 1 else xy
    return shuffle(net, out, name, reshape=(0, nkpt * ndim, -1))


def mark_training_only(net, head_index, one2one=None):
    """Mark as used, on purpose, the Pose / OBB weights inference does not read, so that strict weight loading does
    not report them: Pose26's keypoint σ branch and RealNVP flow (its loss's), and, for a YOLO26 head with both
    branches, the cv4 / cv4_kpts of the one not built (one2one True: the one-to-one branch was built). The family
    marks its own Detect branches (cv2, cv3) likewise."""
    d = f"model.{head_index}"
    prefixes = [f"{d}.cv4_sigma.", f"{d}.one2one_cv4_sigma.", f"{d}.flow_model."]
    if one2one is not None:
        other = "" if one2one else "one2one_"
        prefixes += [f"{d}.{other}cv4.", f"{d}.{other}cv4_kpts."]
    net.weights.mark_used(*(n for p in prefixes for n in net.weights.names(p)))


def quant_defaults(head_index):
    """INT8 fallbacks for the Pose / OBB branches of head `model.{head_index}`: the whole cv4 branch (and Pose26's
    cv4_kpts, and their one-to-one copies) stays out of INT8, as the detection convolutions do: they are small, and
    their outputs are keypoint offsets and angles themselves (an angle error turns a long thin box)."""
    d = f"model.{head_index}"
    return [(f"{d}.{branch}.*", "fp16") for branch in ("cv4", "cv4_kpts", "one2one_cv4", "one2one_cv4_kpts")]


# ---------------------------------------------------------------- gathering with kept detections
def to_rows(net, x, name):
    """(B, C, N) channels-first over anchors → (B, N, C) rows, what NMS and `gather_kept` take."""
    return shuffle(net, x, name, first=(0, 2, 1))


def batch_index(net, index, name):
    """(B, K, 2) rows (image, index) for gather_nd from per-image indices (B, K) int32 (batch dynamic or not)."""
    n_images = slice_axis(net, shape(net, index, f"{name}.shape"), f"{name}.n", 0, 0, 1)
    image = shuffle(net, arange(net, n_images, f"{name}.images"), f"{name}.images.col", reshape=(-1, 1))
    zero = elementwise(net, index, constant(net, np.zeros((1, 1)), f"{name}.zero", i32), f"{name}.zeros", "prod")
    image = elementwise(net, zero, image, f"{name}.image", "sum")  # (B, K): each row its image number
    pair = [shuffle(net, t, f"{name}.{n}", reshape=(0, 0, 1)) for t, n in ((image, "b"), (index, "i"))]
    return concat(net, pair, name, axis=2)


def gather_kept(net, rows, index, valid, name, fill=0.0):
    """rows (B, N, C) at the kept detections' anchor indices `index` (B, max_det) int32, `fill` where `valid`
    (B, max_det) bool is false: keypoints, angles or any per-anchor extra, aligned with the packed NMS outputs."""
    picked = gather_nd(net, rows, batch_index(net, index, f"{name}.index"), f"{name}.gather")
    valid3 = shuffle(net, valid, f"{name}.valid", reshape=(0, 0, 1))
    fill_c = constant(net, np.full((1, 1, 1), fill), f"{name}.fill", _np_type(net, rows))
    return select(net, valid3, picked, fill_c, name)


def kept_keypoints(net, kpts, index, valid, kpt_shape, name):
    """Decoded keypoints (B, nkpt·ndim, N) of the kept detections: (B, max_det, nkpt, ndim), zeros in empty slots
    (`index` (B, max_det) anchor indices and `valid` (B, max_det) from the NMS packing)."""
    picked = gather_kept(net, to_rows(net, kpts, f"{name}.rows"), index, valid, f"{name}.kept")
    return shuffle(net, picked, name, reshape=(0, 0) + tuple(kpt_shape))


def _int32(net, x, name):
    """TopK's indices as int32 (INT64 where a TensorRT version makes that the default)."""
    return x if x.dtype == net.trt.DataType.INT32 else cast(net, x, name, "int32")


def _np_type(net, x):
    return {net.trt.DataType.FLOAT: f32, net.trt.DataType.HALF: np.float16, net.trt.DataType.INT32: i32}[x.dtype]


# ---------------------------------------------------------------- rotated NMS
def probiou_matrix(net, rows, cols, name, eps=PROBIOU_EPS):
    """batch_probiou between every box of `rows` (B, K, 1, 5) and of `cols` (B, 1, K, 5), xywhr, float32: (B, K, K).
    The operations and their order are ultralytics' (Gaussian covariance from w²/12, h²/12 and the angle;
    Bhattacharyya distance clamped to [eps, 100]; 1 − Hellinger distance), so that decisions at the threshold
    agree bit for bit where float32 allows."""
    def const(v, n):
        return constant(net, np.full((1, 1, 1, 1), v), f"{name}.{n}", f32)

    def op(a, b, n, kind):
        return elementwise(net, a, b, f"{name}.{n}", kind)

    def sq(a, n):
        return op(a, a, n, "prod")  # torch's pow(2) is x·x

    def cov(box, side):
        p = f"{name}.{side}"
        w, h, r = (slice_axis(net, box, f"{p}.{c}", 3, i, 1) for c, i in (("w", 2), ("h", 3), ("r", 4)))
        a = op(sq(w, f"{side}.w2"), const(12.0, f"{side}.twelve"), f"{side}.a0", "div")
        b = op(sq(h, f"{side}.h2"), const(12.0, f"{side}.twelve_h"), f"{side}.b0", "div")
        cos, sin = unary(net, r, f"{p}.cos", "cos"), unary(net, r, f"{p}.sin", "sin")
        cos2, sin2 = sq(cos, f"{side}.cos2"), sq(sin, f"{side}.sin2")
        aa = op(op(a, cos2, f"{side}.a_cos2", "prod"), op(b, sin2, f"{side}.b_sin2", "prod"), f"{side}.a", "sum")
        bb = op(op(a, sin2, f"{side}.a_sin2", "prod"), op(b, cos2, f"{side}.b_cos2", "prod"), f"{side}.b", "sum")
        cc = op(op(op(a, b, f"{side}.a_b", "sub"), cos, f"{side}.amb_cos", "prod"), sin, f"{side}.c", "prod")
        x = slice_axis(net, box, f"{p}.x", 3, 0, 1)
        y = slice_axis(net, box, f"{p}.y", 3, 1, 1)
        return x, y, aa, bb, cc

    x1, y1, a1, b1, c1 = cov(rows, "1")
    x2, y2, a2, b2, c2 = cov(cols, "2")
    A, B, C = op(a1, a2, "A", "sum"), op(b1, b2, "B", "sum"), op(c1, c2, "C", "sum")  # (B, K, K, 1)
    dy, dx = op(y1, y2, "dy", "sub"), op(x1, x2, "dx", "sub")
    det = op(op(A, B, "AB", "prod"), sq(C, "C2"), "det", "sub")
    denom = op(det, const(eps, "eps"), "denom", "sum")
    t1 = op(op(op(A, sq(dy, "dy2"), "A_dy2", "prod"), op(B, sq(dx, "dx2"), "B_dx2", "prod"), "t1_num", "sum"),
            denom, "t1_q", "div")
    t1 = op(t1, const(0.25, "quarter"), "t1", "prod")
    t2 = op(op(op(C, op(x2, x1, "dx21", "sub"), "C_dx", "prod"), dy, "t2_num", "prod"), denom, "t2_q", "div")
    t2 = op(t2, const(0.5, "half"), "t2", "prod")
    zero = const(0.0, "zero")
    d1 = op(op(op(a1, b1, "a1b1", "prod"), sq(c1, "c1_2"), "det1", "sub"), zero, "det1_pos", "max")
    d2 = op(op(op(a2, b2, "a2b2", "prod"), sq(c2, "c2_2"), "det2", "sub"), zero, "det2_pos", "max")
    root = op(const(4.0, "four"), unary(net, op(d1, d2, "det12", "prod"), f"{name}.sqrt_det12", "sqrt"), "root4",
              "prod")
    t3 = op(op(det, op(root, const(eps, "eps3"), "root_eps", "sum"), "t3_q", "div"), const(eps, "eps4"), "t3_arg",
            "sum")
    t3 = op(unary(net, t3, f"{name}.t3_log", "log"), const(0.5, "half3"), "t3", "prod")
    bd = op(op(op(t1, t2, "t12", "sum"), t3, "bd0", "sum"), const(eps, "eps5"), "bd_lo", "max")
    bd = op(bd, const(100.0, "hundred"), "bd", "min")
    e = unary(net, unary(net, bd, f"{name}.neg_bd", "neg"), f"{name}.exp", "exp")
    hd = unary(net, op(op(const(1.0, "one"), e, "one_e", "sub"), const(eps, "eps6"), "hd2", "sum"), f"{name}.hd",
               "sqrt")
    iou = op(const(1.0, "one2"), hd, "iou4", "sub")
    return shuffle(net, iou, name, reshape=(0, 0, -1))


def rotated_nms(net, boxes_xywhr, scores, name, iou_threshold, score_threshold, max_det, candidates=1024,
                agnostic=False, max_wh=MAX_WH):
    """ultralytics `non_max_suppression(pred, score_threshold, iou_threshold, nc=nc, max_det=max_det,
    rotated=True, agnostic=agnostic)` on boxes (B, N, 5) xywhr and class scores (B, N, nc), per image, packed:

    returns a dict of tensors: "num_dets" (B, 1) int32, "boxes" (B, max_det, 5) xywhr (the angle as predicted, not
    regularized), "scores" (B, max_det), "classes" (B, max_det) int32 (-1 in empty slots), and, for gathering
    per-anchor extras with `gather_kept`, "index" (B, max_det) int32 anchor indices and "valid" (B, max_det) bool.
    Detections are in decreasing score order, ties in anchor order (ultralytics' own order among exactly equal
    scores is that of torch's unstable argsort).

    The rule: each anchor's best class (its first, on equal scores) and score; candidates score > score_threshold;
    boxes offset by class · max_wh in x and y unless agnostic; a candidate is kept unless a candidate ranked before
    it has probiou > iou_threshold with it; the first max_det kept. `candidates` bounds the list (TensorRT's TopK
    k <= 3840; the IoU matrix is candidates² per image). A candidate's fate depends only on those ranked before it,
    so cutting the list never changes a decision on the ones it keeps: results equal ultralytics' when an image has
    at most `candidates` boxes above score_threshold, or when the first `candidates` leave max_det kept; otherwise
    some low-scored detections are missing (ultralytics' own bound is 30000). With a dynamic anchor count N,
    `candidates` must not exceed the smallest N."""
    n = shape_of(scores)[1]
    k = min(int(candidates), n) if n > 0 else int(candidates)
    if not 1 <= k <= MAX_CANDIDATES:
        raise ValueError(f"{name}: candidates must be in [1, {MAX_CANDIDATES}], got {k}")
    if boxes_xywhr.dtype != net.trt.DataType.FLOAT:
        boxes_xywhr = cast(net, boxes_xywhr, f"{name}.boxes_float", "float32")
    if scores.dtype != net.trt.DataType.FLOAT:
        scores = cast(net, scores, f"{name}.scores_float", "float32")
    nc = shape_of(scores)[2]

    def c(v, n, dtype=f32, rank=2):
        return constant(net, np.full((1,) * rank, v), f"{name}.{n}", dtype)

    # best class per anchor: the first class reaching the maximum, as torch's max(1)
    conf = reduce(net, scores, f"{name}.conf", "max", (2,))  # (B, N, 1)
    class_ids = constant(net, np.arange(nc, dtype=f32).reshape(1, 1, nc), f"{name}.class_ids", f32)
    at_max = elementwise(net, scores, conf, f"{name}.at_max", "equal")
    cls = reduce(net, select(net, at_max, class_ids, c(float(nc), "nc", rank=3), f"{name}.max_ids"), f"{name}.cls",
                 "min", (2,))  # (B, N, 1) float
    conf = shuffle(net, conf, f"{name}.conf_row", reshape=(0, -1))
    is_cand = elementwise(net, conf, c(score_threshold, "score_threshold"), f"{name}.is_candidate", "greater")
    cand_score = select(net, is_cand, conf, c(-1.0, "minus_one"), f"{name}.candidate_scores")

    # the top k candidates; their order here does not matter: ranks are recomputed below from (score, anchor)
    top_score, top_index = topk(net, cand_score, f"{name}.topk", k, axis=1)  # (B, K)
    top_index = _int32(net, top_index, f"{name}.topk_index")
    pick = batch_index(net, top_index, f"{name}.pick")
    box = gather_nd(net, boxes_xywhr, pick, f"{name}.cand_boxes")  # (B, K, 5)
    cls_k = gather_nd(net, shuffle(net, cls, f"{name}.cls_row", reshape=(0, -1)), pick, f"{name}.cand_cls")  # (B, K)
    valid = elementwise(net, top_score, c(score_threshold, "score_threshold2"), f"{name}.cand_valid", "greater")

    # class offsets on the centre: boxes of different classes then lie max_wh apart and never suppress each other
    if agnostic:
        nms_box = box
    else:
        offset = elementwise(net, shuffle(net, cls_k, f"{name}.cls_col", reshape=(0, 0, 1)),
                             c(float(max_wh), "max_wh", rank=3), f"{name}.offset", "prod")
        xy = elementwise(net, slice_axis(net, box, f"{name}.xy", 2, 0, 2), offset, f"{name}.xy_off", "sum")
        nms_box = concat(net, [xy, slice_axis(net, box, f"{name}.whr", 2, 2, 3)], f"{name}.nms_boxes", axis=2)
    iou = probiou_matrix(net, shuffle(net, nms_box, f"{name}.rows", reshape=(0, 0, 1, 5)),
                         shuffle(net, nms_box, f"{name}.cols", reshape=(0, 1, -1, 5)), f"{name}.probiou")  # (B, K, K)

    # before[b, j, i]: candidate j ranks before candidate i (higher score, or equal score and lower anchor index)
    s_j = shuffle(net, top_score, f"{name}.s_j", reshape=(0, -1, 1))
    s_i = shuffle(net, top_score, f"{name}.s_i", reshape=(0, 1, -1))
    a_j = shuffle(net, top_index, f"{name}.a_j", reshape=(0, -1, 1))
    a_i = shuffle(net, top_index, f"{name}.a_i", reshape=(0, 1, -1))
    tie_first = elementwise(net, elementwise(net, s_j, s_i, f"{name}.s_eq", "equal"),
                            elementwise(net, a_j, a_i, f"{name}.a_lt", "less"), f"{name}.tie_first", "and")
    before = elementwise(net, elementwise(net, s_j, s_i, f"{name}.s_gt", "greater"), tie_first, f"{name}.before",
                         "or")
    before = elementwise(net, before, shuffle(net, valid, f"{name}.valid_j", reshape=(0, -1, 1)),
                         f"{name}.before_valid", "and")
    overlaps = elementwise(net, iou, c(iou_threshold, "iou_threshold", rank=3), f"{name}.overlaps", "greater")
    suppresses = cast(net, elementwise(net, before, overlaps, f"{name}.suppresses", "and"), f"{name}.supp_f",
                      "float32")
    suppressed = elementwise(net, reduce(net, suppresses, f"{name}.suppressed_by", "max", (1,), keepdims=False),
                             c(0.0, "zero"), f"{name}.suppressed", "greater")  # (B, K)
    kept = elementwise(net, valid, unary(net, suppressed, f"{name}.not_suppressed", "not"), f"{name}.kept", "and")

    # output order = rank among candidates (the count of those before it): unique, so TopK ties cannot reorder
    rank = reduce(net, cast(net, before, f"{name}.before_f", "float32"), f"{name}.rank", "sum", (1,), keepdims=False)
    key = select(net, kept, unary(net, rank, f"{name}.neg_rank", "neg"), c(-float(k + 1), "dropped"), f"{name}.key")
    k2 = min(max_det, k)
    key_top, slot = topk(net, key, f"{name}.order", k2, axis=1)  # (B, k2) positions in the candidate list
    slot = _int32(net, slot, f"{name}.slot")
    if k2 < max_det:  # fewer candidates than max_det: repeat the last slot, masked below
        fill = np.minimum(np.arange(max_det), k2 - 1).astype(i32)
        key_top = gather(net, key_top, fill, f"{name}.key_pad", axis=1)
        slot = gather(net, slot, fill, f"{name}.slot_pad", axis=1)
        real = elementwise(net, constant(net, np.arange(max_det).reshape(1, max_det), f"{name}.slots", i32),
                           c(k2, "k2", i32), f"{name}.real", "less")
    out_valid = elementwise(net, key_top, c(-float(k) - 0.5, "kept_key"), f"{name}.out_valid0", "greater")
    if k2 < max_det:
        out_valid = elementwise(net, out_valid, real, f"{name}.out_valid", "and")
    at = batch_index(net, slot, f"{name}.at")
    anchor = gather_nd(net, top_index, at, f"{name}.anchor")  # (B, max_det)
    zero_i = c(0, "zero_i", i32)
    result = {
        "valid": out_valid,
        "index": select(net, out_valid, anchor, zero_i, f"{name}.index"),
        "boxes": gather_kept(net, box, slot, out_valid, f"{name}.boxes"),
        "scores": select(net, out_valid, gather_nd(net, top_score, at, f"{name}.det_scores"), c(0.0, "zero2"),
                         f"{name}.scores"),
        "classes": select(net, out_valid, cast(net, gather_nd(net, cls_k, at, f"{name}.det_cls"),
                                               f"{name}.det_cls_i", "int32"), c(-1, "minus_one_i", i32),
                          f"{name}.classes"),
    }
    count = reduce(net, cast(net, out_valid, f"{name}.valid_i", "int32"), f"{name}.num_dets", "sum", (1,))
    result["num_dets"] = count
    return result


def obb_nms_head(net, pred, nc, name, iou_threshold, score_threshold, max_det, candidates=1024, agnostic=False):
    """rotated_nms on ultralytics' decoded OBB prediction (B, 4 + nc + 1, N): xywh, class scores, angle; marks the
    outputs num_dets, boxes (B, max_det, 5) xywhr, scores, classes; returns their names."""
    p = f"{name}.pred"
    rows = to_rows(net, pred, f"{p}.rows")
    boxes = concat(net, [slice_axis(net, rows, f"{p}.xywh", 2, 0, 4),
                         slice_axis(net, rows, f"{p}.angle", 2, 4 + nc, 1)], f"{p}.xywhr", axis=2)
    scores = slice_axis(net, rows, f"{p}.cls", 2, 4, nc)
    out = rotated_nms(net, boxes, scores, name, iou_threshold, score_threshold, max_det, candidates, agnostic)
    names = ["num_dets", "boxes", "scores", "classes"]
    for n in names:
        net.output(out[n], n)
    return names
