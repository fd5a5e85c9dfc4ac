"""Demo weights: seeded random values of whatever shape the network definition asks for.

They let the quick start build and run a model on a machine with no checkpoint (and nothing to download), and
they are loudly labelled (`banner`): outputs of random weights mean nothing.
"""
import zlib

import numpy as np

def banner(task=None, short=False):
    """The demo-weights warning, naming what they make meaningless for `task` (a netdefs.tasks Task or None):
    its detections, top-5 classes or masks. short: the one line tools/infer.py prints."""
    outputs = f"its {task.outputs_are}" if task is not None and task.outputs_are else "its outputs"
    if short:
        return f"NOTE: this engine was built with random DEMO weights: {outputs} are meaningless."
    lines = ["DEMO WEIGHTS: no --weights given, the network uses seeded RANDOM weights.",
             f"The engine builds and runs, but {outputs} are meaningless.",
             "Convert a real checkpoint with tools/gen_wts.py and pass --weights."]
    width = max(len(line) for line in lines) + 6
    return "\n".join(["*" * width] + [f"*  {line}".ljust(width - 1) + "*" for line in lines] + ["*" * width])


class DemoWeights:
    """Duck-types the WeightStore interface that network definitions use."""

    demo = True

    def __init__(self, seed=0):
        self.seed = seed
        self.sha256 = None

    def _rng(self, name):
        return np.random.default_rng([self.seed, zlib.crc32(name.encode())])

    def get(self, name, shape, dtype=np.float32):
        if shape is None:
            raise KeyError(f"demo weights cannot invent {name} without a shape")
        rng = self._rng(name)
        if name.endswith("running_var"):
            values = 0.5 + rng.random(shape)
        elif name.endswith(".weight") and len(shape) > 1:
            values = rng.standard_normal(shape) / np.sqrt(np.prod(shape[1:]))
        else:
            values = 0.1 * rng.standard_normal(shape)
        return values.astype(dtype)

    def has(self, name):
        return False

    def names(self):
        return []

    def shape(self, name):
        raise KeyError(name)

    def mark_used(self, *names):
        pass

    def finish(self):
        pass
