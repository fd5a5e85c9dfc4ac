"""Agreement metrics between two runs of a network (numpy only): output errors, top-1 agreement, detection mAP50
with one run's detections as ground truth, segmentation pixel agreement and mIoU. Used by tools/accuracy.py."""
import numpy as np


def errors(a, b):
    """max |a - b|, that over max |b| (relative), and the cosine similarity of a and b (float64)."""
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    diff = float(np.abs(a - b).max()) if a.size else 0.0
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    return {"max_abs": diff, "rel": diff / max(float(np.abs(b).max()), 1e-12) if b.size else 0.0,
            "cosine": float(a @ b / norm) if norm > 0 else 1.0}


def top1_agreement(logits, truth_logits):
    """Share of rows whose argmax equals the truth's argmax."""
    a = np.asarray(logits).reshape(len(logits), -1).argmax(1)
    b = np.asarray(truth_logits).reshape(len(truth_logits), -1).argmax(1)
    return float((a == b).mean())


def box_iou(box, boxes):
    """IoU of one x1y1x2y2 box with each of `boxes` (n, 4)."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    x1 = np.maximum(box[0], boxes[:, 0])
    y1 = np.maximum(box[1], boxes[:, 1])
    x2 = np.minimum(box[2], boxes[:, 2])
    y2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-12)


def average_precision(recall, precision):
    """All-point interpolated AP (PASCAL VOC 2010+, COCO's per-threshold AP without the 101-point sampling): the
    area under the precision envelope (precision made monotonically decreasing from the right)."""
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.concatenate([[0.0], precision, [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    i = np.nonzero(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))


def map50(detections, truths, iou_threshold=0.5):
    """mAP at IoU 0.5 of `detections` against `truths`, both lists (one entry per image) of (boxes (n, 4)
    x1y1x2y2, scores (n,), classes (n,)); truth scores are ignored. Each detection, by decreasing score, matches
    the unmatched truth of its class with the highest IoU >= the threshold. The mean is over classes that have
    truths; None when there are no truths at all."""
    classes = sorted({int(c) for _, _, cs in truths for c in cs})
    if not classes:
        return None
    aps = []
    for c in classes:
        preds, n_truth = [], 0
        gt = []
        for i, ((boxes, scores, cls), (tboxes, _, tcls)) in enumerate(zip(detections, truths)):
            sel = np.asarray(tcls) == c
            gt.append(np.asarray(tboxes, np.float64).reshape(-1, 4)[sel])
            n_truth += int(sel.sum())
            for b, s, k in zip(np.asarray(boxes).reshape(-1, 4), scores, cls):
                if int(k) == c:
                    preds.append((float(s), i, np.asarray(b, np.float64)))
        preds.sort(key=lambda p: -p[0])
        used = [np.zeros(len(g), bool) for g in gt]
        tp = np.zeros(len(preds))
        for j, (_, i, b) in enumerate(preds):
            if len(gt[i]):
                iou = box_iou(b, gt[i])
                iou[used[i]] = -1
                k = int(np.argmax(iou))
                if iou[k] >= iou_threshold:
                    used[i][k] = True
                    tp[j] = 1
        if not len(preds):
            aps.append(0.0)
            continue
        ctp = np.cumsum(tp)
        recall = ctp / n_truth
        precision = ctp / np.arange(1, len(preds) + 1)
        aps.append(average_precision(recall, precision))
    return float(np.mean(aps))


def segmentation_agreement(labels, truth_labels, num_classes):
    """(pixel agreement, mIoU over classes present in either) of two label maps."""
    a, b = np.asarray(labels).ravel(), np.asarray(truth_labels).ravel()
    ious = []
    for c in range(num_classes):
        union = np.sum((a == c) | (b == c))
        if union:
            ious.append(np.sum((a == c) & (b == c)) / union)
    return float((a == b).mean()), float(np.mean(ious)) if ious else 1.0
