"""Classification: torchvision's eval transforms in (from the sidecar's "preprocess"); the top-5 classes out."""
from . import images as im
from .base import Task, main_output
from .names import IMAGENET, label

TOP = 5


class Classify(Task):
    name = "classify"
    columns = ("top1_agreement",)
    draws = False
    outputs_are = f"top-{TOP} classes"
    standard_names = IMAGENET

    def preprocess(self, meta, image, size):
        return im.classify_preprocess(image, size, meta["preprocess"]), None

    def show(self, meta, outputs, i, path, image, state, names, draw, limit=None):
        classes, probs = im.topk(im.softmax(outputs[main_output(meta)][i]), TOP)
        print(f"{path}: top-{len(classes)}")
        for cls, p in zip(classes, probs):
            print(f"  {p:.4f}  {int(cls):>5d}" + (f"  {label(cls, names)}" if names else ""))
        return None

    def agreement(self, meta, outs, truth_outs, raw, truth_raw):
        from ..analysis import metrics
        key = main_output(meta)
        return {"top1_agreement": metrics.top1_agreement(raw[key], truth_raw[key])}


TASK = Classify()
