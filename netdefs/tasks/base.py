"""What a task is: everything the tools do differently for detectors, classifiers and segmenters.

The tools (infer, compare, accuracy) and calibration hold no task switch: they look the engine's task up
(`netdefs.tasks.get(meta["task"])`) and call it. `meta` is the engine's sidecar (or a Definition's info): the task
reads its preprocessing, output names and class count from there, never from a family.
"""
import numpy as np


class Task:
    name = ""
    columns = ()           # agreement() keys shown as columns by tools/accuracy.py
    draws = True           # show(..., draw=True) returns a picture
    outputs_are = ""       # what demo weights make meaningless, for the demo banner ("detections")
    standard_names = None  # the class names assumed when the weights carry none and the class count matches

    def preprocess(self, meta, image, size):
        """RGB uint8 (h, w, 3) -> (float32 (3, H, W) network input for `size` (H, W), state for `show`)."""
        raise NotImplementedError

    def random_input(self, meta, shape, rng):
        """A seeded random input of `shape` in the range the network expects: normalised images by default."""
        return rng.standard_normal(shape, dtype=np.float32)

    def show(self, meta, outputs, i, path, image, state, names, draw, limit=None):
        """Print what item `i` of `outputs` says about `image` (at most `limit` rows where there are many);
        returns the picture to save when `draw`, else None."""
        raise NotImplementedError

    def agreement(self, meta, outs, truth_outs, raw, truth_raw):
        """The task's agreement of per-image outputs `outs` / stacked raw outputs `raw` with the truth's."""
        return {}

    def default_names(self, num_classes):
        """The standard class names for `num_classes` classes, or None."""
        if self.standard_names is not None and num_classes == len(self.standard_names):
            return list(self.standard_names)
        return None


def main_output(meta):
    """The name of the task's main output: the first the sidecar lists (classifiers and segmenters: the logits)."""
    return meta.get("outputs", ["logits"])[0]

