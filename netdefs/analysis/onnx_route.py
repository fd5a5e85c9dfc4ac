"""The ONNX route's traps: export an upstream PyTorch model with torch.onnx.export (the default, dynamo-based exporter and
the legacy TorchScript one), check the ONNX model with onnxruntime against PyTorch, and list the nodes that TensorRT's
ONNX parser (onnx-tensorrt) is documented or known to import differently, or not at all.

The table of parser behaviours (`KNOWN`) is small on purpose: each entry names its source (the parser's source file or
operator table, or a TensorRT issue) and the TensorRT versions it applies to, and is tested on hand-made graphs
(tests/tools/test_onnx_route.py). It is not a parser: a model with no finding can still fail to parse for other reasons.

torch, onnx and onnxruntime are imported here, lazily: nothing on the TensorRT build path imports this module.
"""
import contextlib
import io
import os
import tempfile
import warnings
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Behaviour:
    key: str
    op: str
    what: str       # what the parser does with such a node
    effect: str     # "wrong results, no error" / "parse error" / "needs a plugin"
    source: str
    versions: str


KNOWN = {
    "gridsample-linear": Behaviour(
        "gridsample-linear", "GridSample",
        'mode "linear" / "cubic" (the opset-20 names of "bilinear" / "bicubic") is not matched by the importer, which '
        'then samples with NEAREST',
        "wrong results, no error",
        "onnx-tensorrt onnxOpImporters.cpp GridSample importer (mode compared with \"bilinear\" / \"nearest\" / "
        "\"bicubic\", default kNEAREST); NVIDIA/TensorRT#4646; fix proposed in onnx/onnx-tensorrt#1060 (open)",
        "TensorRT 8.6 (the first GridSample importer) to 11.x; reproduced on 11.1 (onnx/onnx-tensorrt#1060)"),
    "resize-antialias": Behaviour(
        "resize-antialias", "Resize",
        "antialias=1 is refused",
        "parse error",
        'onnx-tensorrt onnxOpCheckers.cpp "Antialiasing is not supported currently"; docs/operators.md (Resize: '
        '"Antialiasing is not supported"); NVIDIA/TensorRT#3560 (open)',
        "TensorRT 8.6 (opset 18 Resize) to 10.15 at least (the operator table of 10.15)"),
    "dft": Behaviour(
        "dft", "DFT",
        "no importer",
        "parse error",
        "onnx-tensorrt docs/operators.md (DFT: N)",
        "TensorRT <= 10.15 (the operator table of 10.15); the 11.2 release notes add DFT through an FFT plugin"),
    "deformconv": Behaviour(
        "deformconv", "DeformConv",
        "imported only through the ModulatedDeformConv2d plugin, with 1-D / 2-D inputs and equal begin / end pads",
        "parse error before 10.1, or with asymmetric pads",
        "onnx-tensorrt docs/operators.md (DeformConv: pads for the beginning and end must be the same)",
        "absent before TensorRT 10.1; restricted from 10.1"),
    "custom-domain": Behaviour(
        "custom-domain", "*",
        "an operator outside the ONNX domain has no importer: the parser looks for a plugin of that name",
        "parse error unless a plugin of that name is registered",
        "onnx-tensorrt ModelImporter.cpp (\"No importer registered for op ... Attempting to import as plugin\")",
        "every version"),
}


@dataclass
class Finding:
    key: str
    node: str
    op: str
    detail: str
    behaviour: Behaviour = field(repr=False)


def _attr(node, name, default=None):
    from onnx import helper
    for a in node.attribute:
        if a.name == name:
            value = helper.get_attribute_value(a)
            return value.decode() if isinstance(value, bytes) else value
    return default


def _nodes(model):
    """Every node of the graph, its subgraphs (If / Loop bodies) and its model-local functions."""
    def walk(nodes):
        for node in nodes:
            yield node
            for a in node.attribute:
                if a.g is not None and len(a.g.node):
                    yield from walk(a.g.node)
                for g in a.graphs:
                    yield from walk(g.node)
    yield from walk(model.graph.node)
    for f in model.functions:
        yield from walk(f.node)


def findings(model):
    """The nodes of the onnx.ModelProto `model` that the parser imports differently or not at all, as Findings."""
    local = {(f.domain, f.name) for f in model.functions}  # calls of model-local functions are inlined by the parser
    out = []
    for node in _nodes(model):
        name = node.name or node.output[0]
        if node.domain not in ("", "ai.onnx") and (node.domain, node.op_type) not in local:
            out.append(Finding("custom-domain", name, f"{node.domain}::{node.op_type}", "", KNOWN["custom-domain"]))
        elif node.domain not in ("", "ai.onnx"):
            continue
        elif node.op_type == "GridSample":
            mode = _attr(node, "mode", "linear" if _opset(model) >= 20 else "bilinear")
            if mode in ("linear", "cubic"):
                out.append(Finding("gridsample-linear", name, "GridSample", f'mode "{mode}"', KNOWN["gridsample-linear"]))
        elif node.op_type == "Resize" and _attr(node, "antialias", 0):
            out.append(Finding("resize-antialias", name, "Resize", f'antialias=1, mode "{_attr(node, "mode", "nearest")}"',
                               KNOWN["resize-antialias"]))
        elif node.op_type == "DFT":
            out.append(Finding("dft", name, "DFT", "", KNOWN["dft"]))
        elif node.op_type == "DeformConv":
            pads = list(_attr(node, "pads", []) or [])
            half = len(pads) // 2
            detail = f"pads {pads}" + (" (asymmetric)" if pads[:half] != pads[half:] else "")
            out.append(Finding("deformconv", name, "DeformConv", detail, KNOWN["deformconv"]))
    return out


def _opset(model):
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)


# ---- export and check
def _outputs(module, x):
    """The tensors a model returns, flattened (tuples, lists, HF outputs' .logits; None dropped)."""
    import torch
    with torch.no_grad():
        out = module(x)
    flat = []

    def add(v):
        if isinstance(v, torch.Tensor):
            flat.append(v)
        elif isinstance(v, (list, tuple)):
            for item in v:
                add(item)
        elif hasattr(v, "logits"):
            add(v.logits)
    add(out)
    return flat


def export(module, x, dynamo, path, opset=None):
    """torch.onnx.export of `module` on example input `x` into `path` (opset None: the exporter's default);
    (onnx.ModelProto, None) or (None, the error on one line)."""
    import onnx
    import torch
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            kwargs = {} if opset is None else {"opset_version": opset}
            torch.onnx.export(module, (x,), path, dynamo=dynamo, input_names=["images"], **kwargs)
        return onnx.load(path), None
    except Exception as e:  # the exporter's failures are the finding here, whatever their type
        return None, " ".join(f"{type(e).__name__}: {e}".split())[:300]


def ort_error(path, x, reference):
    """Max relative error of onnxruntime's outputs against PyTorch's (paired in order), or the error message."""
    import onnxruntime as ort
    try:
        session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        outs = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    except Exception as e:
        return " ".join(f"{type(e).__name__}: {e}".split())[:300]
    errs = []
    for o, r in zip(outs, reference):
        r = r.numpy().astype(np.float64)
        if o.shape != r.shape:
            return f"output shape {o.shape} differs from PyTorch's {r.shape}"
        errs.append(float(np.abs(o - r).max() / max(np.abs(r).max(), 1e-12)))
    return max(errs) if errs else "no outputs"


@dataclass
class Route:
    exporter: str           # "dynamo" or "legacy"
    opset: int = 0
    error: str = ""         # the export's failure, if any
    ort: object = None      # max relative error against PyTorch, or onnxruntime's failure
    findings: list = field(default_factory=list)

    @property
    def verdict(self):
        if self.error:
            return "export fails"
        if not isinstance(self.ort, float):
            return "onnxruntime fails"
        if self.ort > 1e-3:
            return "onnxruntime differs"
        if any(f.behaviour.effect.startswith("wrong") for f in self.findings):
            return "TensorRT: silently wrong"
        if self.findings:
            return "TensorRT: parse error"
        return "clean"


def check(module, x, opset=None):
    """Both exporters' routes for `module` (eval mode) on input x (a torch tensor): [Route dynamo, Route legacy]
    (opset None: each exporter's default, 20 for both with torch 2.14)."""
    reference = _outputs(module, x)
    routes = []
    with tempfile.TemporaryDirectory(prefix="onnx-route-") as tmp:
        for exporter, dynamo in (("dynamo", True), ("legacy", False)):
            path = os.path.join(tmp, f"{exporter}.onnx")
            model, error = export(module, x, dynamo, path, opset)
            route = Route(exporter)
            if model is None:
                route.error = error
            else:
                route.opset = _opset(model)
                route.ort = ort_error(path, x, reference)
                route.findings = findings(model)
            routes.append(route)
    return routes


def randomise(module, seed=0):
    """Seeded random weights and BatchNorm statistics (a fresh model's BN is the identity, and meta-device models
    have none): the ONNX check compares numbers, so they must be ordinary ones."""
    import torch
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) / (p[0].numel() ** 0.5 if p.dim() > 1 else 10.0))
        for m in module.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.weight.add_(1.0)
                m.running_mean.copy_(0.1 * torch.randn(m.running_mean.shape, generator=g))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=g))
        for name, b in module.named_buffers():
            if b.is_floating_point() and not torch.isfinite(b).all():
                b.zero_()
    return module.float().eval()


def format_report(model, imgsz, routes):
    """The report: per exporter its opset, onnxruntime's error against PyTorch and verdict, then the findings grouped
    by behaviour and detail (a model has 18 GridSample nodes alike), each with its source and TensorRT versions."""
    lines = [f"{model} ({imgsz[0]}x{imgsz[1]}):"]
    for r in routes:
        head = f"  {r.exporter:7s}"
        if r.error:
            lines.append(f"{head} export fails: {r.error}")
            continue
        ort = f"{r.ort:.1e}" if isinstance(r.ort, float) else r.ort
        lines.append(f"{head} opset {r.opset}, onnxruntime vs PyTorch {ort}: {r.verdict}")
        groups = {}
        for f in r.findings:
            groups.setdefault((f.key, f.op, f.detail), []).append(f.node)
        for (key, op, detail), nodes in groups.items():
            b = KNOWN[key]
            lines.append(f"    {len(nodes)} x {op}{' [' + detail + ']' if detail else ''} (first: {nodes[0]}): "
                         f"{b.what} -> {b.effect}")
            lines.append(f"      source: {b.source}")
            lines.append(f"      applies to: {b.versions}")
    return "\n".join(lines)


# ---- the zoo's upstream models
def default_shapes(spec):
    """The weight shapes netdefs.analysis.reference needs to size an upstream model without weights: its class
    count (the family's demo class count)."""
    family, nc = spec.family.name, spec.family.demo_classes
    if family == "yolov5":
        from ..families import yolov5
        _, arch, seg = spec.variant
        return {f"model.{yolov5.detect_index(arch)}.m.0.bias": (3 * (nc + 5 + (32 if seg else 0)),)}
    if family in ("resnet", "mobilenet"):
        return {"fc.weight": (nc, 1), "classifier.3.weight": (nc, 1), "classifier.1.weight": (nc, 1)}
    if family == "smp":
        return {"segmentation_head.0.weight": (nc, 1, 1, 1)}
    if family == "segformer":
        return {"decode_head.classifier.weight": (nc, 1, 1, 1)}
    if family == "rtdetr":
        from ..families.rtdetr import decoder_index
        return {f"model.{decoder_index(spec.name)}.dec_score_head.0.bias": (nc,)}
    raise ValueError(f"no default shapes for family {family}")


class Primary:
    """What a user exports: the model's first output (YOLOv5 `pred`, RT-DETR's (batch, queries, 6) top-k output,
    SegFormer's logits, the tensor of the others), as a module with one tensor output."""

    def __new__(cls, module):
        import torch

        class _Primary(torch.nn.Module):
            def __init__(self, inner):
                super().__init__()
                self.inner = inner

            def forward(self, x):
                out = self.inner(x)
                while isinstance(out, (list, tuple)):
                    out = out[0]
                return getattr(out, "logits", out)
        return _Primary(module).eval()


def upstream(model, weights=None, seed=0):
    """(the upstream PyTorch model of zoo `model` as exported, its family): with `weights` (a path) loaded as
    tools/compare.py loads them, otherwise seeded random weights."""
    from .. import families
    from . import reference
    spec = families.get(model)
    if weights:
        module, _ = reference.resolve(weights, spec.name)
    else:
        module = randomise(reference.architecture(spec.name, default_shapes(spec)), seed)
    return Primary(module), spec
