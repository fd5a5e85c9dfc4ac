"""Semantic segmentation: resize + normalise in; per-pixel argmax of the logits upsampled to the image out."""
from . import images as im
from .base import Task, main_output
from .names import label


class Segment(Task):
    name = "segment"
    columns = ("pixel_agreement", "miou")
    outputs_are = "masks"

    def preprocess(self, meta, image, size):
        return im.segment_preprocess(image, size, meta["preprocess"]), None

    def show(self, meta, outputs, i, path, image, state, names, draw, limit=None):
        mask = im.segment_mask(outputs[main_output(meta)][i], image.shape[:2])
        histogram = im.class_histogram(mask)
        shown = histogram if limit is None else histogram[:limit]
        parts = [f"{label(c, names)} {100.0 * n / mask.size:.1f}%" for c, n in shown]
        more = f", ... and {len(histogram) - len(shown)} more" if len(shown) < len(histogram) else ""
        print(f"{path}: {mask.shape[0]}x{mask.shape[1]} mask, classes: " + ", ".join(parts) + more)
        return im.draw_mask(image, mask) if draw else None

    def agreement(self, meta, outs, truth_outs, raw, truth_raw):
        from ..analysis import metrics
        key = main_output(meta)
        pixel, miou = metrics.segmentation_agreement(raw[key].argmax(1), truth_raw[key].argmax(1),
                                                     meta["num_classes"])
        return {"pixel_agreement": pixel, "miou": miou}


TASK = Segment()
