#!/usr/bin/env python3
"""Mutation check: plant small, realistic bugs one at a time in a scratch copy of the tree and run the tests that
should catch each; every planted bug must fail at least one of them ("killed").

    python tests/mutation.py                   # every mutant; prints a table, exits 1 if one survived
    python tests/mutation.py -k nms -k eps     # the mutants whose name contains one of these
    python tests/mutation.py --list            # the mutants and their test selections, nothing run
    python tests/mutation.py --check           # only that every snippet is still found exactly once
    python tests/mutation.py --baseline        # first run every selection unmutated: each must pass

A mutant is (name, file, old snippet, new snippet, pytest selection). The snippet is plain text, found exactly once
in the file; when code moves, update the path (and the snippet if it changed). A snippet not found, or found more
than once, is reported as NOT FOUND / AMBIGUOUS and counts as a failure of the check, never as killed.

The tree (git's tracked and untracked, not ignored, files of this checkout) is copied once to a temporary directory;
each mutant changes one file there, runs its selection with `python -m pytest -x -q` (no bytecode written, so no
stale .pyc), and puts the file back. Exit status of pytest: 1 (a test failed) or 2 (collection failed: the mutant
broke an import) count as killed; 0 as survived; 5 (nothing selected) as an error of the selection.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Mutant:
    name: str
    path: str
    old: str
    new: str
    tests: list = field(default_factory=list)  # pytest arguments: files / node ids, "-k", expression


HOST = "tests/netdefs/test_host_side.py"
MUTANTS = [
    # ---- netdefs: numerics
    Mutant("yolov5 BatchNorm eps 1e-3 -> 1e-4", "netdefs/layers/yolo.py",
           "BN_EPS = 1e-3", "BN_EPS = 1e-4",
           ["tests/netdefs/test_yolov5.py", "-k", "test_raw_and_decode_match_pytorch and yolov5n-128"]),
    Mutant("BatchNorm sqrt(var + eps) -> sqrt(var) + eps", "netdefs/layers/ops.py",
           "multiplier = gamma / np.sqrt(var + eps)", "multiplier = gamma / (np.sqrt(var) + eps)",
           ["tests/netdefs/test_resnet.py", "-k", "test_logits_match_torchvision and resnet18"]),
    Mutant("SegFormer heads [1, 2, 5, 8] -> [1, 2, 4, 8]", "netdefs/families/segformer.py",
           "NUM_HEADS = [1, 2, 5, 8]", "NUM_HEADS = [1, 2, 4, 8]",
           ["tests/netdefs/test_segformer.py", "-k", "test_logits_match_transformers and b0"]),
    Mutant("SegFormer LayerNorm eps 1e-5 -> 1e-6", "netdefs/layers/transformers.py",
           "LN_EPS = 1e-5", "LN_EPS = 1e-6",
           ["tests/netdefs/test_segformer.py", "-k", "eps_where_it_matters"]),
    Mutant("MobileNetV3 BatchNorm eps 1e-3 -> 1e-5", "netdefs/layers/torchvision.py",
           '"mobilenet_v3_small": 1e-3', '"mobilenet_v3_small": 1e-5',
           ["tests/netdefs/test_mobilenet.py", "-k", "test_logits_match_torchvision and small"]),
    Mutant("YOLOv5 decode grid x/y swapped", "netdefs/families/yolov5.py",
           "grid = (np.stack((xv, yv), 2) - 0.5)", "grid = (np.stack((yv, xv), 2) - 0.5)",
           ["tests/netdefs/test_yolov5.py", "-k", "test_raw_and_decode_match_pytorch and yolov5n-128"]),
    Mutant("YOLOv5 NMS head xywh -> xyxy sign of h/2", "netdefs/families/yolov5.py",
           "[-0.5, 0, 0.5, 0], [0, -0.5, 0, 0.5]]", "[-0.5, 0, 0.5, 0], [0, 0.5, 0, -0.5]]",
           [HOST, "-k", "threshold"]),
    # ---- netdefs: host side
    Mutant("Engine.__call__ drops the cast to the input dtype", "netdefs/runtime/engine.py",
           "self.memory.bind_input(name, array.astype(dtype, copy=False))", "self.memory.bind_input(name, array)",
           [HOST, "-k", "float64"]),
    Mutant("scale_boxes x/y padding swapped", "netdefs/tasks/images.py",
           "boxes[:, [0, 2]] = (boxes[:, [0, 2]] - pad[0]) / rx\n    boxes[:, [1, 3]] = (boxes[:, [1, 3]] - pad[1])",
           "boxes[:, [0, 2]] = (boxes[:, [0, 2]] - pad[1]) / rx\n    boxes[:, [1, 3]] = (boxes[:, [1, 3]] - pad[0])",
           [HOST, "-k", "scale_boxes"]),
    Mutant("letterbox top/bottom rounding swapped", "netdefs/tasks/images.py",
           "top, bottom = int(round(dh - 0.1)), int(round(dh + 0.1))",
           "top, bottom = int(round(dh + 0.1)), int(round(dh - 0.1))",
           [HOST, "-k", "letterbox"]),
    Mutant("bilinear upsampling without half-pixel centres", "netdefs/tasks/images.py",
           "src = np.clip((np.arange(n_out, dtype=np.float64) + 0.5) * (n_in / n_out) - 0.5, 0, n_in - 1)",
           "src = np.clip(np.arange(n_out, dtype=np.float64) * (n_in / n_out), 0, n_in - 1)",
           ["tests/tools/test_infer_tasks.py", "-k", "upsample_bilinear"]),
    # ---- reftrt
    Mutant("reftrt NMS score > threshold -> >=", "reftrt/layers/nms.py",
           "keep = torch.nonzero(flat > score_threshold)", "keep = torch.nonzero(flat >= score_threshold)",
           [HOST, "-k", "score_exactly"]),
    Mutant("reftrt NMS IoU > threshold -> >=", "reftrt/layers/nms.py",
           "(iou_matrix(cb[start:stop], cb) > iou_threshold)", "(iou_matrix(cb[start:stop], cb) >= iou_threshold)",
           [HOST, "-k", "iou_exactly"]),
    Mutant("reftrt normalization sqrt(var + eps) -> sqrt(var) + eps", "reftrt/layers/normalization.py",
           "return centered / torch.sqrt(var + eps)", "return centered / (torch.sqrt(var) + eps)",
           ["tests/netdefs/test_segformer.py", "-k", "eps_where_it_matters"]),
    Mutant("reftrt GELU_ERF computed as the tanh approximation", "reftrt/layers/activation.py",
           "return 0.5 * x * (1 + torch.erf(x * math.sqrt(0.5)))",
           "return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (0.044715 * x ** 3 + x)))",
           ["tests/netdefs/test_segformer.py", "-k", "test_logits_match_transformers and b0"]),
    Mutant("reftrt HARD_SIGMOID clamped to [-1, 1]", "reftrt/layers/activation.py",
           "return torch.clamp(a * x + b, 0, 1)", "return torch.clamp(a * x + b, -1, 1)",
           ["tests/netdefs/test_mobilenet.py", "-k", "test_logits_match_torchvision and small"]),
    Mutant("reftrt quantize truncates instead of rounding", "reftrt/layers/quantize.py",
           "return [torch.round(q).to(dtype)", "return [torch.trunc(q).to(dtype)",
           ["tests/quant/test_quant_qdq.py", "-k", "rounds_half_to_even"]),
    # ---- weights
    Mutant(".wts values read little-endian", "weights/wts.py",
           'out[done:done + k] = np.frombuffer(raw, ">f4")', 'out[done:done + k] = np.frombuffer(raw, "<f4")',
           ["tests/test_weights_wts.py", "-k", "round_trip_is_bit_exact"]),
    Mutant("safetensors BF16 widened with the wrong shift", "weights/st.py",
           'count, self._start + begin).astype(np.uint32) << 16', 'count, self._start + begin).astype(np.uint32) << 8',
           ["tests/test_weights_safetensors.py", "-k", "bfloat16"]),
    Mutant("checkpoints prefer 'model' over 'ema'", "weights/checkpoint.py",
           'CONTAINER_KEYS = ("ema", "model", ', 'CONTAINER_KEYS = ("model", "ema", ',
           ["tests/test_weights_gen_wts.py", "-k", "prefer_ema"]),
    # ---- quant
    Mutant("INT8 scale amax / 128", "netdefs/layers/quant.py",
           "INT8_MAX = 127.0", "INT8_MAX = 128.0",
           ["tests/quant/test_quant_qdq.py", "-k", "rounds_half_to_even"]),
    Mutant("percentile calibration takes the bin's lower edge", "netdefs/runtime/calibrate.py",
           "return float(edges[min(idx + 1, len(edges) - 1)])", "return float(edges[min(idx, len(edges) - 1)])",
           ["tests/quant/test_quant_qdq.py", "-k", "percentile_on_a_known_histogram"]),
    # ---- tools
    Mutant("tools exit 0 on a user error", "tools/_common.py",
           '        print(f"{prog}: error: {one_line(e)}", file=sys.stderr)\n        sys.exit(2)',
           '        print(f"{prog}: error: {one_line(e)}", file=sys.stderr)\n        sys.exit(0)',
           ["tests/tools/test_infer_errors.py", "-k", "missing_engine"]),
    Mutant("class names off by one", "netdefs/tasks/names.py",
           "return names[cls] if names and", "return names[cls - 1] if names and",
           ["tests/tools/test_infer_tasks.py", "-k", "classify_prints"]),
    Mutant("ultralytics pose end-to-end boxes left xywh", "netdefs/families/ultralytics.py",
           'box = decode_boxes(net, dist, anchors, strides, f"{prefix}.dbox", xywh=head != "end2end")',
           'box = decode_boxes(net, dist, anchors, strides, f"{prefix}.dbox", xywh=True)',
           ["tests/netdefs/test_pose_obb.py", "-k", "yolo26_heads and pose"]),
    Mutant("ultralytics pose keypoints gathered one column early", "netdefs/families/ultralytics.py",
           'coeffs = slice_axis(net, pred, f"{prefix}.kpts", 2, 4 + nc, ',
           'coeffs = slice_axis(net, pred, f"{prefix}.kpts", 2, 3 + nc, ',
           ["tests/netdefs/test_pose_obb.py", "-k", "test_family_decode_and_nms and yolo11n-pose"]),
    Mutant("ultralytics OBB and pose heads told apart the wrong way", "netdefs/families/ultralytics.py",
           'return "obb" if extra == 1 else "pose"', 'return "obb" if extra != 1 else "pose"',
           ["tests/netdefs/test_pose_obb.py", "-k", "describe_pose_and_obb and yolov8n-pose"]),
    Mutant("ultralytics dynamic-size infer rounds the padded side down", "netdefs/tasks/images.py",
           "fit = lambda n, lo, hi: min(max(-(-n // stride) * stride, lo), hi)",
           "fit = lambda n, lo, hi: min(max((n // stride) * stride, lo), hi)",
           ["tests/tools/test_infer_dynamic_seg.py", "-k", "fit_size"]),
    Mutant("ultralytics instance masks keep the box's right edge column", "netdefs/tasks/images.py",
           "inside = (cols >= b[:, 0]) & (cols < b[:, 2])", "inside = (cols >= b[:, 0]) & (cols <= b[:, 2])",
           ["tests/tools/test_infer_dynamic_seg.py", "-k", "process_mask"]),
    Mutant("detections mapped back with the letterbox ratio inverted", "netdefs/tasks/detect.py",
           "boxes = im.scale_boxes(boxes, ratio, pad, image.shape)",
           "boxes = im.scale_boxes(boxes, 1 / ratio, pad, image.shape)",
           ["tests/tools/test_build_infer.py", "-k", "draws_detections"]),
]


def tree_files():
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                         capture_output=True, check=True).stdout
    return [f for f in out.decode().split("\0") if f and (ROOT / f).is_file()]


def copy_tree(dest):
    for f in tree_files():
        target = dest / f
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / f, target)


def locate(m, root):
    """('ok', text) or (problem, None): the file's text when the snippet occurs exactly once."""
    path = root / m.path
    if not path.is_file():
        return f"NOT FOUND: no file {m.path}", None
    text = path.read_text()
    n = text.count(m.old)
    if n == 0:
        return f"NOT FOUND: snippet not in {m.path}: {m.old!r}", None
    if n > 1:
        return f"AMBIGUOUS: snippet {n} times in {m.path}: {m.old!r}", None
    return "ok", text


def run_mutant(m, scratch, timeout, mutate=True):
    path = scratch / m.path
    if mutate:
        status, text = locate(m, scratch)
        if text is None:
            return status, 0.0, ""
        path.write_text(text.replace(m.old, m.new))
    else:
        text = path.read_text()
    env = dict(os.environ, PYTHONPATH=str(scratch), PYTHONDONTWRITEBYTECODE="1")
    started = time.perf_counter()
    try:
        r = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *m.tests],
                           cwd=scratch, env=env, capture_output=True, text=True, timeout=timeout)
        code = r.returncode
        why = next((line[1:].strip() for line in r.stdout.splitlines() if line.startswith("E ")), "")
    except subprocess.TimeoutExpired:
        code = "timeout"
    finally:
        path.write_text(text)
    elapsed = time.perf_counter() - started
    if code in (1, 2):
        return "killed", elapsed, why[:150]
    if code == 0:
        return "SURVIVED", elapsed, ""
    if code == "timeout":
        return f"ERROR: timed out after {timeout} s", elapsed, ""
    if code == 5:
        return "ERROR: the selection runs no test", elapsed, ""
    return f"ERROR: pytest exit status {code}", elapsed, why[:150]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("-k", action="append", default=[], help="only mutants whose name contains this (repeatable)")
    p.add_argument("--list", action="store_true", help="list the mutants and their test selections")
    p.add_argument("--check", action="store_true", help="only check that every snippet is found exactly once")
    p.add_argument("--timeout", type=float, default=900, help="seconds per mutant (default 900)")
    p.add_argument("--baseline", action="store_true",
                   help="first run every selection on the unmutated copy (a kill only means something if it passes)")
    args = p.parse_args(argv)
    mutants = [m for m in MUTANTS if not args.k or any(k.lower() in m.name.lower() for k in args.k)]
    if args.list:
        for m in mutants:
            print(f"{m.name}\n    {m.path}: {m.old!r} -> {m.new!r}\n    pytest {' '.join(m.tests)}")
        return 0
    if args.check:
        problems = [(m, locate(m, ROOT)[0]) for m in mutants]
        for m, status in problems:
            print(f"{status:10s} {m.name}")
        return 0 if all(s == "ok" for _, s in problems) else 1
    results = []
    with tempfile.TemporaryDirectory(prefix="mutation-") as tmp:
        scratch = Path(tmp) / "tree"
        copy_tree(scratch)
        if args.baseline:
            seen = []
            for m in mutants:
                if m.tests in seen:
                    continue
                seen.append(m.tests)
                clean = Mutant("baseline", m.path, "", "", m.tests)
                status, elapsed, _ = run_mutant(clean, scratch, args.timeout, mutate=False)
                print(f"{'passes' if status == 'SURVIVED' else 'FAILS':10s} {elapsed:6.1f} s  baseline: pytest "
                      f"{' '.join(m.tests)}", flush=True)
                if status != "SURVIVED":
                    print("a selection fails without any mutant: fix it first")
                    return 2
        for m in mutants:
            status, elapsed, why = run_mutant(m, scratch, args.timeout)
            results.append((m, status))
            print(f"{status:10s} {elapsed:6.1f} s  {m.name}  ({m.path})" + (f"\n{'':20s}{why}" if why else ""),
                  flush=True)
    killed = sum(s == "killed" for _, s in results)
    print(f"\n{killed}/{len(results)} killed ({100.0 * killed / max(len(results), 1):.0f}%)")
    for m, s in results:
        if s != "killed":
            print(f"  {s}: {m.name}: {m.path}: {m.old!r} -> {m.new!r}; pytest {' '.join(m.tests)}")
    return 0 if killed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
