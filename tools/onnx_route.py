#!/usr/bin/env python3
"""Does a zoo model take the ONNX route to TensorRT? python tools/onnx_route.py MODEL [--weights W] [--imgsz N]

Exports the upstream PyTorch model (netdefs/analysis/reference.py; seeded random weights unless --weights) with
torch.onnx.export, with the default (dynamo) exporter and the legacy (TorchScript) one, runs each ONNX model with
onnxruntime against PyTorch, and lists every node that TensorRT's ONNX parser is documented or known to import
differently or not at all, with its source and the TensorRT versions it applies to
(netdefs/analysis/onnx_route.py, KNOWN). Needs torch, onnx, onnxscript and onnxruntime.
Exit status: 0 when both routes are clean, 1 when one is not, 2 for bad input.
"""
import _common  # noqa: I001  (first: puts the project on sys.path)
import argparse
import json


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="onnx_route.py", description=__doc__.split("\n")[0])
    p.add_argument("model", help="model name (README, Models)")
    p.add_argument("--weights", help="weights or checkpoint for the upstream model (default: seeded random)")
    p.add_argument("--imgsz", type=int, nargs="+", help="input size N or H W (default: the model's)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random weights and input")
    p.add_argument("--opset", type=int, help="ONNX opset for both exporters (default: each exporter's own)")
    p.add_argument("--json", help="write the report as JSON to this file")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    _common.output_file("--json", args.json)
    imgsz = _common.image_size(args.imgsz)
    _common.check_range("--opset", args.opset, 9, 30)
    from netdefs import families
    spec = families.get(args.model)  # an unknown name is refused before torch is imported
    h, w = spec.family.image_size(imgsz, spec.variant)
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
        import onnxscript  # noqa: F401
        import torch
    except ImportError as e:
        raise _common.UserError(f"onnx_route.py needs torch, onnx, onnxscript and onnxruntime: {e}") from None
    from netdefs.analysis import onnx_route as route
    module, spec = route.upstream(spec.name, args.weights, args.seed)
    x = torch.rand((1, 3, h, w), generator=torch.Generator().manual_seed(args.seed))
    routes = route.check(module, x, args.opset)
    print(route.format_report(spec.name, (h, w), routes))
    if args.json:
        from weights.atomic import atomic_write
        doc = {"model": spec.name, "imgsz": [h, w], "routes": [
            {"exporter": r.exporter, "opset": r.opset, "error": r.error, "verdict": r.verdict,
             "onnxruntime_rel_err": r.ort if isinstance(r.ort, float) else None,
             "onnxruntime_error": None if isinstance(r.ort, float) or r.ort is None else r.ort,
             "findings": [{"key": f.key, "node": f.node, "op": f.op, "detail": f.detail, "what": f.behaviour.what,
                           "effect": f.behaviour.effect, "source": f.behaviour.source,
                           "versions": f.behaviour.versions} for f in r.findings]} for r in routes]}
        atomic_write(args.json, (json.dumps(doc, indent=1) + "\n").encode())
    return 0 if all(r.verdict == "clean" for r in routes) else 1


if __name__ == "__main__":
    _common.run(main, "onnx_route.py")
