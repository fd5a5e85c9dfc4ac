"""Atomic output files (temporary shim; replaced by the weights branch)."""
from ._atomic import atomic_output


def atomic_write(path, data):
    with atomic_output(path) as f:
        f.write(data)
