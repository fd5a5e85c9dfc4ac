#!/usr/bin/env python3
"""Study what TensorRT fuses: python tools/inspect_engine.py ENGINE_OR_MODEL [--svg FILE] [--layers]

ENGINE (a file saved by tools/build.py): the engine inspector's layer table (fused layer names, layer types,
precisions, formats, tactics; tools/build.py builds with DETAILED profiling verbosity), then, when the sidecar names
the model, the fusions predicted for it from the network definition.
MODEL (a model name of the zoo): the network as defined, grouped by the fusions TensorRT documents and labelled
PREDICTED, with counts (layers defined, predicted kernels, weights, FLOPs per layer and in total). The structure
does not depend on the weights: without --weights, demo weights stand in.
--svg writes the picture: the graph of predicted kernels, coloured by fusion rule.
MODEL --real LAYERS [--profile PROFILE]: a real engine's layer listing (inspector JSON, trtexec --exportLayerInfo,
trex .graph.json, or ONELINE text) aligned with the netdef, side by side with the prediction, and the match figures
(netdefs/analysis/real_engines.py); --svg then draws the real kernels, coloured by predicted group.
"""
import _common  # noqa: I001  (first: puts the project on sys.path)
import argparse
import json
import os
import sys


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="inspect_engine.py", description=__doc__.split("\n")[0])
    p.add_argument("target", help="an engine file, or a model name (README, Models)")
    p.add_argument("--weights", help="weights for a model name (default: demo weights; only the structure matters)")
    p.add_argument("--imgsz", type=int, nargs="+", help="input size N or H W (default: the model's)")
    p.add_argument("--precision", default="fp32", choices=["fp32", "fp16", "int8"],
                   help="int8: the Q/DQ network as --precision int8 builds it (ranges do not change its structure)")
    p.add_argument("--fallback", action="append", default=[], metavar="PATTERN=fp16|fp32|int8",
                   help="int8: keep layers matching PATTERN out of INT8, as tools/build.py --fallback (e.g. "
                        "'layer?.?=fp16' drops ResNet's residual quantizers)")
    p.add_argument("--head", choices=["raw", "decode", "nms"], help="detection head outputs (default nms)")
    p.add_argument("--real", metavar="LAYERS", help="a real engine's layer listing to align with the prediction")
    p.add_argument("--profile", help="trtexec --exportProfile JSON: per-layer times for --real")
    p.add_argument("--trt-version", choices=["8", "10"],
                   help="TensorRT whose fusions to predict (default: 10, or what the --real listing shows)")
    p.add_argument("--layers", action="store_true", help="also print every layer with its weights and FLOPs")
    p.add_argument("--svg", help="write the fusion graph picture here")
    p.add_argument("--json", help="write the predicted groups (and the engine's layers) as JSON here")
    p.add_argument("--backend", default="reference", choices=["auto", "tensorrt", "reference"],
                   help="network API used to define a model (default reference: no GPU needed)")
    return p.parse_args(argv)


# ---------------------------------------------------------------- prediction
def define(model, weights, options, precision, backend, int8=None):
    """The network as `tools/build.py` defines it. INT8: the network's structure does not depend on the calibrated
    ranges, so placeholder ranges stand in, with the engine's fallback patterns and remainder (`int8`, its sidecar
    entry) when there is one."""
    from netdefs.runtime import build as eng
    from netdefs.runtime.demo import DemoWeights
    w = weights if weights else DemoWeights()
    quant = None
    if precision == "int8":
        from netdefs.layers.quant import Quantization, parse_fallback
        fallback = parse_fallback((int8 or {}).get("fallback", []))
        remainder = (int8 or {}).get("remainder", "fp16")
        probe = eng.define(model, w, backend=backend, quiet=True,
                           quant=Quantization(fallback=fallback, remainder=remainder, collect=True), **options)
        quant = Quantization({name: 1.0 for name in probe.net.quantizers}, fallback, remainder)
    return eng.define(model, w, backend=backend, precision=precision, quiet=True, quant=quant, **options)


def predict(definition, trt_version=None):
    from netdefs.analysis import fusion
    return fusion.analyse(definition.trt, definition.network, trt_version or fusion.DEFAULT_TRT_VERSION)


def options_from_meta(meta):
    """The define() options an engine was built with, from its sidecar: size, batch and the family's own."""
    from netdefs import families
    options = {"imgsz": tuple(meta["imgsz"])}
    own = families.get(meta["model"]).family.options
    options.update({key: meta[key] for key in own if key in meta})
    if isinstance(meta.get("batch"), int):
        options["batch"] = meta["batch"]
    return options


def report(summary, title, layers=False):
    from netdefs.analysis import fusion
    text = fusion.text_report(summary, title)
    if layers:
        text += "\n\nper layer:\n" + fusion.layer_flops_table(summary)
    return text


def write_outputs(args, summary, title, engine_rows=None):
    from netdefs.analysis import fusion
    from weights.atomic import atomic_write
    if args.svg:
        atomic_write(args.svg, fusion.svg(summary, title).encode())
        print(f"wrote {args.svg}", file=sys.stderr)
    if args.json:
        data = {"title": title, "layers_defined": summary.num_layers, "predicted_kernels": summary.kernels,
                "weights": summary.weights, "flops": summary.flops,
                "groups": [{"rule": g.rule, "kernel": g.kernel, "layers": [lay.name for lay in g.layers]}
                           for g in summary.groups]}
        if engine_rows is not None:
            data["engine_layers"] = engine_rows
        atomic_write(args.json, json.dumps(data, indent=1).encode())


def main(argv=None):
    args = parse_args(argv)
    _common.output_file("--svg", args.svg)
    _common.output_file("--json", args.json)
    options = {}
    if args.imgsz:
        options["imgsz"] = _common.image_size(args.imgsz)
    if args.head:
        options["head"] = args.head
    if os.path.exists(args.target):
        import netdefs
        engine = netdefs.load(args.target)
        from netdefs.analysis import fusion
        rows = fusion.engine_layers(engine)
        print(f"{args.target}: {len(rows)} layers in the engine ({engine.meta.get('backend', '?')}"
              + ("; reftrt does not fuse: one entry per defined layer" if engine.backend == "reference" else "")
              + ")")
        print(fusion.engine_table(rows))
        model = engine.meta.get("model")
        if not model:
            return 0
        meta_options = options_from_meta(engine.meta)
        meta_options.update(options)
        d = define(model, args.weights, meta_options, engine.meta.get("precision", args.precision), args.backend,
                   engine.meta.get("int8"))
        from netdefs.analysis import real_engines
        summary = predict(d, args.trt_version or real_engines.trt_version_of_module(engine.trt))
        print()
        print(report(summary, f"{model} (from {os.path.basename(args.target)}.json)", args.layers))
        print()
        print(real_engines.text(real_engines.align(real_engines.layers_from_json(rows), summary),
                                os.path.basename(args.target)))
        write_outputs(args, summary, model, rows)
        return 0
    if os.sep in args.target or args.target.endswith((".engine", ".plan")):
        raise _common.UserError(f"{args.target}: no such engine file")
    if args.fallback and args.precision != "int8":
        raise _common.UserError("--fallback needs --precision int8")
    d = define(args.target, args.weights, options, args.precision, args.backend, {"fallback": args.fallback})
    if args.real:
        return compare_real(args, d)
    summary = predict(d, args.trt_version)
    print(report(summary, f"{args.target} ({args.precision})", args.layers))
    write_outputs(args, summary, args.target)
    return 0


def compare_real(args, definition):
    """MODEL --real LAYERS: the listing aligned with the netdef's prediction, side by side."""
    from netdefs.analysis import real_engines
    from weights.atomic import atomic_write
    try:
        layers = real_engines.read_layers(args.real)
        times = real_engines.read_profile(args.profile) if args.profile else None
    except (OSError, ValueError) as e:
        raise _common.UserError(f"cannot read the listing: {e}") from None
    summary = predict(definition, args.trt_version or real_engines.trt_version_of(layers))
    title = f"{args.target} ({args.precision}) vs {os.path.basename(args.real)}"
    alignment = real_engines.align(layers, summary, times)
    if args.layers:
        print(report(summary, f"{args.target} ({args.precision})", True) + "\n")
    print(real_engines.text(alignment, title))
    if args.svg:
        atomic_write(args.svg, real_engines.svg(alignment, title).encode())
    if args.json:
        atomic_write(args.json, json.dumps(real_engines.to_json(alignment, title), indent=1).encode())
    return 0


if __name__ == "__main__":
    _common.run(main, "inspect_engine.py")
