"""Demo weights: seeded random values of whatever shape the network definition asks for.

They let the quick start build and run a model on a machine with no checkpoint (and nothing to download), and
they are loudly labelled: detections from random weights mean nothing.
"""
import zlib

import numpy as np

BANNER = ("*" * 78 + "\n*  DEMO WEIGHTS: no --weights given, the network uses seeded RANDOM weights.".ljust(77)
          + "*\n*  The engine builds and runs, but its detections are meaningless.".ljust(77)
          + "*\n*  Convert a real checkpoint with tools/gen_wts.py and pass --weights.".ljust(77) + "*\n"
          + "*" * 78)


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
