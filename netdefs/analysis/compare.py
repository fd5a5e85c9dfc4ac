"""Layer-by-layer parity of a network definition with its PyTorch model: where do the two first differ?

The netdef names every tensor after the state_dict prefix of the module it stands for (`model.4.m.0.cv1.conv`),
so a forward hook on that module sees the same tensor. `torch_outputs` records every module's output by its path;
`compare` defines the netdef with those tensors marked as debug tensors (TensorRT's IDebugListener hands them over
during execution: device memory on TensorRT, host memory on reftrt), runs both on the same input, and returns one
row per matched tensor in network order, with the first whose error exceeds the tolerance.

Module paths: a module shared by several parents (YOLOv5's `Conv.default_act`, one SiLU for the whole model) is
named by the parent that calls it, as the netdef names it; a module called k > 1 times (YOLOv5's SPPF pools with one
MaxPool2d three times, ResNet's `relu`) gives `path.0` ... `path.{k-1}`; a module returning a tuple gives `path` for
its first tensor and `path:i` for the others, as `Net.named` names extra outputs.
"""
import math

import numpy as np

from ..runtime.build import build_definition

# Default tolerances on the relative error max|trt - torch| / max|torch| (the project's parity bounds).
TOLERANCE = {"fp32": 1e-4, "fp16": 2e-2}


def torch_outputs(module, x):
    """Run `module(x)` (x: numpy) and return (output, {path: numpy array}) for every submodule call."""
    import torch
    seen, stack, handles = {}, [], []
    canonical = {id(m): name for name, m in module.named_modules()}

    def path_of(m):
        if stack:
            parent_path, parent = stack[-1]
            for child_name, child in parent._modules.items():
                if child is m:
                    return f"{parent_path}.{child_name}" if parent_path else child_name
        return canonical.get(id(m), "")

    def pre(m, args):
        stack.append((path_of(m), m))

    def post(m, args, out):
        path, _ = stack.pop()
        tensors = [out] if torch.is_tensor(out) else [
            t for t in (out if isinstance(out, (tuple, list)) else getattr(out, "values", lambda: [])())
            if torch.is_tensor(t)]
        # clone: torchvision and smp use in-place ReLUs and `out += identity`, which rewrite earlier outputs
        seen.setdefault(path, []).append([t.detach().float().clone().numpy() for t in tensors])

    for m in {id(m): m for m in module.modules()}.values():
        handles.append(m.register_forward_pre_hook(pre))
        handles.append(m.register_forward_hook(post))
    try:
        with torch.no_grad():
            out = module(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)))
    finally:
        for h in handles:
            h.remove()
    named = {}
    for path, calls in seen.items():
        if not path:
            continue
        for k, tensors in enumerate(calls):
            base = path if len(calls) == 1 else f"{path}.{k}"
            for i, t in enumerate(tensors):
                named[base if i == 0 else f"{base}:{i}"] = t
    return out, named


def metrics(trt_value, torch_value):
    """max abs error, relative error (max abs error / max |torch|), cosine similarity, in float64."""
    a = np.asarray(trt_value, np.float64).ravel()
    b = np.asarray(torch_value, np.float64).ravel()
    err = float(np.abs(a - b).max()) if a.size else 0.0
    scale = float(np.abs(b).max()) if b.size else 0.0
    rel = err / scale if scale > 0 else (0.0 if err == 0 else math.inf)
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    cos = float(a @ b / (na * nb)) if na > 0 and nb > 0 else (1.0 if na == nb else 0.0)
    return err, rel, cos


class Row:
    __slots__ = ("name", "layer_type", "shape", "max_abs", "rel", "cosine", "exceeds", "note")

    def __init__(self, name, layer_type, shape, max_abs=None, rel=None, cosine=None, exceeds=False, note=""):
        self.name, self.layer_type, self.shape = name, layer_type, shape
        self.max_abs, self.rel, self.cosine, self.exceeds, self.note = max_abs, rel, cosine, exceeds, note


class Report:
    def __init__(self, model, precision, tolerance, rows, unmatched, backend):
        self.model, self.precision, self.tolerance, self.rows = model, precision, tolerance, rows
        self.unmatched, self.backend = unmatched, backend
        self.first = next((r for r in rows if r.exceeds), None)

    def table(self, all_rows=True):
        lines = [f"{'layer (state_dict path)':<44} {'type':<14} {'shape':<22} {'max abs err':>11} {'rel err':>9} "
                 f"{'cosine':>10}"]
        for r in self.rows:
            if not all_rows and not r.exceeds and r is not self.first:
                continue
            shape = "x".join(str(d) for d in r.shape)
            if r.max_abs is None:
                lines.append(f"{r.name:<44} {r.layer_type:<14} {shape:<22} {r.note}")
                continue
            flag = "  <-- first above tolerance" if r is self.first else ("  !" if r.exceeds else "")
            lines.append(f"{r.name:<44} {r.layer_type:<14} {shape:<22} {r.max_abs:>11.3e} {r.rel:>9.2e} "
                         f"{r.cosine:>10.7f}{flag}")
        return "\n".join(lines)

    def summary(self):
        compared = sum(r.max_abs is not None for r in self.rows)
        head = (f"{self.model} ({self.precision}, {self.backend}): {compared} tensors compared with PyTorch, "
                f"tolerance rel {self.tolerance:g}")
        if self.first is None:
            worst = max((r for r in self.rows if r.rel is not None), key=lambda r: r.rel, default=None)
            return head + (f"; all within (worst {worst.name}: {worst.rel:.2e})" if worst else "")
        return head + f"; first above tolerance: {self.first.name} (rel {self.first.rel:.2e})"


def compare(d, reference, x, precision="fp32", tolerance=None, only=None):
    """Compare a netdef with its PyTorch reference on input `x` (N, C, H, W).

    d: a `netdefs.runtime.build.Definition` (the network defined, not yet built; this builds it with debug tensors).
    reference: the torch.nn.Module. only: restrict to tensor names for which this returns True.
    """
    tolerance = TOLERANCE[precision] if tolerance is None else tolerance
    _, expected = torch_outputs(reference, x)
    tensors = d.tensors()
    outputs = {d.network.get_output(i).name for i in range(d.network.num_outputs)}
    wanted = [n for n in tensors if n in expected and n not in outputs and (only is None or only(n))]
    engine = build_definition(d, debug_tensors=wanted, progress=False, quiet=True)
    got = engine(x, debug=True)
    layer_types = {}
    for i in range(d.network.num_layers):
        layer = d.network.get_layer(i)
        for j in range(layer.num_outputs):
            layer_types[layer.get_output(j).name] = d.trt.ILayer.type.__get__(layer, d.trt.ILayer).name.lower()
    rows = []
    for name in wanted:
        value, ref = got.get(name), expected[name]
        kind = layer_types.get(name, "?")
        if value is None:
            rows.append(Row(name, kind, ref.shape, note="not reported by the engine"))
        elif value.shape != ref.shape:
            rows.append(Row(name, kind, value.shape, note=f"not compared: shape {value.shape} vs torch {ref.shape}"))
        else:
            err, rel, cos = metrics(value, ref)
            rows.append(Row(name, kind, value.shape, err, rel, cos, exceeds=not rel <= tolerance))
    unmatched = [n for n in tensors if n not in expected]
    return Report(d.model, precision, tolerance, rows, unmatched, d.backend)
