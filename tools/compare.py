#!/usr/bin/env python3
"""Find the first layer where a network definition differs from PyTorch:
python tools/compare.py MODEL --weights W [--reference builtin | python:MODULE:FN | FILE.py:FN | CHECKPOINT]

Runs the PyTorch model with forward hooks and the netdef with every matching intermediate tensor exposed as a
TensorRT debug tensor (reftrt on the CPU; TensorRT's IDebugListener on a GPU), matches them by module path
(`model.4.m.0.cv1.conv`), and prints per layer the shape, max abs error, relative error (max abs error / max |torch|)
and cosine similarity, naming the first layer whose relative error exceeds the tolerance.

--reference builtin (default): the upstream implementation (netdefs/analysis/reference.py) built offline
and loaded with the same weights; python:MODULE:FN or FILE.py:FN: FN() returns the torch.nn.Module (its state_dict
is the weights when --weights is omitted); a checkpoint, .wts or safetensors file: those weights in the upstream
implementation (checkpoints holding whole pickled models need --trust-pickle, since unpickling runs code).
Exit status: 0 when every layer is within tolerance, 1 when one is not, 2 for bad input.
"""
import _common  # noqa: I001  (first: puts the project on sys.path)
import argparse
import json

import numpy as np


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="compare.py", description=__doc__.split("\n")[0])
    p.add_argument("model", help="model name (README, Models)")
    p.add_argument("--weights", help=".wts, .safetensors or checkpoint for the netdef (default: the reference's)")
    p.add_argument("--reference", default="builtin",
                   help="builtin | python:MODULE:FN | FILE.py:FN | weights or checkpoint file (default builtin)")
    p.add_argument("--trust-pickle", action="store_true", help="allow whole pickled models (runs their code)")
    p.add_argument("--precision", default="fp32", choices=["fp32", "fp16"])
    p.add_argument("--tolerance", type=float, help="relative error bound (default 1e-4 fp32, 2e-2 fp16)")
    p.add_argument("--imgsz", type=int, nargs="+", help="input size N or H W (default: the model's)")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--image", help="an image, preprocessed as infer.py does (default: seeded random input)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random input")
    p.add_argument("--backend", default="reference", choices=["auto", "tensorrt", "reference"])
    p.add_argument("--failures", action="store_true", help="print only the layers above tolerance")
    p.add_argument("--json", help="write the table as JSON to this file")
    return p.parse_args(argv)


def make_input(args, task, info, shape, rng):
    """The network input: --image preprocessed as infer.py does, repeated over the batch, or the task's seeded
    random input."""
    if args.image:
        from netdefs.tasks import images as im
        x, _ = task.preprocess(info, im.read_image(args.image), shape[2:])
        return np.repeat(x[None], shape[0], axis=0).astype(np.float32)
    return task.random_input(info, shape, rng)


def main(argv=None):
    args = parse_args(argv)
    _common.check_range("--batch", args.batch, 1, 64)
    _common.check_range("--tolerance", args.tolerance, 0.0, 1e6, integer=False)
    _common.output_file("--json", args.json)
    imgsz = _common.image_size(args.imgsz)
    from netdefs import families, tasks
    from netdefs.analysis.compare import compare
    from netdefs.analysis.reference import reference_model, resolve
    from netdefs.runtime.build import define
    from weights.atomic import atomic_write

    if args.weights is None and args.reference == "builtin":
        raise _common.UserError("compare.py needs --weights (the builtin reference is loaded with them) or a "
                                "--reference that carries its weights")
    spec = families.get(args.model)  # an unknown model name fails before anything is loaded
    import torch
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    module, ref_weights = resolve(args.reference, args.model, args.trust_pickle)
    if args.weights:
        import weights
        netdef_weights = weights.load(args.weights)
    else:
        netdef_weights = ref_weights
    if module is None:
        module = reference_model(args.model, netdef_weights)
    # The outputs PyTorch modules compute (a detector: its raw maps; NMS has no module to compare with).
    options = dict(spec.family.compare_options)
    d = define(args.model, netdef_weights, backend=args.backend, precision=args.precision, batch=args.batch,
               imgsz=imgsz, quiet=True, **options)
    x = make_input(args, tasks.get(d.info["task"]), d.info, tuple(d.network.get_input(0).shape),
                   np.random.default_rng(args.seed))
    report = compare(d, module, x, args.precision, args.tolerance)
    print(report.table(all_rows=not args.failures))
    print(report.summary())
    if args.json:
        rows = [{"name": r.name, "type": r.layer_type, "shape": list(r.shape), "max_abs": r.max_abs, "rel": r.rel,
                 "cosine": r.cosine, "exceeds": r.exceeds, "note": r.note} for r in report.rows]
        atomic_write(args.json, json.dumps({"model": args.model, "precision": args.precision,
                                            "tolerance": report.tolerance, "backend": report.backend,
                                            "first_above_tolerance": report.first and report.first.name,
                                            "rows": rows}, indent=1).encode())
    return 1 if report.first is not None else 0


if __name__ == "__main__":
    _common.run(main, "compare.py")
