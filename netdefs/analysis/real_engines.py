"""Real engine layer listings, aligned with a netdef and its predicted fusions (netdefs/analysis/fusion.py).

Reads the forms users have: the engine inspector's JSON (IEngineInspector, trtexec --exportLayerInfo, trex's
.graph.json), its ONELINE text (as printed by the TensorRT Cookbook), and trtexec --exportProfile per-layer times.

Each real engine layer is aligned with the netdef layers it computes:
- by name, when the engine was built from the netdef (fused names join the netdef's layer names, which are the
  state_dict prefixes);
- otherwise by structure, as for an engine built through ONNX from the same PyTorch model: the operations a layer's
  name or metadata lists (Conv, Add, Relu, Gemm, QuantizeLinear, ...) are looked up along the data flow from the
  netdef tensors its inputs stand for, checking kernel size, stride, output channels and groups. ONNX folds each
  BatchNorm into its convolution, so an ONNX Conv covers the netdef's convolution and the Scale after it.
A real compute kernel matches when exactly one predicted group covers the same netdef layers (layers that run no
kernel, such as constants, build-time weight Q/DQ and no-op reshapes, are left out of both sides). Reformat copies
and no-ops are listed and counted apart.
"""
import json
import re

from .fusion import COLOURS, NO_KERNEL, RULES, grid_layout

# ---------------------------------------------------------------- reading listings


class RealLayer:
    """One engine layer as the inspector lists it."""

    def __init__(self, index, name, kind, inputs, outputs, params, metadata=""):
        self.index, self.name, self.type = index, name, kind
        self.inputs, self.outputs = inputs, outputs  # [(tensor name, format/datatype)]
        self.params, self.metadata = params, metadata

    @property
    def copy_by_name(self):
        return self.name.startswith("Reformatting CopyNode") or self.params.get("Origin") == "REFORMAT"

    @property
    def no_op(self):
        return self.type in ("NoOp", "shape_call")


def precision(fmt):
    """FP32 / FP16 / INT8 / INT32 / INT64 (None if unknown) from a Format/Datatype string of any TensorRT version."""
    f = fmt.upper()
    for words, p in ((("FP32", "FLOAT"), "FP32"), (("FP16", "HALF"), "FP16"), (("INT8",), "INT8"),
                     (("INT32",), "INT32"), (("INT64",), "INT64"), (("BF16",), "BF16")):
        if any(w in f for w in words):
            return p
    return None


def _tensor_format(t):
    if "Format/Datatype" in t:
        return t["Format/Datatype"]
    return " ".join(str(t[k]) for k in ("DataType", "Format") if k in t)


def layers_from_json(rows):
    """RealLayers from the inspector's JSON layers (dicts; JSON strings as get_layer_information returns them)."""
    out = []
    for row in rows:
        row = json.loads(row) if isinstance(row, str) and row.startswith("{") else row
        if isinstance(row, str):  # LAYER_NAMES_ONLY: a name, nothing else
            out.append(RealLayer(len(out), row, "", [], [], {}))
            continue
        params = {k: v for k, v in row.items() if k not in ("Name", "LayerType", "Inputs", "Outputs", "Metadata")}
        tensors = [[(t.get("Name", ""), _tensor_format(t)) for t in row.get(key, [])] for key in ("Inputs", "Outputs")]
        out.append(RealLayer(len(out), row.get("Name", ""), row.get("LayerType", ""), *tensors, params,
                             row.get("Metadata", "") or ""))
    return out


def _bracketed(text, start):
    """The text between the bracket at `start` and its partner."""
    depth = 0
    for i in range(start, len(text)):
        depth += {"[": 1, "{": 1, "]": -1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return text[start + 1:i], i + 1
    return text[start + 1:], len(text)


def _oneline_tensors(text):
    return [(re.search(r"Name: (.*?), (?:Location|Dimensions)", t).group(1),
             (re.search(r"Format/Datatype: (.*?)\s*$", t) or re.search(r"()$", t)).group(1))
            for t in re.findall(r"\{([^{}]*)\}", text)]


def layers_from_oneline(text):
    """RealLayers from ONELINE layer information ("Name: ..., LayerType: ..., Inputs: [...], ..."). An engine with
    several optimization profiles lists its layers once per profile, profile 0 first; the later profiles start
    with a name marked "[profile N]" (their Myelin kernels are not marked), so the listing ends there."""
    out = []
    for line in text.splitlines():
        if not line.startswith("Name: "):
            continue
        if " [profile " in line.split(", LayerType:")[0]:
            break
        head, _, rest = line.partition(", LayerType: ")
        kind, _, rest = rest.partition(", ")
        tensors = {}
        for key in ("Inputs", "Outputs"):
            at = rest.find(f"{key}: [")
            if at >= 0:
                inner, end = _bracketed(rest, at + len(key) + 2)
                tensors[key] = _oneline_tensors(inner)
                rest = rest[:at] + rest[end:]
        metadata = rest.partition("Metadata:")[2].strip()
        rest = rest.partition("Metadata:")[0]
        params = {}
        for key, value in re.findall(r"(\w+): (\[[^\]]*\]|\{[^}]*\}|[^,]*)", rest):
            if value.startswith("["):
                params[key] = [int(v) for v in re.findall(r"-?\d+", value)]
            elif value.startswith("{"):
                params[key] = json.loads(value)
            else:
                params[key] = int(value) if re.fullmatch(r"-?\d+", value.strip()) else value.strip()
        out.append(RealLayer(len(out), head[len("Name: "):], kind, tensors.get("Inputs", []),
                             tensors.get("Outputs", []), params, metadata))
    return out


def read_layers(path):
    """The layers of a listing file: inspector JSON ({"Layers": [...]} or a list) or ONELINE text."""
    with open(path) as f:
        text = f.read()
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return layers_from_oneline(text)
    return layers_from_json(data.get("Layers", []) if isinstance(data, dict) else data)


def read_profile(path):
    """{layer name: (average ms, percent of the total)} from trtexec --exportProfile."""
    with open(path) as f:
        data = json.load(f)
    times = {}
    for row in data if isinstance(data, list) else data.get("Layers", []):
        if isinstance(row, dict) and "name" in row:
            ms = row.get("averageMs", row.get("timeMs", 0.0))
            times[row["name"]] = (float(ms), float(row.get("percentage", 0.0)))
    return times


def trt_version_of(layers):
    """"10" when the listing has Myelin kernels (TensorRT 10 compiles such regions), else "8"."""
    myelin = any(lay.type in ("kgen", "gemm", "shape_call") or lay.name.startswith("__myl") for lay in layers)
    return "10" if myelin else "8"


# ---------------------------------------------------------------- operations a real layer names
def _op(token):
    t = token.lower()
    if t.startswith(("(unnamed", "unsqueeze_node", "copied_squeeze")) or t.endswith((".weight", ".bias")):
        return None
    for pattern, op in ((r"dequantizelinear", "dq"), (r"quantizelinear", "q"), (r"globalaveragepool|reducemean",
                        "gap"), (r"max_?pool|average_?pool|avg_?pool", "pool"), (r"conv", "conv"),
                        (r"gemm|matmul|linear", "gemm"), (r"relu", "relu"), (r"(^|_)add(_|\d|$)", "add"),
                        (r"softmax", "softmax"), (r"argmax|topk", "topk"), (r"(^|_)(view|reshape|flatten)", "reshape"),
                        (r"(^|_)cast", "cast")):
        if re.search(pattern, t):
            return op
    return None


def operations(real):
    """The netdef-level operations a real layer computes, in order, from its ONNX metadata or its fused name."""
    tokens = re.findall(r"\[ONNX Layer: ([^\]]*)\]", real.metadata)
    if not tokens and real.name.startswith("__my"):
        return []  # a Myelin kernel's own name lists its internal steps, not the network's layers
    tokens = tokens or real.name.split(" + ")
    ops, after_weight = [], False
    for token in tokens:
        op = _op(token.strip())
        if op == "q" and after_weight:
            op = None  # the weights' quantizer, folded at build time
        after_weight = token.strip().endswith(".weight")
        if op is not None:
            ops.append(op)
    act = real.params.get("Activation", real.params.get("ConvActivation"))
    if act == "RELU" and "relu" not in ops:  # the inspector's parameters say the convolution applies it
        at = next((i for i, op in enumerate(ops) if op in ("conv", "gemm")), -1)
        ops.insert(at + 1, "relu")
    return ops


# ---------------------------------------------------------------- alignment
class Row:
    def __init__(self, real, kind, covered, groups, verdict, time=None):
        self.real, self.kind, self.covered, self.groups, self.verdict, self.time = \
            real, kind, covered, groups, verdict, time


class Alignment:
    def __init__(self, rows, summary, mode, trt_version):
        self.rows, self.summary, self.mode, self.trt_version = rows, summary, mode, trt_version
        compute = [r for r in rows if r.kind == "compute"]
        self.compute = len(compute)
        self.matched = sum(r.verdict == "agree" for r in compute)
        self.reformats = sum(r.kind == "reformat" for r in rows)
        self.noops = sum(r.kind == "noop" for r in rows)
        covered = {lay.index for r in rows for lay in r.covered}
        # predicted kernels no real layer computes any part of
        self.uncovered = [g for g in summary.groups if g.kernel and not any(m.index in covered for m in g.layers)]

    @property
    def share(self):
        return self.matched / self.compute if self.compute else 0.0


class _Aligner:
    def __init__(self, summary):
        self.summary = summary
        self.layers = summary.layers
        self.producer = {t: lay for lay in self.layers for t in lay.outputs}
        self.consumers = {}
        for lay in self.layers:
            for t in lay.inputs:
                if t is not None:
                    self.consumers.setdefault(t, []).append(lay)
        # weights' names (conv1.weight) also appear in ONNX-built names: only layers that compute say "built here"
        self.by_name = {lay.name: lay for lay in self.layers if lay.type != "CONSTANT"}
        self.all_names = {lay.name for lay in self.layers}
        self.groups_of = {}
        for g in summary.groups:
            for m in g.layers:
                self.groups_of.setdefault(m.index, []).append(g)
        self.tmap, self.used = {}, set()

    # layers that run no kernel in the prediction are left out of the comparison
    def free(self, lay):
        return all(g.rule in NO_KERNEL for g in self.groups_of.get(lay.index, []))

    def netdef_inputs(self):
        return [t for lay in self.layers for t in lay.inputs if t is not None and t not in self.producer]

    def mapped(self, tensor):
        if tensor in self.tmap:
            return self.tmap[tensor]
        return [tensor] if tensor in self.producer or tensor in self.consumers else []

    def users(self, tensor):
        return self.consumers.get(tensor, [])

    # ---- matching one operation
    def matches(self, op, lay, real):
        p = real.params
        if op == "conv" and lay.type in ("CONVOLUTION", "DECONVOLUTION"):
            checks = (("Kernel", "kernel"), ("OutMaps", "maps"), ("Stride", "stride"), ("Groups", "groups"))
            for key, attr in checks:
                want = p.get(key, p.get(f"Conv{key}"))
                have = lay.attrs.get(attr)
                if want is not None and have is not None and \
                        (tuple(want) if isinstance(want, list) else want) != have:
                    return False
            return True
        if op == "gemm" and lay.type == "MATRIX_MULTIPLY":
            maps = p.get("OutMaps")
            return maps is None or not lay.shapes or lay.shapes[0][-1] in (maps, -1)
        kinds = {"relu": ("ACTIVATION", "RELU"), "add": ("ELEMENTWISE", "SUM"), "pool": ("POOLING", None),
                 "q": ("QUANTIZE", None), "dq": ("DEQUANTIZE", None), "softmax": ("SOFTMAX", None),
                 "topk": ("TOPK", None), "reshape": ("SHUFFLE", None), "cast": ("CAST", None)}
        if op == "gap":
            return (lay.type == "REDUCE" and lay.attrs.get("op") == "AVG") or \
                (lay.type == "POOLING" and lay.attrs.get("op") == "AVERAGE")
        if op in ("q", "dq") and self.weight_qdq(lay):
            return False
        kind = kinds.get(op)
        return kind is not None and lay.type == kind[0] and (kind[1] is None or lay.attrs.get("op") == kind[1])

    def weight_qdq(self, lay):
        src = self.producer.get(lay.inputs[0]) if lay.inputs else None
        if lay.type == "DEQUANTIZE" and src is not None and src.type == "QUANTIZE":
            src = self.producer.get(src.inputs[0])
        return src is not None and src.type == "CONSTANT"

    def transparent(self, lay, op):
        """Layers between a kernel's input and its first operation that cost nothing on their own: the activation
        Dequantize an INT8 kernel reads through, reshapes, identities, precision casts."""
        if lay.type in ("SHUFFLE", "IDENTITY"):
            return op != "reshape" and not lay.attrs.get("transpose")
        if lay.index in self.used:
            return False
        if lay.type == "DEQUANTIZE":
            return op != "dq" and not self.weight_qdq(lay)
        return lay.type == "CAST" and lay.dtypes[0] in ("FLOAT", "HALF") and op != "cast"

    def find(self, op, tensors, real):
        """(layers passed through, the layer doing `op`) nearest along the data flow from `tensors`."""
        for t in tensors:  # a layer TensorRT splits over two kernels (Myelin's softmax) is found again
            p = self.producer.get(t)
            if p is not None and op == "softmax" and self.matches(op, p, real):
                return [], p
        level, seen = [(t, []) for t in tensors], set()
        while level:
            found, nxt = [], []
            for t, path in level:
                for u in self.users(t):
                    if u.index in seen:
                        continue
                    seen.add(u.index)
                    if u.index not in self.used and self.matches(op, u, real):
                        found.append((path, u))
                    elif self.transparent(u, op):
                        nxt.extend((o, path + [u]) for o in u.outputs)
            if found:
                # a standalone Dequantize feeds a non-weighted layer (a weighted one would have taken it)
                return min(found, key=lambda f: (op == "dq" and any(c.type in ("CONVOLUTION", "MATRIX_MULTIPLY")
                                                                   for c in self.users(f[1].outputs[0])),
                                                 f[1].index))
            level = nxt
        return None

    def extras(self, op, lay, starts):
        """What the same real operation covers beyond `lay`: (layers before it, layers after it)."""
        out, before = [], []
        sole = self.users(lay.outputs[0])
        if op == "conv" and len(sole) == 1 and sole[0].type == "SCALE" and sole[0].index not in self.used:
            out.append(sole[0])  # the BatchNorm ONNX folded into the convolution
        if op == "gemm" and len(sole) == 1 and sole[0].type == "ELEMENTWISE" and any(
                getattr(self.producer.get(t), "type", None) == "CONSTANT" for t in sole[0].inputs):
            out.append(sole[0])  # the bias of an ONNX Gemm / nn.Linear
        if op == "q":
            out += [u for u in self.users(lay.inputs[0]) if u is not lay and u.type == "QUANTIZE"
                    and u.index not in self.used]
        if op == "add":  # an INT8 residual read by the kernel itself
            for t in lay.inputs:
                dq = self.producer.get(t)
                if dq is not None and dq.type == "DEQUANTIZE" and dq.index not in self.used \
                        and dq.inputs[0] in starts:
                    before.append(dq)
        return before, out

    # ---- one real layer
    def walk(self, real):
        starts = [nt for name, _ in real.inputs for nt in self.mapped(name)]
        covered, cur, last = [], list(starts), None
        # built from the netdef, the names say it: "a + b", "fusedPointwiseNode(a, b)", "PWN(PWN(a, b), c)"
        named = [] if real.copy_by_name else \
            [self.by_name[t] for t in dict.fromkeys(re.split(r"[\s,()+]+", real.name)) if t in self.by_name]
        if named:
            covered, last = named, named[-1]
            cur = list(last.outputs)
        elif real.no_op or real.copy_by_name or real.type == "Reformat" and not operations(real):
            cur = self.copy(real, starts, covered)
        else:
            ops = operations(real)
            for op in ops:
                hit = self.find(op, cur, real)
                if hit is None:
                    break
                path, lay = hit
                before, after = self.extras(op, lay, starts)
                covered += path + before + [lay] + after
                last = (after or [lay])[-1]
                cur = [t for m in ([lay] + after if op == "q" else [last]) for t in m.outputs]
            if not ops:  # a Myelin kernel without metadata: casts and reshapes at a region's border
                cur = self.copy(real, starts, covered, chain=True)
            outs = [precision(f) for _, f in real.outputs]
            if "INT8" in outs and last is not None and last.type != "QUANTIZE":
                qs = [u for t in cur for u in self.users(t) if u.type == "QUANTIZE" and u.index not in self.used]
                if qs:  # the kernel writes INT8: the quantizers of its output are part of it
                    covered += qs
                    cur = [q.outputs[0] for q in qs]
        for lay in covered:
            self.used.add(lay.index)
        if last is not None and len(real.outputs) == len(last.outputs) > 1:
            for (name, _), t in zip(real.outputs, last.outputs):
                self.tmap[name] = [t]
        else:
            for name, _ in real.outputs:
                self.tmap[name] = cur or starts
        return covered

    def copy(self, real, starts, covered, chain=False):
        """A copy (reformat, no-op, Myelin cast / reshape) stands for the same netdef tensor, or for the netdef's
        casts and reshapes it performs."""
        cur = list(starts)
        ins = {precision(f) for _, f in real.inputs}
        outs = {precision(f) for _, f in real.outputs}
        while True:
            step = [u for t in cur for u in self.users(t) if u.index not in self.used and (
                (u.type == "CAST" and (chain or ins != outs)) or (chain and u.type in ("SHUFFLE", "IDENTITY")))]
            if not step:
                return cur
            covered += step
            for u in step:
                self.used.add(u.index)
            cur = [o for u in step for o in u.outputs]


def align(real_layers, summary, times=None):
    """Align `real_layers` (RealLayer list, engine order) with `summary` (netdefs.analysis.fusion.Summary)."""
    a = _Aligner(summary)
    produced = {name for r in real_layers for name, _ in r.outputs}
    real_inputs = []
    for r in real_layers:
        real_inputs += [name for name, _ in r.inputs if name not in produced and name not in real_inputs]
    for real_name, netdef_name in zip(real_inputs, dict.fromkeys(a.netdef_inputs())):
        a.tmap.setdefault(real_name, a.mapped(real_name) or [netdef_name])
    rows = []
    named = 0
    for real in real_layers:
        covered = a.walk(real)
        named += any(t in a.by_name for t in real.name.split(" + "))
        rows.append(_row(a, real, covered, (times or {}).get(real.name)))
    mode = "by name" if named * 2 > len(real_layers) else "by structure"
    return Alignment(rows, summary, mode, summary.trt_version)


def _row(a, real, covered, time):
    compared = {lay.index for lay in covered if not a.free(lay)}
    groups = []
    for lay in covered:
        for g in a.groups_of.get(lay.index, []):
            if g not in groups:
                groups.append(g)
    named = all(t in a.all_names for t in real.name.split(" + "))
    if real.no_op or (named and not compared):  # a netdef layer that runs no kernel, listed by an unfused engine
        return Row(real, "noop", covered, groups, "no-op", time)
    if not compared and operations(real) and not real.copy_by_name:  # it computes something the netdef lacks
        return Row(real, "compute", covered, groups, "unaligned", time)
    if real.copy_by_name or not compared:
        predicted = any(g.rule == "reformat" for g in groups)
        return Row(real, "reformat", covered, groups, "predicted copy" if predicted else "copy", time)
    exact = [g for g in groups if g.kernel and {m.index for m in g.layers if not a.free(m)} == compared]
    if exact:
        return Row(real, "compute", covered, exact[:1], "agree", time)
    return Row(real, "compute", covered, [g for g in groups if g.kernel or g.rule == "reformat"], "differ", time)


# ---------------------------------------------------------------- reports
def _names(layers):
    return " + ".join(lay.name for lay in layers) or "-"


def figures(al):
    pct = sum(r.time[1] for r in al.rows if r.time and r.kind == "compute" and r.verdict == "agree")
    total = sum(r.time[1] for r in al.rows if r.time and r.kind == "compute")
    time = f", {pct / total:.1%} of the compute time" if total else ""
    return (f"matched {al.matched}/{al.compute} real kernels ({al.share:.1%}{time}); predicted kernels "
            f"{al.summary.kernels}, real {al.compute}; reformat copies: {al.reformats} real, "
            f"{al.summary.reformats} predicted; no-ops: {al.noops}")


def text(al, title):
    """Side by side: each real engine layer, the netdef layers it covers, the predicted group, agree / differ."""
    lines = [f"{title}: real engine vs PREDICTED fusions (TensorRT {al.trt_version}.x rules; aligned {al.mode})",
             f"{'#':>3} {'real engine layer':<46} {'time':>6}  {'verdict':<14} netdef layers it covers",
             ]
    k = 0
    for r in al.rows:
        k += r.kind == "compute"
        mark = k if r.kind == "compute" else "R" if r.kind == "reformat" else "-"
        time = f"{r.time[1]:5.1f}%" if r.time else ""
        name = r.real.name if len(r.real.name) <= 46 else r.real.name[:43] + "..."
        lines.append(f"{mark:>3} {name:<46} {time:>6}  {r.verdict:<14} {_names(r.covered)}")
        if r.verdict == "differ":
            for g in r.groups:
                lines.append(f"{'':>3} {'':<46} {'':>6}  {'  predicted:':<14} [{RULES[g.rule][0]}] {_names(g.layers)}")
    for g in al.uncovered:
        lines.append(f"{'?':>3} {'(no real layer)':<46} {'':>6}  {'predicted only':<14} [{RULES[g.rule][0]}] "
                     f"{_names(g.layers)}")
    lines += ["", figures(al)]
    return "\n".join(lines)


def to_json(al, title):
    return {"title": title, "trt_version": al.trt_version, "aligned": al.mode, "matched": al.matched,
            "real_kernels": al.compute, "predicted_kernels": al.summary.kernels, "real_reformats": al.reformats,
            "predicted_reformats": al.summary.reformats, "noops": al.noops,
            "rows": [{"real": r.real.name, "type": r.real.type, "kind": r.kind, "verdict": r.verdict,
                      "covers": [lay.name for lay in r.covered],
                      "predicted": [{"rule": g.rule, "layers": [m.name for m in g.layers]} for g in r.groups],
                      "time_ms": r.time[0] if r.time else None, "time_pct": r.time[1] if r.time else None}
                     for r in al.rows]}


def svg(al, title):
    """The real engine's layers as boxes, coloured by the predicted group of what they cover; differences in red,
    copies grey, no-ops left out."""
    from xml.sax.saxutils import escape

    rows = [r for r in al.rows if r.kind != "noop"]
    producer = {name: i for i, r in enumerate(rows) for name, _ in r.real.outputs}
    through = {}  # no-ops pass their input on
    for r in al.rows:
        if r.kind == "noop" and r.real.inputs:
            for name, _ in r.real.outputs:
                through[name] = r.real.inputs[0][0]
    level = [0] * len(rows)
    edges = set()
    for i, r in enumerate(rows):
        for name, _ in r.real.inputs:
            while name in through and name not in producer:
                name = through[name]
            j = producer.get(name)
            if j is not None and j < i:
                edges.add((j, i))
                level[i] = max(level[i], level[j] + 1)
    bw, bh, gx, gy, top = 300, 26, 20, 22, 70
    position, width, height = grid_layout(level, bw, bh, gx, gy, top)

    def centre(i):
        c, lv = position[i]
        return gx + c * (bw + gx) + bw / 2, top + lv * (bh + gy)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="monospace" '
           f'font-size="11">', f'<text x="{gx}" y="20" font-size="14">{escape(title)}: real engine layers (boxes), '
           f'predicted groups (colour), differences (red)</text>',
           f'<text x="{gx}" y="40">{escape(figures(al))}</text>']
    for j, i in sorted(edges):
        (x1, y1), (x2, y2) = centre(j), centre(i)
        out.append(f'<line x1="{x1:.0f}" y1="{y1 + bh:.0f}" x2="{x2:.0f}" y2="{y2:.0f}" stroke="#999"/>')
    for i, r in enumerate(rows):
        x, y = centre(i)
        rule = r.groups[0].rule if r.groups else "single"
        fill = COLOURS.get(rule, "#ffffff") if r.kind == "compute" else "#eeeeee"
        stroke, sw = ("#d62728", 3) if r.verdict == "differ" else ("#444", 1)
        tip = (f"{r.real.name} [{r.real.type}]\n{r.verdict}: covers {_names(r.covered)}\n"
               + "\n".join(f"predicted [{RULES[g.rule][0]}] {_names(g.layers)}" for g in r.groups))
        label = ("≠ " if r.verdict == "differ" else "") + r.real.name
        out.append(f'<g><title>{escape(tip)}</title><rect x="{x - bw / 2:.0f}" y="{y:.0f}" width="{bw}" '
                   f'height="{bh}" rx="4" fill="{fill}" stroke="{stroke}" stroke-width="{sw}"/>'
                   f'<text x="{x - bw / 2 + 5:.0f}" y="{y + 17:.0f}">{escape(label[:44])}</text></g>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def trt_version_of_module(trt):
    """The rules for the TensorRT that built an engine: "8" for 8.x, else "10" (reftrt stands for the newest)."""
    return "8" if str(getattr(trt, "__version__", "")).startswith("8.") else "10"
