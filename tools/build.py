#!/usr/bin/env python3
"""Build an engine: python tools/build.py yolov5s --weights yolov5s.wts [-o yolov5s.engine]

Runs on TensorRT when it and a GPU are present, otherwise on reftrt (the CPU reference), and says which.
Without --weights, the network gets seeded random demo weights (said loudly).
"""
import _common  # noqa: F401,I001  (first: puts the project on sys.path, tools/ last)
import argparse
import sys


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="build.py", description=__doc__.split("\n")[0])
    p.add_argument("model", help="model name, e.g. yolov5s, yolov5n6, yolov5s-seg")
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
    p.add_argument("--imgsz", type=int, nargs="+", help="input size: N or H W (default 640)")
    p.add_argument("--head", choices=["raw", "decode", "nms"], help="detection outputs (default nms)")
    p.add_argument("--score-threshold", type=float, help="NMS score threshold (default 0.25)")
    p.add_argument("--iou-threshold", type=float, help="NMS IoU threshold (default 0.45)")
    p.add_argument("--max-det", type=int, help="detections kept per image (default 300)")
    p.add_argument("--workspace", type=int, help="builder workspace limit in MiB")
    p.add_argument("--timing-cache", help="timing cache file, read if it exists and written after the build")
    p.add_argument("--strict", action="store_true", help="unused weights are an error, not a warning")
    p.add_argument("--report", action="store_true",
                   help="also write ENGINE.report.txt (predicted fusions, engine layers, weights, FLOPs) and "
                        "ENGINE.report.svg (the fusion graph) next to the engine")
    p.add_argument("--quiet", action="store_true")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import netdefs
    from netdefs.engine import UserError
    options = {k: v for k, v in (("head", args.head), ("score_threshold", args.score_threshold),
                                 ("iou_threshold", args.iou_threshold), ("max_det", args.max_det)) if v is not None}
    if args.imgsz:
        if len(args.imgsz) > 2:
            raise UserError("--imgsz takes N or H W")
        options["imgsz"] = args.imgsz[0] if len(args.imgsz) == 1 else tuple(args.imgsz)
    dynamic = None
    if args.dynamic_batch:
        try:
            dynamic = tuple(int(v) for v in args.dynamic_batch.split(","))
            assert len(dynamic) == 3
        except (ValueError, AssertionError):
            raise UserError(f"--dynamic-batch takes MIN,OPT,MAX, got {args.dynamic_batch!r}") from None
    int8_args = args.calib or args.calib_cache or args.fallback or args.calib_batches is not None
    if args.precision != "int8" and int8_args:
        raise UserError("--calib, --calib-cache, --calib-batches and --fallback need --precision int8")
    if args.calib_batches is not None and args.calib_batches < 1:
        raise UserError(f"--calib-batches must be >= 1, got {args.calib_batches}")
    weights = args.weights
    if weights is None:
        from netdefs.demo import BANNER, DemoWeights
        print(BANNER, file=sys.stderr)
        weights = DemoWeights()
    quant = None
    if args.precision == "int8":
        import os
        from netdefs.calibrate import calibrate
        from netdefs.quant import parse_fallback
        if not args.calib and not (args.calib_cache and os.path.exists(args.calib_cache)):
            raise UserError("--precision int8 needs calibration images (--calib DIR_OR_LIST) or an existing "
                            "calibration cache (--calib-cache FILE)" +
                            (f"; {args.calib_cache} does not exist" if args.calib_cache else ""))
        quant = calibrate(args.model, weights, args.calib, method=args.calib_method, batch=args.batch,
                          batches=args.calib_batches, fallback=parse_fallback(args.fallback),
                          remainder=args.int8_remainder, cache=args.calib_cache, progress=not args.quiet,
                          **options)
    predicted = {}

    def analyse(definition):  # the network as defined, before the builder fuses it
        from netdefs import fusion
        from netdefs.analysis.real_engines import trt_version_of_module
        predicted["summary"] = fusion.analyse(definition.trt, definition.network,
                                              trt_version_of_module(definition.trt))

    engine = netdefs.build(args.model, weights, backend=args.backend, precision=args.precision, batch=args.batch,
                           dynamic_batch=dynamic, workspace=args.workspace, timing_cache=args.timing_cache,
                           strict=args.strict, quiet=args.quiet, quant=quant,
                           on_defined=analyse if args.report else None, **options)
    if args.weights is None:
        engine.meta["demo_weights"] = True
    out = args.output or f"{args.model}.engine"
    engine.save(out)
    if args.report:
        write_report(engine, predicted["summary"], out, args)
    if not args.quiet:
        print(f"saved {out} and {out}.json ({engine.meta['backend']}, {args.precision}, "
              f"inputs {[engine.input_shape(n) for n in engine.inputs]}, outputs {engine.outputs})", file=sys.stderr)
    return 0


def write_report(engine, summary, out, args):
    """OUT.report.txt: the predicted fusions, the engine inspector's layers, every layer's weights and FLOPs;
    OUT.report.svg: the fusion graph; built on TensorRT, the engine's kernels coloured by predicted group, with the
    differences marked. Both written atomically."""
    from netdefs import fusion
    from netdefs.analysis import real_engines
    from netdefs.engine import atomic_write
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
