"""Host side of the -pose and -obb engines: drawing keypoints (the COCO skeleton for 17-keypoint models, plain points
otherwise) and rotated boxes with PIL, DOTA v1's class names, and the agreement metrics tools/compare and
tools/accuracy use against the fp32 engine: OKS for keypoints, rotated-IoU mAP50 for oriented boxes.

numpy and PIL only (no torch): this runs beside TensorRT on a Jetson.
"""
import math

import numpy as np

# DOTA v1.0's 15 categories in the order of ultralytics' DOTAv1.yaml: names of an OBB model whose weights carry none
DOTA_V1_NAMES = ("plane", "ship", "storage tank", "baseball diamond", "tennis court", "basketball court",
                 "ground track field", "harbor", "bridge", "large vehicle", "small vehicle", "helicopter",
                 "roundabout", "soccer ball field", "swimming pool")

# COCO person keypoints: limbs as pairs of 0-based keypoint indices (the dataset's 1-based skeleton, minus one)
COCO_SKELETON = ((15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7), (6, 8),
                 (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6))
# COCO's per-keypoint OKS constants (sigma), nose .. right ankle
COCO_SIGMAS = np.array([.26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07, .87, .87, .89, .89]) / 10


def _colour(i):
    """A stable, distinct colour per class index (golden-ratio hues)."""
    import colorsys
    r, g, b = colorsys.hsv_to_rgb((i * 0.618034) % 1.0, 0.8, 0.95)
    return int(r * 255), int(g * 255), int(b * 255)


# ---------------------------------------------------------------- geometry
def regularize_rboxes(boxes):
    """xywhr with the angle brought into [0, π/2), swapping w and h where that turns the box by a quarter (the form
    ultralytics' OBB results report). boxes (..., 5)."""
    boxes = np.asarray(boxes, dtype=np.float64)
    x, y, w, h, t = np.moveaxis(boxes, -1, 0)
    swap = np.mod(t, math.pi) >= math.pi / 2
    return np.stack([x, y, np.where(swap, h, w), np.where(swap, w, h), np.mod(t, math.pi / 2)], -1)


def rbox_corners(boxes):
    """The 4 corners (..., 4, 2) of xywhr boxes (..., 5), in order around the box."""
    boxes = np.asarray(boxes, dtype=np.float64)
    c, w, h, t = boxes[..., :2], boxes[..., 2:3], boxes[..., 3:4], boxes[..., 4:5]
    u = np.concatenate([np.cos(t), np.sin(t)], -1) * w / 2   # half the w side, along the angle
    v = np.concatenate([-np.sin(t), np.cos(t)], -1) * h / 2  # half the h side, perpendicular
    return np.stack([c + u + v, c + u - v, c - u - v, c - u + v], -2)


def _clip(subject, edge_a, edge_b):
    """Sutherland–Hodgman: the part of convex polygon `subject` on the left of the directed edge a → b."""
    def side(p):
        return (edge_b[0] - edge_a[0]) * (p[1] - edge_a[1]) - (edge_b[1] - edge_a[1]) * (p[0] - edge_a[0])

    out = []
    for i, p in enumerate(subject):
        q = subject[(i + 1) % len(subject)]
        sp, sq = side(p), side(q)
        if sp >= 0:
            out.append(p)
        if (sp >= 0) != (sq >= 0):
            f = sp / (sp - sq)
            out.append(p + f * (q - p))
    return out


def _area(poly):
    if len(poly) < 3:
        return 0.0
    p = np.asarray(poly)
    return 0.5 * abs(float(np.dot(p[:, 0], np.roll(p[:, 1], -1)) - np.dot(p[:, 1], np.roll(p[:, 0], -1))))


def _ccw(corners):
    """Corners counter-clockwise (positive signed area), which _clip's "left of the edge" needs."""
    p = corners
    signed = np.dot(p[:, 0], np.roll(p[:, 1], -1)) - np.dot(p[:, 1], np.roll(p[:, 0], -1))
    return p if signed >= 0 else p[::-1]


def rotated_iou(a, b):
    """Exact IoU (polygon intersection area over union) between every xywhr box of a (N, 5) and b (M, 5): (N, M)."""
    a, b = np.asarray(a, np.float64).reshape(-1, 5), np.asarray(b, np.float64).reshape(-1, 5)
    ca, cb = rbox_corners(a), rbox_corners(b)
    area_a, area_b = a[:, 2] * a[:, 3], b[:, 2] * b[:, 3]
    out = np.zeros((len(a), len(b)))
    for i in range(len(a)):
        pa = _ccw(ca[i])
        for j in range(len(b)):
            # boxes whose circumscribed circles are apart cannot meet
            if np.hypot(*(a[i, :2] - b[j, :2])) > (np.hypot(a[i, 2], a[i, 3]) + np.hypot(b[j, 2], b[j, 3])) / 2:
                continue
            poly = list(pa)
            pb = _ccw(cb[j])
            for k in range(4):
                poly = _clip(poly, pb[k], pb[(k + 1) % 4])
                if not poly:
                    break
            inter = _area(poly)
            union = area_a[i] + area_b[j] - inter
            out[i, j] = inter / union if union > 0 else 0.0
    return out


# ---------------------------------------------------------------- metrics against the fp32 engine
def oks(truth, pred, area, sigmas=None, eps=1e-7):
    """Object keypoint similarity (COCO's, as ultralytics' kpt_iou): truth (N, K, 3) and pred (M, K, 2 or 3)
    keypoints, `area` (N,) the truth objects' scale (ultralytics: box w·h·0.53); keypoints whose truth visibility is
    0 do not count. sigmas: COCO's for K = 17, 1/K each otherwise. (N, M)."""
    truth, pred = np.asarray(truth, np.float64), np.asarray(pred, np.float64)
    k = truth.shape[1]
    if sigmas is None:
        sigmas = COCO_SIGMAS if k == 17 else np.full(k, 1.0 / k)
    d = ((truth[:, None, :, 0] - pred[None, :, :, 0]) ** 2 + (truth[:, None, :, 1] - pred[None, :, :, 1]) ** 2)
    e = d / ((2 * np.asarray(sigmas)) ** 2 * (np.asarray(area, np.float64)[:, None, None] + eps) * 2)
    mask = truth[..., 2] != 0 if truth.shape[2] > 2 else np.ones(truth.shape[:2], bool)
    return (np.exp(-e) * mask[:, None]).sum(-1) / (mask.sum(-1)[:, None] + eps)


def keypoint_agreement(truth_kpts, truth_boxes, pred_kpts, visible=0.5):
    """Mean OKS of the fp32 engine's detections (truth) against an engine's (pred), each truth matched greedily to
    its best unused prediction; an unmatched truth counts 0. Keypoints (n, K, 3) with visibility scores: those of
    the truth below `visible` do not count. truth_boxes (n, 4) x1y1x2y2 give the scale. 1.0 when both are empty."""
    truth_kpts, pred_kpts = np.asarray(truth_kpts, np.float64), np.asarray(pred_kpts, np.float64)
    if len(truth_kpts) == 0:
        return 1.0 if len(pred_kpts) == 0 else 0.0
    t = truth_kpts.copy()
    if t.shape[2] > 2:
        t[..., 2] = t[..., 2] >= visible
    boxes = np.asarray(truth_boxes, np.float64)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) * 0.53
    sim = oks(t, pred_kpts, area) if len(pred_kpts) else np.zeros((len(t), 0))
    total, used = 0.0, set()
    for i in np.argsort(-sim.max(1) if sim.shape[1] else np.zeros(len(t)), kind="stable"):
        candidates = [(sim[i, j], j) for j in range(sim.shape[1]) if j not in used]
        if candidates:
            best, j = max(candidates)
            used.add(j)
            total += best
    return total / len(t)


def _ap(recall, precision):
    """COCO's 101-point AP: at each recall threshold 0, 0.01, .. 1 the best precision reached at that recall or
    beyond (0 when never reached), averaged."""
    recall, precision = np.asarray(recall), np.asarray(precision)
    return float(np.mean([precision[recall >= t].max(initial=0.0) for t in np.linspace(0, 1, 101)]))


def rotated_map50(truth, pred, iou=0.5):
    """mAP at rotated IoU >= `iou` of an engine's OBB detections against the fp32 engine's, per image lists:
    truth[i] = (boxes (n, 5) xywhr, classes (n,)), pred[i] = (boxes (m, 5), scores (m,), classes (m,)). Per class:
    predictions by decreasing score, each matched to the unmatched truth of its class with the highest IoU >= iou;
    AP with COCO's 101-point interpolation; the mean over classes that have truth. 1.0 when nothing has truth and
    nothing was predicted."""
    classes = sorted({int(c) for _, cls in truth for c in np.asarray(cls).reshape(-1)})
    if not classes:
        return 1.0 if all(len(np.asarray(s).reshape(-1)) == 0 for _, s, _ in pred) else 0.0
    aps = []
    for c in classes:
        records, n_truth = [], 0
        for (tb, tc), (pb, ps, pc) in zip(truth, pred):
            tb = np.asarray(tb, np.float64).reshape(-1, 5)[np.asarray(tc).reshape(-1) == c]
            keep = np.asarray(pc).reshape(-1) == c
            pb, ps = np.asarray(pb, np.float64).reshape(-1, 5)[keep], np.asarray(ps, np.float64).reshape(-1)[keep]
            n_truth += len(tb)
            ious = rotated_iou(pb, tb) if len(pb) and len(tb) else np.zeros((len(pb), len(tb)))
            taken = np.zeros(len(tb), bool)
            for j in np.argsort(-ps, kind="stable"):
                free = np.where(taken, -1.0, ious[j]) if len(tb) else np.zeros(0)
                hit = len(tb) > 0 and free.max() >= iou
                if hit:
                    taken[int(free.argmax())] = True
                records.append((ps[j], hit))
        if not records:
            aps.append(0.0)
            continue
        records.sort(key=lambda r: -r[0])
        tp = np.cumsum([r[1] for r in records])
        fp = np.cumsum([not r[1] for r in records])
        aps.append(_ap(tp / max(n_truth, 1), tp / np.maximum(tp + fp, 1)))
    return float(np.mean(aps))


# ---------------------------------------------------------------- drawing
def draw_rotated_boxes(image, boxes, classes, scores=None, names=None, width=2):
    """Draw xywhr boxes (n, 5) on a PIL image, in place, one colour per class, with "name score" labels."""
    from PIL import ImageDraw
    draw = ImageDraw.Draw(image)
    boxes = np.asarray(boxes, np.float64).reshape(-1, 5)
    for i, box in enumerate(boxes):
        c = int(np.asarray(classes).reshape(-1)[i])
        colour = _colour(c)
        corners = [tuple(p) for p in rbox_corners(box)]
        draw.line(corners + corners[:1], fill=colour, width=width)
        label = names[c] if names is not None and 0 <= c < len(names) else str(c)
        if scores is not None:
            label += f" {float(np.asarray(scores).reshape(-1)[i]):.2f}"
        top = min(corners, key=lambda p: p[1])
        draw.text((top[0], top[1] - 12), label, fill=colour)
    return image


def draw_keypoints(image, keypoints, visible=0.5, radius=3, width=2):
    """Draw keypoints (n, K, 2 or 3) on a PIL image, in place: for K = 17 the COCO skeleton's limbs and joints,
    for any other K plain points. With a visibility column, keypoints scored below `visible` are left out."""
    from PIL import ImageDraw
    draw = ImageDraw.Draw(image)
    keypoints = np.asarray(keypoints, np.float64)
    if keypoints.size == 0:
        return image
    k = keypoints.shape[1]
    for person in keypoints:
        shown = person[:, 2] >= visible if person.shape[1] > 2 else np.ones(k, bool)
        if k == 17:
            for n, (a, b) in enumerate(COCO_SKELETON):
                if shown[a] and shown[b]:
                    draw.line([tuple(person[a, :2]), tuple(person[b, :2])], fill=_colour(n), width=width)
        for j in range(k):
            if shown[j]:
                x, y = person[j, :2]
                draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=_colour(j + 3))
    return image


# ---------------------------------------------------------------- per-image results, for the pose / obb tasks
def obb_detections(outputs, i):
    """(boxes (n, 5) xywhr regularized to [0, π/2), scores, classes) of image `i` of the rotated NMS outputs."""
    n = int(outputs["num_dets"][i, 0])
    return regularize_rboxes(outputs["boxes"][i, :n]), outputs["scores"][i, :n], outputs["classes"][i, :n]


def pose_detections(outputs, i):
    """(boxes (n, 4) x1y1x2y2, scores, classes, keypoints (n, K, ndim)) of image `i` of the pose NMS outputs."""
    n = int(outputs["num_dets"][i, 0])
    return outputs["boxes"][i, :n], outputs["scores"][i, :n], outputs["classes"][i, :n], outputs["keypoints"][i, :n]


def scale_rboxes(boxes, ratio, pad):
    """xywhr boxes in letterboxed input pixels → original image pixels (centre and sides; the angle is unchanged).
    Not clipped: a rotated box's corners may lie outside the image."""
    boxes = np.array(boxes, dtype=np.float64).reshape(-1, 5)
    boxes[:, 0] = (boxes[:, 0] - pad[0]) / ratio
    boxes[:, 1] = (boxes[:, 1] - pad[1]) / ratio
    boxes[:, 2:4] /= ratio
    return boxes


def scale_keypoints(keypoints, ratio, pad, shape):
    """Keypoints (n, K, ndim) in letterboxed input pixels → original image pixels, x and y clipped to the image
    (h, w, ...) `shape`; the visibility column is kept."""
    k = np.array(keypoints, dtype=np.float64)
    k[..., 0] = ((k[..., 0] - pad[0]) / ratio).clip(0, shape[1])
    k[..., 1] = ((k[..., 1] - pad[1]) / ratio).clip(0, shape[0])
    return k


def obb_agreement(dets, truths):
    """tools/compare's agreement of OBB engines: rotated-IoU mAP50 of `dets` against the fp32 engine's `truths`,
    both per-image lists of (boxes xywhr, scores, classes) as obb_detections gives them."""
    return {"map50": rotated_map50([(b, c) for b, _, c in truths], dets),
            "detections": int(sum(len(d[0]) for d in dets)), "truth_detections": int(sum(len(t[0]) for t in truths))}


def pose_agreement(dets, truths):
    """tools/compare's agreement of pose engines: mean keypoint agreement (OKS) per image against the fp32 engine,
    per-image lists of pose_detections tuples."""
    scores = [keypoint_agreement(t[3], t[0], d[3]) for d, t in zip(dets, truths)]
    return {"oks": float(np.mean(scores)) if scores else 1.0, "detections": int(sum(len(d[0]) for d in dets)),
            "truth_detections": int(sum(len(t[0]) for t in truths))}
