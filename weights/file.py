"""`WeightFile`: weights read from a file, as a name -> array mapping with where they came from."""
import hashlib
import os
from collections.abc import Mapping

import numpy as np


class WeightFile(Mapping):
    """name -> numpy array, in file order, with where the weights came from.

    metadata: {str: str} (kept in a safetensors header: source, architecture hints, dtype, source_sha256 ...).
    path: the file read, or None. format: "wts", "safetensors", "checkpoint" or None.
    sha256: hex digest of the file's bytes, computed on first use.
    """

    def __init__(self, arrays, metadata=None, path=None, format=None):
        self._arrays = arrays
        self.metadata = dict(metadata or {})
        self.path = os.fspath(path) if path is not None else None
        self.format = format
        self._sha256 = None

    def __getitem__(self, name):
        return self._arrays[name]

    def __iter__(self):
        return iter(self._arrays)

    def __len__(self):
        return len(self._arrays)

    def __contains__(self, name):
        return name in self._arrays

    def shape(self, name):
        shape = getattr(self._arrays, "shape", None)  # safetensors: from the header, without building a view
        return tuple(shape(name)) if shape else tuple(np.shape(self._arrays[name]))

    @property
    def sha256(self):
        if self._sha256 is None and self.path is not None:
            self._sha256 = sha256_file(self.path)
        return self._sha256

    def __repr__(self):
        return f"<WeightFile {self.path or '(memory)'}: {len(self)} tensors, {self.format or 'arrays'}>"


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def strip_prefix(weights, prefix="module."):
    """(weights without `prefix`, True) when every name starts with it, as in a DataParallel model's state_dict
    (repeatedly: DataParallel in DataParallel); else (weights, False). Names that only some tensors start with are
    left alone: they are a submodule's, not a wrapper's."""
    stripped = False
    while prefix and weights and all(k.startswith(prefix) and len(k) > len(prefix) for k in weights):
        weights = {k[len(prefix):]: weights[k] for k in weights}
        stripped = True
    return weights, stripped
