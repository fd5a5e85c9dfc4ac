#!/usr/bin/env python3
"""Build an engine: python tools/build.py MODEL --weights MODEL.wts [-o MODEL.engine]

Runs on TensorRT when it and a GPU are present, otherwise on reftrt (the CPU reference), and says which.
Without --weights, the network gets seeded random demo weights (said loudly).
"""
import _common  # noqa: I001  (first: puts the project on sys.path)
import argparse
import sys


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="build.py", description=__doc__.split("\n")[0])
    p.add_argument("model", help="model name (README, Models)")
    p.add_argument("--weights", help=".wts or .safetensors (tools/gen_wts.py converts checkpoints); "
                                     "omitted: random demo weights")
    p.add_argument("-o", "--output", help="engine path (default: MODEL.engine); a JSON sidecar goes beside it")
    p.add_argument("--backend", default="auto", choices=["auto", "tensorrt", "reference"])
    p.add_argument("--precision", default="fp32", choices=["fp32", "fp16", "int8"],
                   help="int8: explicit Quantize/Dequantize calibrated on the CPU (needs --calib or --calib-cache)")
    q = p.add_argument_group("INT8 (explicit quantization, TensorRT 11 style; README 'Quantization')")
    q.add_argument("--calib", metavar="DIR_OR_LIST", help="calibration images: a directory, an image, or a .txt "
                                                          "list of image paths")
    q.add_argument("--calib-method", default="entropy", choices=["max", "percentile", "entropy", "mse"],
                   help="activation range from |x|: max, 99.99th percentile, entropy (TensorRT's old "
                        "IInt8EntropyCalibrator2 algorithm, default) or minimum MSE")
    q.add_argument("--calib-batches", type=int, metavar="N", help="calibrate on at most N batches")
    q.add_argument("--calib-cache", metavar="FILE", help="calibration cache: read if it exists (no "
                                                         "recalibration), else written after calibrating")
    q.add_argument("--fallback", action="append", default=[], metavar="PATTERN=fp16|fp32|int8",
                   help="keep layers matching the fnmatch PATTERN (state_dict prefix, e.g. 'model.24.*') out of "
                        "INT8; repeatable, the last match wins")
    q.add_argument("--int8-remainder", default="fp16", choices=["fp16", "fp32"],
                   help="precision of the layers that are not INT8 (default fp16)")
    batch = p.add_mutually_exclusive_group()
    batch.add_argument("--batch", type=int, default=1, help="fixed batch size (default 1)")
    batch.add_argument("--dynamic-batch", metavar="MIN,OPT,MAX", help="dynamic batch with this profile")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--imgsz", type=int, nargs="+", help="input size: N or H W (default: the family's)")
    size.add_argument("--dynamic-imgsz", metavar="MIN,OPT,MAX",
                      help="a dynamic input size with this profile, each N or HxW (e.g. 320,640,1280 or "
                           "320x480,640x640,1280x1280), for families that build on one")
    p.add_argument("--head", choices=head_choices(),
                   help="detection outputs; the model's family says which it takes (default: the family's)")
    p.add_argument("--score-threshold", type=float, help="NMS score threshold (default: the family's)")
    p.add_argument("--iou-threshold", type=float, help="NMS IoU threshold (default: the family's)")
    p.add_argument("--max-det", type=int, help="detections kept per image (default: the family's)")
    p.add_argument("--candidates", type=int, help="-obb models: length of the rotated NMS candidate list "
                                                  "(default: the family's)")
    p.add_argument("--workspace", type=int, help="builder workspace limit in MiB")
    p.add_argument("--timing-cache", help="timing cache file, read if it exists and written after the build")
    p.add_argument("--strict", action="store_true", help="unused weights are an error, not a warning")
    p.add_argument("--report", action="store_true",
                   help="also write ENGINE.report.txt (predicted fusions, engine layers, weights, FLOPs) and "
                        "ENGINE.report.svg (the fusion graph) next to the engine")
    p.add_argument("--names", metavar="FILE", help="class names for the sidecar: one per line, or a JSON/YAML list "
                                                  "(default: the weights' own, else COCO's for an 80-class detector "
                                                  "and ImageNet's for a 1000-class classifier)")
    p.add_argument("--quiet", action="store_true")
    return p.parse_args(argv)


def head_choices():
    """Every family's head values: argparse needs them before the model is known; the family refuses the ones it
    does not take, by name."""
    from netdefs import families
    return sorted({h for family in families.FAMILIES for h in family.heads})


def dynamic_image_size(text):
    """--dynamic-imgsz MIN,OPT,MAX (each N or HxW) as three image sizes (N or (H, W))."""
    from netdefs.family import MAX_IMGSZ
    parts = text.split(",")
    sizes = []
    try:
        for part in parts:
            hw = [int(v) for v in part.lower().split("x")]
            if len(hw) not in (1, 2):
                raise ValueError
            sizes.append(hw[0] if len(hw) == 1 else tuple(hw))
    except ValueError:
        sizes = []
    if len(parts) != 3 or len(sizes) != 3:
        raise _common.UserError(f"--dynamic-imgsz takes MIN,OPT,MAX, each N or HxW, got {text[:200]!r}")
    for s in sizes:
        for v in (s if isinstance(s, tuple) else (s,)):
            _common.check_range("--dynamic-imgsz", v, 1, MAX_IMGSZ)
    return tuple(sizes)


MAX_DET = 10000
MAX_WORKSPACE_MIB = 1 << 20  # 1 TiB: more is a typo


def check_args(args):
    """Refuse nonsense before anything is loaded or built, with the allowed range in the message."""
    from netdefs.family import MAX_BATCH
    _common.check_range("--batch", args.batch, 1, MAX_BATCH)
    _common.check_range("--max-det", args.max_det, 1, MAX_DET)
    _common.check_range("--score-threshold", args.score_threshold, 0.0, 1.0, integer=False)
    _common.check_range("--iou-threshold", args.iou_threshold, 0.0, 1.0, integer=False)
    _common.check_range("--workspace", args.workspace, 1, MAX_WORKSPACE_MIB)
    _common.check_range("--calib-batches", args.calib_batches, 1, 1 << 20)
    _common.output_file("-o", args.output)
    _common.output_file("--timing-cache", args.timing_cache)
    _common.output_file("--calib-cache", args.calib_cache)
    if args.precision != "int8" and (args.calib or args.calib_cache or args.fallback or args.calib_batches):
        raise _common.UserError("--calib, --calib-cache, --calib-batches and --fallback need --precision int8")


def main(argv=None):
    args = parse_args(argv)
    check_args(args)
    imgsz = _common.image_size(args.imgsz)
    import netdefs
    from netdefs import families, tasks
    from netdefs.tasks import names as class_names
    model = families.get(args.model)
    task = tasks.get(model.task)
    # Only the options given: the family fills in its defaults and refuses the ones it does not take, by name.
    options = {k: v for k, v in (("head", args.head), ("score_threshold", args.score_threshold),
                                 ("iou_threshold", args.iou_threshold), ("max_det", args.max_det),
                                 ("candidates", args.candidates)) if v is not None}
    dynamic = None
    if args.dynamic_batch:
        try:
            dynamic = tuple(int(v) for v in args.dynamic_batch.split(","))
        except ValueError:
            dynamic = ()
        if len(dynamic) != 3:
            raise _common.UserError(f"--dynamic-batch takes MIN,OPT,MAX, got {args.dynamic_batch[:200]!r}")
    model.family.resolve_options(model, options)  # refused by name before anything is loaded
    dynamic_imgsz = dynamic_image_size(args.dynamic_imgsz) if args.dynamic_imgsz else None
    _, sizes = model.family.image_sizes(model, imgsz, dynamic_imgsz)
    names = class_names.read_file(args.names) if args.names else None
    weights = args.weights
    if weights is None:
        from netdefs.runtime.demo import DemoWeights, banner
        print(banner(task), file=sys.stderr)
        weights = DemoWeights()
    quant = None
    if args.precision == "int8":
        import os
        from netdefs.layers.quant import parse_fallback
        from netdefs.runtime.calibrate import calibrate
        if not args.calib and not (args.calib_cache and os.path.exists(args.calib_cache)):
            raise _common.UserError("--precision int8 needs calibration images (--calib DIR_OR_LIST) or an "
                                    "existing calibration cache (--calib-cache FILE)" +
                                    (f"; {args.calib_cache} does not exist" if args.calib_cache else ""))
        quant = calibrate(args.model, weights, args.calib, method=args.calib_method, batch=args.batch,
                          batches=args.calib_batches, fallback=parse_fallback(args.fallback),
                          remainder=args.int8_remainder, cache=args.calib_cache, progress=not args.quiet,
                          imgsz=sizes[1] if sizes else imgsz, **options)  # a dynamic engine: calibrated at OPT
    predicted = {}

    def analyse(definition):  # the network as defined, before the builder fuses it
        from netdefs.analysis import fusion
        from netdefs.analysis.real_engines import trt_version_of_module
        predicted["summary"] = fusion.analyse(definition.trt, definition.network,
                                              trt_version_of_module(definition.trt))

    engine = netdefs.build(args.model, weights, backend=args.backend, precision=args.precision, batch=args.batch,
                           dynamic_batch=dynamic, imgsz=imgsz, workspace=args.workspace,
                           timing_cache=args.timing_cache, strict=args.strict, quiet=args.quiet, quant=quant,
                           on_defined=analyse if args.report else None,
                           **(dict(dynamic_imgsz=dynamic_imgsz) if dynamic_imgsz else {}), **options)
    meta = engine.meta
    if args.weights is None:
        meta["demo_weights"] = True
    # --names, else the weights' own (build puts them in the sidecar), else the task's standard list.
    if names is not None:
        meta["names"] = class_names.check_count(names, meta.get("num_classes"), args.names)
    elif not meta.get("names"):
        standard = task.default_names(meta.get("num_classes"))
        if standard is not None:
            meta["names"] = standard
    out = args.output or f"{model.name}.engine"
    engine.save(out)
    if args.report:
        write_report(engine, predicted["summary"], out, args)
    if not args.quiet:
        print(f"saved {out} and {out}.json ({meta['backend']}, {args.precision}, "
              f"inputs {[engine.input_shape(n) for n in engine.inputs]}, outputs {engine.outputs})", file=sys.stderr)
    return 0


def write_report(engine, summary, out, args):
    """OUT.report.txt: the predicted fusions, the engine inspector's layers, every layer's weights and FLOPs;
    OUT.report.svg: the fusion graph; built on TensorRT, the engine's kernels coloured by predicted group, with the
    differences marked. Both written atomically."""
    from netdefs.analysis import fusion, real_engines
    from weights.atomic import atomic_write
    title = f"{args.model} ({args.precision}, {engine.meta['backend']})"
    rows = fusion.engine_layers(engine)
    alignment = real_engines.align(real_engines.layers_from_json(rows), summary)
    unfused = "; reftrt does not fuse" if engine.backend == "reference" else ""
    text = "\n\n".join([fusion.text_report(summary, title), real_engines.text(alignment, title + unfused),
                         f"engine layers ({len(rows)}, from the engine inspector"
                         + unfused + "):\n"
                         + fusion.engine_table(rows),
                         "per layer:\n" + fusion.layer_flops_table(summary)]) + "\n"
    atomic_write(f"{out}.report.txt", text.encode())
    picture = real_engines.svg(alignment, title) if engine.backend == "tensorrt" else fusion.svg(summary, title)
    atomic_write(f"{out}.report.svg", picture.encode())
    if not args.quiet:
        print(f"wrote {out}.report.txt and {out}.report.svg", file=sys.stderr)


if __name__ == "__main__":
    _common.run(main, "build.py")
