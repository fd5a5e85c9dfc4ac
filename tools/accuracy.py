#!/usr/bin/env python3
"""Accuracy of fp16 / int8 against fp32, on the CPU before deployment:
python tools/accuracy.py MODEL --weights W --images DIR_OR_LIST [--precisions fp32,fp16,int8] [--sensitivity]

For each precision the network is built on reftrt (exact Q/DQ emulation) and run over the images with the
inference preprocessing; the report gives the error of the raw outputs (a detector's maps before decoding, the logits)
against fp32 reftrt and against the upstream PyTorch model, and the task's agreement with fp32: top-1 for
classifiers, mAP50 of the detections with the fp32 detections as ground truth for detectors, pixel agreement and
mIoU for segmenters. --sensitivity quantizes one layer at a time and ranks the layers by output error, to pick
--fallback patterns. Writes a Markdown report (-o report.md) and its JSON (report.json) atomically.
"""
import _common  # noqa: I001  (first: puts the project on sys.path)
import argparse
import json
import sys
import time

import numpy as np


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="accuracy.py", description=__doc__.split("\n")[0])
    p.add_argument("model")
    p.add_argument("--weights", required=True, help=".wts or .safetensors")
    p.add_argument("--images", required=True, help="evaluation images: a directory, an image or a .txt list")
    p.add_argument("--precisions", default="fp32,fp16,int8")
    p.add_argument("--calib", help="calibration images (default: the evaluation images)")
    p.add_argument("--calib-method", default="entropy", choices=["max", "percentile", "entropy", "mse"])
    p.add_argument("--calib-batches", type=int)
    p.add_argument("--calib-cache", help="calibration cache (read if it exists, else written)")
    p.add_argument("--fallback", action="append", default=[], metavar="PATTERN=fp16|fp32|int8")
    p.add_argument("--int8-remainder", default="fp16", choices=["fp16", "fp32"])
    p.add_argument("--reference", default="builtin",
                   help="PyTorch reference: builtin (the upstream model with these weights), none, python:MODULE:FN "
                        "or FILE.py:FN (FN() returns the torch.nn.Module), or a weights/checkpoint file")
    p.add_argument("--sensitivity", action="store_true", help="per-layer INT8 sensitivity (one build per layer)")
    p.add_argument("--imgsz", type=int, nargs="+")
    p.add_argument("--score-threshold", type=float, help="detectors: NMS score threshold (default: the model's)")
    p.add_argument("-o", "--output", help="Markdown report path (a .json beside it)")
    p.add_argument("--quiet", action="store_true")
    return p.parse_args(argv)


def _reference(spec, model, arrays, info):
    """A function numpy input -> {raw output name: array} running the PyTorch reference, or None for "none"."""
    if spec == "none":
        return None
    from netdefs.analysis.reference import raw_outputs, reference_model, resolve
    module, _ = resolve(spec, model)
    return raw_outputs(module if module is not None else reference_model(model, arrays), info)


class Runner:
    """Builds `model` in a precision and runs it over the prepared inputs, one image per batch."""

    def __init__(self, model, arrays, inputs, options):
        self.model, self.arrays, self.inputs, self.options = model, arrays, inputs, options

    def run(self, precision, quant=None):
        from netdefs.analysis.reference import raw_names
        from netdefs.runtime.build import build_definition, define
        d = define(self.model, self.arrays, backend="reference", precision=precision, quiet=True, quant=quant,
                   **self.options)
        names = raw_names(d.info)
        debug = [n for n in names if n not in d.info["outputs"]]
        engine = build_definition(d, progress=False, quiet=True, debug_tensors=debug)
        outs = [engine(x[None], debug=bool(debug)) for x in self.inputs]
        raw = {n: np.concatenate([o[n].astype(np.float32) for o in outs]) for n in names}
        return d.info, raw, outs, d.net.quantizers


def output_errors(raw, truth_raw):
    from netdefs.analysis import metrics
    per = [metrics.errors(raw[n], truth_raw[n]) for n in truth_raw]
    return {"max_abs": max(p["max_abs"] for p in per), "rel": max(p["rel"] for p in per),
            "cosine": min(p["cosine"] for p in per)}


def evaluate(model, weights, images, precisions=("fp32", "fp16", "int8"), calib=None, calib_method="entropy",
             calib_batches=None, calib_cache=None, fallback=(), remainder="fp16", reference="builtin",
             sensitivity=False, progress=True, **options):
    """The report as a dict (see `markdown`)."""
    from netdefs import tasks
    from netdefs.layers.quant import parse_fallback
    from netdefs.runtime.build import define
    from netdefs.runtime.calibrate import calibrate, list_images, prepare
    from netdefs.tasks.images import read_images
    from weights import load as load_weights
    arrays = {k: np.asarray(v) for k, v in (load_weights(weights) if isinstance(weights, str) else weights).items()}
    fallback = parse_fallback(fallback)
    log = (lambda msg: print(msg, file=sys.stderr, flush=True)) if progress else (lambda msg: None)
    info = define(model, arrays, backend="reference", quiet=True, **options).info
    task = tasks.get(info["task"])
    read = list(read_images(list_images(images), skip_bad=True))
    if not read:
        raise _common.UserError(f"{images}: no image could be read")
    paths = [p for p, _ in read]
    inputs = [prepare(info, image) for _, image in read]
    runner = Runner(model, arrays, inputs, options)
    report = {"model": model, "images": [p.split("/")[-1] for p in paths], "task": info["task"],
              "imgsz": info["imgsz"], "precisions": {}}
    started = time.perf_counter()
    _, fp32_raw, fp32_outs, _ = runner.run("fp32")
    log(f"fp32: {time.perf_counter() - started:.1f} s")
    ref_raw = None
    ref = _reference(reference, model, arrays, info)
    if ref is not None:
        outs = [ref(x[None]) for x in inputs]
        ref_raw = {n: np.concatenate([o[n] for o in outs]) for n in fp32_raw}
    quant = None
    for precision in precisions:
        t0 = time.perf_counter()
        if precision == "int8":
            quant = calibrate(model, arrays, calib or paths, method=calib_method, batches=calib_batches,
                              fallback=fallback, remainder=remainder, cache=calib_cache, progress=progress, **options)
            report["calibration"] = {"method": quant.method, "seconds": round(time.perf_counter() - t0, 2),
                                     "remainder": remainder}
        if precision == "fp32":
            raw, outs, quantizers = fp32_raw, fp32_outs, {}
        else:
            _, raw, outs, quantizers = runner.run(precision, quant if precision == "int8" else None)
        entry = {"vs_fp32": output_errors(raw, fp32_raw)}
        if ref_raw is not None:
            entry["vs_pytorch"] = output_errors(raw, ref_raw)
        entry.update(task.agreement(info, outs, fp32_outs, raw, fp32_raw))
        if precision == "int8":
            entry["quantizers"] = len(quantizers)
        entry["seconds"] = round(time.perf_counter() - t0, 2)
        report["precisions"][precision] = entry
        log(f"{precision}: {entry}")
    if sensitivity:
        if quant is None:
            raise _common.UserError("--sensitivity needs int8 among --precisions")
        report["sensitivity"] = layer_sensitivity(runner, quant, fp32_raw, info, task, fp32_outs, log)
    return report


def layer_sensitivity(runner, quant, fp32_raw, info, task, fp32_outs, log):
    """Quantize one layer at a time (everything else in the remainder precision); rank by output error."""
    from netdefs.layers.quant import Quantization
    _, _, _, quantizers = runner.run("int8", quant)
    layers = []
    for q in quantizers:
        layer = q.rsplit(".", 1)[0]
        if layer not in layers:
            layers.append(layer)
    rows = []
    for k, layer in enumerate(layers):
        only = Quantization(quant.amax, list(quant.fallback) + [("*", quant.remainder), (layer, "int8")],
                            quant.remainder, method=quant.method, meta=quant.meta)
        _, raw, outs, _ = runner.run("int8", only)
        row = {"layer": layer, **output_errors(raw, fp32_raw)}
        row.update(task.agreement(info, outs, fp32_outs, raw, fp32_raw))
        rows.append(row)
        log(f"sensitivity {k + 1}/{len(layers)}: {layer} rel {row['rel']:.3g}")
    rows.sort(key=lambda r: -r["rel"])
    return rows


def _fmt(v):
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def markdown(report):
    lines = [f"# Accuracy report: {report['model']}", "",
             f"{len(report['images'])} images ({', '.join(report['images'][:8])}"
             f"{', ...' if len(report['images']) > 8 else ''}), input {report['imgsz']}, task {report['task']}; "
             "reftrt (exact Q/DQ emulation). Errors are of the raw outputs: max |a - b|, that relative to max |b|, "
             "and the lowest cosine similarity.", ""]
    if "calibration" in report:
        c = report["calibration"]
        lines += [f"INT8: calibration {c['method']} in {c['seconds']} s, remainder {c['remainder']}.", ""]
    from netdefs import tasks
    task_cols = tasks.get(report["task"]).columns
    has_ref = any("vs_pytorch" in e for e in report["precisions"].values())
    head = ["precision", "max abs vs fp32", "rel vs fp32", "cosine vs fp32"]
    head += ["max abs vs PyTorch", "rel vs PyTorch"] if has_ref else []
    head += [c.replace("_", " ") + " (vs fp32)" for c in task_cols]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for p, e in report["precisions"].items():
        row = [p, _fmt(e["vs_fp32"]["max_abs"]), _fmt(e["vs_fp32"]["rel"]), _fmt(e["vs_fp32"]["cosine"])]
        if has_ref:
            row += [_fmt(e["vs_pytorch"]["max_abs"]), _fmt(e["vs_pytorch"]["rel"])]
        row += [_fmt(e.get(c)) for c in task_cols]
        lines.append("| " + " | ".join(row) + " |")
    if report.get("sensitivity"):
        lines += ["", "## Per-layer INT8 sensitivity (only this layer quantized; worst first)", "",
                  "| layer | rel vs fp32 | cosine |", "|---|---|---|"]
        for r in report["sensitivity"][:15]:
            lines.append(f"| {r['layer']} | {_fmt(r['rel'])} | {_fmt(r['cosine'])} |")
        worst = [r["layer"] for r in report["sensitivity"][:3]]
        lines += ["", "Candidate fallbacks: " + " ".join(f"--fallback '{w}=fp16'" for w in worst)]
    return "\n".join(lines) + "\n"


def main(argv=None):
    args = parse_args(argv)
    from weights.atomic import atomic_write
    _common.output_file("-o", args.output)
    _common.check_range("--calib-batches", args.calib_batches, 1, 1 << 20)
    _common.check_range("--score-threshold", args.score_threshold, 0.0, 1.0, integer=False)
    precisions = [p.strip() for p in args.precisions.split(",") if p.strip()]
    bad = [p for p in precisions if p not in ("fp32", "fp16", "int8")]
    if bad or not precisions:
        raise _common.UserError(f"--precisions takes a comma-separated list of fp32, fp16, int8, "
                                f"got {args.precisions[:200]!r}")
    from netdefs import families
    # --score-threshold applies where the family has a score threshold (the detectors' NMS head).
    takes_threshold = "score_threshold" in families.get(args.model).family.options
    options = {"score_threshold": args.score_threshold} if takes_threshold and args.score_threshold is not None else {}
    if args.imgsz:
        options["imgsz"] = _common.image_size(args.imgsz)
    report = evaluate(args.model, args.weights, args.images, precisions, args.calib, args.calib_method,
                      args.calib_batches, args.calib_cache, args.fallback, args.int8_remainder, args.reference,
                      args.sensitivity, progress=not args.quiet, **options)
    text = markdown(report)
    print(text)
    if args.output:
        atomic_write(args.output, text.encode())
        json_path = args.output[:-3] + ".json" if args.output.endswith(".md") else args.output + ".json"
        atomic_write(json_path, (json.dumps(report, indent=1) + "\n").encode())
    return 0


if __name__ == "__main__":
    _common.run(main, "accuracy.py")
