"""Parity bounds set from measurement.

A parity test asserts two things about each error it measures:
- the advertised acceptance (1e-4 relative for fp32; the stated fp16 / int8 acceptance), which is what users are
  promised and what the real TensorRT on a GPU is held to;
- at most FACTOR (10x) the error a clean run measured on reftrt, recorded beside the test with its date. Clean fp32
  runs measure 1e-7 .. 1e-6: a 1e-4 bound alone is ~300x looser than that and lets a wrong epsilon through
  (`sqrt(var) + eps` for `sqrt(var + eps)` moves a 1e-5-eps model by a few 1e-6; YOLOv5's BatchNorm eps 1e-4 for
  1e-3 moved raw maps by 1e-5 .. 1e-4 and passed most cases).

Recorded values below FLOOR (about float32's unit roundoff) count as FLOOR: the bound is then 10 roundoffs, and a
different CPU's summation order cannot fail it.

Re-measuring (after a change that legitimately moves the numerics, or on a new reference package version):
    NETDEFS_MEASURE_ERRORS=/tmp/errors.txt python -m pytest -q tests/netdefs/test_resnet.py
appends "what error recorded" lines to that file and checks only the acceptance; record the new values with the date.
"""
import os

import numpy as np

ACCEPTANCE = 1e-4
FACTOR = 10
FLOOR = 1e-7
MEASURE = os.environ.get("NETDEFS_MEASURE_ERRORS")


def within(err, clean, what, acceptance=ACCEPTANCE, factor=FACTOR):
    """Assert `err` (a relative error) <= `acceptance` and <= `factor` x the clean run's `clean` (a number, or a
    table of them by `what`)."""
    err = float(err)
    if MEASURE:
        with open(MEASURE, "a") as f:
            f.write(f"{what}\t{err:.2e}\n")
    assert err <= acceptance, f"{what}: error {err:.2e} above the acceptance {acceptance:g}"
    if MEASURE:
        return
    if isinstance(clean, dict):
        clean = clean[what]
    bound = factor * max(clean, FLOOR)
    assert err <= bound, (f"{what}: error {err:.2e} is more than {factor}x the {clean:.1e} of a clean run "
                          f"(bound {bound:.1e}): a numerics change? re-measure as tests/helpers/bounds.py says")


def rel_err(a, b):
    """max |a - b| / max |b| in float64."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-12))


def pred_groups(nc, seg):
    """Column groups of a decoded YOLOv5 prediction: x, y, w, h, objectness, nc class scores[, 32 mask coefficients]."""
    groups = {"boxes": slice(0, 4), "objectness": slice(4, 5), "classes": slice(5, 5 + nc)}
    if seg:
        groups["mask coefficients"] = slice(5 + nc, 5 + nc + 32)
    return groups


def check_pred(pred, ref, nc, seg, clean, what):
    """A decoded YOLOv5 prediction, per column group, each relative to its own largest value: boxes are pixels
    (~100s), scores and mask coefficients ~1; one error relative to the boxes' scale would check the scores ~100x
    more loosely than the raw maps."""
    assert pred.shape == ref.shape, (pred.shape, ref.shape)
    for group, cols in pred_groups(nc, seg).items():
        within(rel_err(pred[..., cols], ref[..., cols]), clean, f"{what} pred {group}")
