"""INT8 calibration on the CPU: the float32 network runs on reftrt over calibration images (the preprocessing of
inference), the inputs of every quantizer are observed through TensorRT's debug tensors, and one range (amax) per
quantizer is computed. This replaces TensorRT's removed IInt8*Calibrator classes; the result is a
netdefs.layers.quant.Quantization, and a calibration cache (JSON) that rebuilds without recalibrating.

Methods (all on |x|, per tensor; weights are not calibrated, their per-channel amax is their max):
- "max": the absolute max seen (TensorRT's IInt8MinMaxCalibrator).
- "percentile": the value below which `percentile` % (99.99) of |x| lie, from a 2048-bin histogram.
- "entropy": TensorRT's IInt8EntropyCalibrator2 algorithm (Migacz, "8-bit Inference with TensorRT", GTC 2017;
  pytorch-quantization `calib/histogram.py` `_compute_amax_entropy`, which reproduces it): a 2048-bin histogram of
  |x|; for every clipping bin i from 128 to 2048, P = the first i bins with the clipped outliers added to bin i-1,
  Q = those i bins merged into 128 levels and expanded back over the non-empty bins; the i with the least
  KL(P || Q) gives amax = the upper edge of bin i.
- "mse": the histogram bin edge, from bin 128 on, that minimises the mean squared error of fake-quantizing the
  histogram's bin centres (pytorch-quantization `_compute_amax_mse`).
"""
import os
import sys
import time

import numpy as np

from ..errors import UserError
from ..layers.quant import Quantization, images_sha256, read_cache, write_cache
from .build import build_definition, define

METHODS = ("max", "percentile", "entropy", "mse")
BINS = 2048
LEVELS = 128  # INT8: 128 non-negative levels of |x|


# ---------------------------------------------------------------- statistics
class TensorStats:
    """Running absolute max and, for the histogram methods, a histogram of |x| whose bin width is fixed by the
    first batch; later batches with a larger max add bins of the same width (pytorch-quantization's
    HistogramCalibrator does the same)."""

    def __init__(self, histogram=True, bins=BINS):
        self.amax, self.histogram, self.bins = 0.0, histogram, bins
        self.hist = self.edges = None

    def add(self, x):
        a = np.abs(np.asarray(x, np.float32)).ravel()
        if a.size == 0:
            return
        m = float(a.max())
        self.amax = max(self.amax, m)
        if not self.histogram or m == 0 and self.hist is None:
            return
        if self.hist is None:
            self.edges = np.linspace(0.0, m, self.bins + 1)
            self.hist = np.zeros(self.bins, np.int64)
        elif m > self.edges[-1]:
            width = self.edges[1] - self.edges[0]
            n = int(np.ceil(m / width))
            self.edges = np.arange(n + 1) * width
            self.hist = np.concatenate([self.hist, np.zeros(n - len(self.hist), np.int64)])
        # uniform bins: index = floor(|x| / width), the max itself in the last bin (np.histogram's convention)
        width = self.edges[1] - self.edges[0]
        idx = np.minimum((a / width).astype(np.int64), len(self.hist) - 1)
        self.hist += np.bincount(idx, minlength=len(self.hist))


def amax_percentile(hist, edges, percentile=99.99):
    """The upper edge of the bin where the cumulative share of |x| reaches `percentile` %."""
    cdf = np.cumsum(hist, dtype=np.float64) / max(hist.sum(), 1)
    idx = int(np.searchsorted(cdf, percentile / 100.0))
    return float(edges[min(idx + 1, len(edges) - 1)])


def amax_entropy(hist, edges, start=LEVELS, stride=1):
    """TensorRT's entropy calibration (see the module doc): the clipping bin minimising KL(P || Q)."""
    bins = np.asarray(hist, np.float64).copy()
    n = len(bins)
    if n <= start:
        return float(edges[-1])
    # pytorch-quantization: bins[0] = bins[1], so that a spike of exact zeros (ReLU outputs) does not dominate.
    bins[0] = bins[1]
    suffix = np.concatenate([np.cumsum(bins[::-1])[::-1], [0.0]])  # suffix[i] = sum(bins[i:])
    best, best_i = np.inf, n
    for i in range(start, n + 1, stride):
        p = bins[:i].copy()
        p[i - 1] += suffix[i]
        # merge the i bins into LEVELS groups (bin j -> floor(j * LEVELS / i), as np.digitize over linspace(0, i))
        group = np.minimum((np.arange(i) * LEVELS) // i, LEVELS - 1)
        nonzero = bins[:i] != 0
        sums = np.bincount(group, weights=bins[:i], minlength=LEVELS)
        counts = np.bincount(group, weights=nonzero, minlength=LEVELS)
        q = np.where(nonzero, sums[group] / np.maximum(counts[group], 1), 0.0)
        p_sum, q_sum = p.sum(), q.sum()
        if p_sum == 0 or q_sum == 0:
            continue
        p, q = p / p_sum, q / q_sum
        mask = p > 0
        if np.any(q[mask] == 0):
            kl = np.inf
        else:
            kl = float(np.sum(p[mask] * np.log(p[mask] / q[mask])))
        if kl <= best:  # ties: the larger range, as pytorch-quantization's last argmin
            best, best_i = kl, i
    return float(edges[best_i])


def amax_mse(hist, edges, start=LEVELS, stride=1):
    """The bin edge (from bin `start` on) minimising the histogram-weighted MSE of INT8 fake quantization."""
    hist = np.asarray(hist, np.float64)
    centres = (edges[:-1] + edges[1:]) / 2
    candidates = edges[start::stride] if len(edges) > start else edges[-1:]
    best, best_amax = np.inf, float(edges[-1])
    for chunk in np.array_split(candidates, max(1, len(candidates) // 256)):
        scale = chunk[:, None] / 127.0
        fq = np.clip(np.round(centres[None, :] / scale), -128, 127) * scale
        mse = ((centres[None, :] - fq) ** 2 * hist[None, :]).sum(1) / max(hist.sum(), 1)
        j = int(np.argmin(mse))
        if mse[j] < best:
            best, best_amax = float(mse[j]), float(chunk[j])
    return best_amax


def compute_amax(stats, method, percentile=99.99):
    if method == "max" or stats.hist is None:
        return float(stats.amax)
    if method == "percentile":
        return amax_percentile(stats.hist, stats.edges, percentile)
    if method == "entropy":
        return amax_entropy(stats.hist, stats.edges)
    if method == "mse":
        return amax_mse(stats.hist, stats.edges)
    raise UserError(f"unknown calibration method {method!r}; known: {', '.join(METHODS)}")


# ---------------------------------------------------------------- images
def list_images(source):
    """Calibration images: a directory, an image file, a text file listing one image path per line (relative to
    the list), or a list / tuple of paths."""
    from ..tasks.images import IMAGE_EXTS, list_sources
    if isinstance(source, (list, tuple)):
        paths = [str(p) for p in source]
    elif os.path.isfile(source) and os.path.splitext(source)[1].lower() == ".txt":
        base = os.path.dirname(os.path.abspath(source))
        try:
            with open(source, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except (OSError, UnicodeDecodeError) as e:
            raise UserError(f"{source}: cannot read the list of calibration images: {e}") from None
        paths = [os.path.join(base, line.strip()) for line in lines if line.strip() and not line.startswith("#")]
    else:
        paths = list_sources(str(source))
    for p in paths:
        if not os.path.isfile(p):
            raise UserError(f"calibration image {p}: no such file" + (f" (listed in {source})"
                                                                       if isinstance(source, str) else ""))
        if os.path.splitext(p)[1].lower() not in IMAGE_EXTS:
            raise UserError(f"calibration image {p}: not an image ({', '.join(sorted(IMAGE_EXTS))})")
    if not paths:
        raise UserError(f"{source}: no calibration images")
    return paths


def prepare(info, image):
    """One image as the network's input (3, H, W) float32, with the preprocessing inference uses for this task."""
    from .. import tasks
    return tasks.get(info["task"]).preprocess(info, image, tuple(info["imgsz"]))[0]


def input_batches(info, paths, batch, limit=None, used=None):
    """Stacked input batches of `batch` images (the last one padded by repeating its last image). An image that
    cannot be read is skipped with a warning naming it; the paths of those read are appended to `used`."""
    from ..tasks.images import read_images
    group, count = [], 0
    for path, image in read_images(paths, skip_bad=True):
        if limit is not None and count == limit:
            return
        group.append(prepare(info, image))
        if used is not None:
            used.append(path)
        if len(group) == batch:
            yield np.stack(group).astype(np.float32)
            group, count = [], count + 1
    if group:
        group += [group[-1]] * (batch - len(group))
        yield np.stack(group).astype(np.float32)


# ---------------------------------------------------------------- calibration
def observe(model, weights, images, batch=1, batches=None, histogram=True, progress=True, fallback=(),
            **options):
    """Run the float32 network on reftrt over `images`; returns ({quantizer: TensorStats}, definition info,
    image paths). Every tensor feeding a quantizer is a debug tensor (TensorRT's IDebugListener)."""
    import reftrt
    paths = list_images(images)
    collect = Quantization(fallback=fallback, collect=True)
    d = define(model, weights, backend=reftrt, precision="fp32", batch=batch, quiet=True, quant=collect, **options)
    quantizers = dict(d.net.quantizers)
    inputs = {d.network.get_input(i).name for i in range(d.network.num_inputs)}
    tensors = sorted(set(quantizers.values()))
    engine = build_definition(d, progress=False, quiet=True, debug_tensors=[t for t in tensors if t not in inputs])
    stats = {t: TensorStats(histogram) for t in tensors}
    total = (len(paths) + batch - 1) // batch
    total = min(total, batches) if batches else total
    started = time.perf_counter()
    used = []
    done = 0
    for done, x in enumerate(input_batches(d.info, paths, batch, batches, used), 1):
        if progress:
            print(f"calibrating: batch {done}/{total}", file=sys.stderr, flush=True)
        out = engine(x, debug=True)
        for t in tensors:
            stats[t].add(x if t in inputs else out[t])
    if not used:
        raise UserError(f"{images}: none of the calibration images could be read")
    if progress:
        print(f"calibrated {len(tensors)} tensors ({len(quantizers)} quantizers) over {done} batches in "
              f"{time.perf_counter() - started:.1f} s", file=sys.stderr)
    return {q: stats[t] for q, t in quantizers.items()}, d.info, used


def calibrate(model, weights, images, method="entropy", batch=1, batches=None, fallback=(), remainder="fp16",
              cache=None, percentile=99.99, progress=True, **options):
    """A Quantization for `model`: from the cache file `cache` when it exists (no images needed), else by
    calibrating on `images` (then written to `cache` when given)."""
    if method not in METHODS:
        raise UserError(f"unknown calibration method {method!r}; known: {', '.join(METHODS)}")
    if cache is not None and os.path.exists(cache):
        imgsz = options.get("imgsz")
        if isinstance(imgsz, int):
            imgsz = [imgsz, imgsz]
        amax, data = read_cache(cache, model, imgsz)
        if progress:
            print(f"calibration cache {cache}: {len(amax)} ranges ({data.get('method')}, {data.get('batches')} "
                  f"batches); not recalibrating", file=sys.stderr)
        return Quantization(amax, fallback, remainder, method=data.get("method"), meta={"source": str(cache)})
    if images is None:
        raise UserError("precision int8 needs calibration images (--calib DIR_OR_LIST) or an existing "
                         "calibration cache (--calib-cache FILE)" +
                         (f"; {cache} does not exist" if cache is not None else ""))
    per_quantizer, info, used = observe(model, weights, images, batch, batches, method != "max", progress,
                                        fallback, **options)
    amax, memo = {}, {}
    for q, s in per_quantizer.items():
        if id(s) not in memo:  # quantizers reading one tensor share its statistics: compute once
            memo[id(s)] = compute_amax(s, method, percentile)
        amax[q] = memo[id(s)]
    if cache is not None:
        write_cache(cache, model, method, (len(used) + batch - 1) // batch, images_sha256(used), amax,
                    extra={"imgsz": list(info["imgsz"]), "batch": batch, "images": [os.path.basename(p) for p in used]})
        if progress:
            print(f"wrote the calibration cache {cache}", file=sys.stderr)
    return Quantization(amax, fallback, remainder, method=method, meta={"source": "the calibration"})
