"""The plugin instance behind an IPluginV3Layer, and how reftrt runs it.

TensorRT's quickly deployable plugins (`tensorrt/plugin/_plugin_class.py`) call the registration function to get
output types (`get_output_data_types`) and symbolic output shapes (`get_output_shapes`), the autotune function to
get the supported I/O combinations (`get_supported_format_combinations`), and the impl function at `enqueue`, with
`Tensor`s over the I/O buffers. reftrt does the same in one place, `QuickPlugin.forward`, which the layer's
`_forward` calls:
- analysis (definition-time shapes, build validation, run-time shape inference): the registration function runs on
  descriptors with the input shapes; its shape expressions are evaluated to sizes; a size tensor's extent is an
  unknown (data-dependent) size. At build time the autotune combinations are checked against the network's types.
- run time: outputs are allocated (data-dependent ones at their upper bound), the impl writes them in place, and
  data-dependent outputs are cut to the extent the impl wrote into their size tensor, as TensorRT does.
"""
import base64

import numpy as np
import torch

from .._enums import DataType, Severity, TensorFormat
from .._types import from_torch_dtype
from ._autotune import AutoTuneCombination, select
from ._tensor import (Shape, ShapeExpr, ShapeExprs, SizeTensorDesc, SizeTensorShapeExpr, Tensor, TensorDesc,
                      torch_dtype_of)

PLAN_KIND = "tensorrt.plugin"


class QuickPlugin:
    """A plugin instance: a registered plugin with attribute values (what TensorRT's `_TemplateJITPlugin` is)."""

    def __init__(self, plugin_def, attrs, impl_kind):
        namespace, name = plugin_def.plugin_id.split("::")
        self.plugin_name = name
        self.plugin_namespace = namespace
        self.plugin_version = "1"
        self.num_outputs = plugin_def.num_outputs
        self._def = plugin_def
        self._attrs = attrs
        self._kind = impl_kind  # "jit" or "aot": which implementation TensorRT would build
        # As TensorRT's plugin creator does, take the functions as they are when the plugin is created.
        self._register = plugin_def.register_func
        self._impl = plugin_def.impl_func
        self._impl_attr_names = list(plugin_def.impl_attr_names or [])
        self._expects_tactic = bool(plugin_def.expects_tactic)
        self._autotune = plugin_def.autotune_func
        self._autotune_attr_names = list(plugin_def.autotune_attr_names or [])
        self._has_aot = plugin_def.aot_impl_func is not None
        self._tactic = 0
        self._static = None  # per input, which dimensions are static (build-time constants)
        self._warned = False

    @property
    def plugin_id(self):
        return self._def.plugin_id

    def __repr__(self):
        return f"<tensorrt.plugin {self.plugin_id!r} ({self._kind.upper()}) attrs={self._attrs!r}>"

    # ---- plan
    def _plan_encode(self, encode):
        return {"kind": PLAN_KIND, "plugin_id": self.plugin_id, "impl": self._kind, "tactic": self._tactic,
                "static": self._static, "attrs": {k: _encode_attr(v) for k, v in self._attrs.items()}}

    @classmethod
    def _from_plan(cls, plugin_def, record):
        attrs = {k: _decode_attr(v) for k, v in record["attrs"].items()}
        if set(attrs) != set(plugin_def.input_attrs):
            raise ValueError(f"plugin '{plugin_def.plugin_id}': the plan has attributes {sorted(attrs)}, the plugin "
                             f"registered in this process has {sorted(plugin_def.input_attrs)}")
        if plugin_def.impl_func is None:
            raise ValueError(f"plugin '{plugin_def.plugin_id}' has no @tensorrt.plugin.impl in this process, which "
                             f"reftrt needs to run it")
        plugin = cls(plugin_def, attrs, record.get("impl", "jit"))
        plugin._tactic = int(record.get("tactic", 0))
        plugin._static = record.get("static")
        return plugin

    # ---- shapes and types
    def _input_descs(self, inputs):
        descs = []
        for i, x in enumerate(inputs):
            static = self._static[i] if self._static and i < len(self._static) else None
            if static is None or len(static) != x.dim():
                static = [False] * x.dim()
            exprs = ShapeExprs.from_tuple([ShapeExpr._make(int(d), bool(s)) for d, s in zip(x.shape, static)])
            desc = TensorDesc(exprs, from_torch_dtype(x.dtype))
            desc._immutable = True
            descs.append(desc)
        return descs

    def _outputs(self, layer, in_descs):
        fail = layer._fail
        try:
            outs = self._register(*in_descs, **self._attrs)
        except Exception as e:  # the user's function: report any failure against the layer
            fail(f"plugin '{self.plugin_id}': its register function raised {type(e).__name__}: {e}")
        if not isinstance(outs, tuple):
            outs = (outs,)
        if len(outs) != self.num_outputs:
            fail(f"plugin '{self.plugin_id}': the register function returned {len(outs)} descriptors, its return "
                 f"annotation declares {self.num_outputs}")
        for k, desc in enumerate(outs):
            if not isinstance(desc, TensorDesc):
                fail(f"plugin '{self.plugin_id}': output {k} is a {type(desc).__name__}, not a TensorDesc")
            if not isinstance(desc.dtype, DataType):
                fail(f"plugin '{self.plugin_id}': output {k} has dtype {desc.dtype!r}, not a trt.DataType")
            if isinstance(desc, SizeTensorDesc):
                desc._set_index(k)
                if desc.dtype not in (DataType.INT32, DataType.INT64):
                    fail(f"plugin '{self.plugin_id}': size tensor output {k} must be INT32 or INT64, got "
                         f"{desc.dtype.name}")
        return outs

    def _evaluate(self, layer, outs, ctx):
        """Output shapes: (shapes, data-dependent dims {output: {dim: size-tensor output}}, upper bounds)."""
        fail = layer._fail
        sizes, upper = {}, {}
        shapes, dds = [], {}
        for k, desc in enumerate(outs):
            shape = []
            for j, e in enumerate(desc.shape_expr or ()):
                if isinstance(e, SizeTensorShapeExpr):
                    st = e._size_tensor_desc
                    if st.index is None or outs[st.index] is not st:
                        fail(f"plugin '{self.plugin_id}': output {k} uses a size tensor that is not one of the "
                             f"plugin's outputs")
                    if st.index not in sizes:
                        bound = st.upper_bound
                        bound = bound._v if isinstance(bound, ShapeExpr) else bound
                        if not isinstance(bound, int) or bound < 0:
                            fail(f"plugin '{self.plugin_id}': the upper bound of size tensor {st.index} is not a "
                                 f"known non-negative size ({st.upper_bound!r})")
                        upper[st.index] = bound
                        sizes[st.index] = ctx.unknown_size(bound) if ctx.analysis else bound
                    dds.setdefault(k, {})[j] = st.index
                    shape.append(sizes[st.index])
                    continue
                if not isinstance(e, ShapeExpr) or e._is_dummy or e._v is None:
                    fail(f"plugin '{self.plugin_id}': dimension {j} of output {k} is not a shape expression ({e!r})")
                if e._v < 0:
                    fail(f"plugin '{self.plugin_id}': dimension {j} of output {k} is negative ({e._v})")
                shape.append(e._v)
            shapes.append(shape)
        return shapes, dds, upper

    def _aliases(self, layer, in_descs, outs):
        aliases = {}
        for k, desc in enumerate(outs):
            source = desc.get_aliased()
            if source is None:
                continue
            j = next((j for j, d in enumerate(in_descs) if d is source), None)
            if j is None:
                layer._fail(f"plugin '{self.plugin_id}': output {k} is aliased to a descriptor that is not one of "
                            f"the plugin's inputs")
            aliases[k] = j
        return aliases

    # ---- build-time checks
    def _check_build(self, layer, inputs, in_descs, outs, shapes):
        pid = self.plugin_id
        if self._impl is None:
            if self._kind == "aot" or self._has_aot:
                layer._fail(f"plugin '{pid}' has only an AOT implementation (@tensorrt.plugin.aot_impl, compiled "
                            f"GPU code), which reftrt cannot run on the CPU; define a @tensorrt.plugin.impl for it")
            layer._fail(f"plugin '{pid}' has no @tensorrt.plugin.impl (it must be defined before "
                        f"network.add_plugin is called)")
        if self._kind == "aot" and not self._warned:
            self._warned = True
            layer._network._log(Severity.WARNING, f"{layer.name}: plugin '{pid}' uses its AOT implementation on "
                                                  f"TensorRT; reftrt runs its @tensorrt.plugin.impl instead")
        types = [d.dtype for d in in_descs] + [d.dtype for d in outs]
        if self._autotune is None:
            self._tactic = 0
            return
        for desc, shape in list(zip(in_descs, [list(x.shape) for x in inputs])) + list(zip(outs, shapes)):
            desc.__dict__["_shape"] = Shape(shape)
            desc.__dict__["_format"] = TensorFormat.LINEAR
            desc.__dict__["_scale"] = -1.0
        values = [self._attrs[k] for k in self._autotune_attr_names]
        try:
            combinations = self._autotune(*in_descs, *values, tuple(outs))
            if isinstance(combinations, AutoTuneCombination):
                combinations = [combinations]
            found, tactic, expanded = select(list(combinations), types)
        except Exception as e:  # the user's function or its combination strings
            layer._fail(f"plugin '{pid}': its autotune function failed: {type(e).__name__}: {e}")
        for c in expanded:
            if len(c.types) != len(types):
                layer._fail(f"plugin '{pid}': autotune combination {c} has {len(c.types)} positions, the plugin has "
                            f"{len(in_descs)} inputs and {len(outs)} outputs")
        if not found:
            listed = ", ".join(str(c) for c in expanded) or "none"
            layer._fail(f"plugin '{pid}': no I/O type combination of its autotune function matches the network: "
                        f"types ({', '.join(t.name for t in types)}) in LINEAR format are not among the supported "
                        f"combinations {listed}")
        self._tactic = tactic

    # ---- the layer's _forward
    def forward(self, layer, inputs, ctx):
        pid = self.plugin_id
        expected = len(self._def.input_tensor_names)
        if len(inputs) != expected:
            layer._fail(f"plugin '{pid}' takes {expected} input tensors, got {len(inputs)}")
        in_descs = self._input_descs(inputs)
        outs = self._outputs(layer, in_descs)
        shapes, dds, upper = self._evaluate(layer, outs, ctx)
        aliases = self._aliases(layer, in_descs, outs)
        dtypes = [torch_dtype_of(d.dtype, f"plugin '{pid}' output {k}") for k, d in enumerate(outs)]
        for k, j in aliases.items():
            if shapes[k] != list(inputs[j].shape) or dtypes[k] != inputs[j].dtype:
                layer._fail(f"plugin '{pid}': aliased output {k} must have the shape and type of input {j}")
        if ctx.validate:
            self._check_build(layer, inputs, in_descs, outs, shapes)
        if ctx.analysis:
            # Plugins never run while building: their outputs are known by shape and type only.
            return [torch.empty(s, dtype=dt, device="meta") for s, dt in zip(shapes, dtypes)]
        return self._run(layer, inputs, outs, shapes, dtypes, dds, upper, aliases, getattr(ctx, "stream", 0))

    def _run(self, layer, inputs, outs, shapes, dtypes, dds, upper, aliases, stream):
        pid = self.plugin_id
        buffers = [x.contiguous() for x in inputs]
        out_buffers = []
        for k in range(len(outs)):
            if k in aliases:
                # In-place: the output is a copy of its input that the impl updates (the network's tensor that
                # feeds the plugin keeps its value, for its other consumers).
                buffer = buffers[aliases[k]].clone()
                buffers[aliases[k]] = buffer
            else:
                buffer = torch.empty(shapes[k], dtype=dtypes[k])
            out_buffers.append(buffer)
        in_tensors = [Tensor._wrap(b, x.shape, from_torch_dtype(x.dtype), stream, i not in aliases.values())
                      for i, (b, x) in enumerate(zip(buffers, inputs))]
        out_tensors = []
        for k, buffer in enumerate(out_buffers):
            shape = [(-1 if j in dds.get(k, {}) else d) for j, d in enumerate(shapes[k])]
            out_tensors.append(Tensor._wrap(buffer, shape, outs[k].dtype, stream, False))
        for k, j in aliases.items():
            out_tensors[k]._aliased_to = in_tensors[j]
            in_tensors[j]._aliased_to = out_tensors[k]
        for t in in_tensors + out_tensors:
            t._immutable = True
        values = [self._attrs[k] for k in self._impl_attr_names]
        try:
            if self._expects_tactic:
                self._impl(*in_tensors, *values, out_tensors, stream, self._tactic)
            else:
                self._impl(*in_tensors, *values, out_tensors, stream=stream)
        except Exception as e:  # the user's function
            layer._fail(f"plugin '{pid}': its impl raised {type(e).__name__}: {e}")
        results = list(out_buffers)
        for k, dims in dds.items():
            shape = list(shapes[k])
            for j, st in dims.items():
                count = int(out_buffers[st].reshape(-1)[0].item())
                if not 0 <= count <= upper[st]:
                    layer._fail(f"plugin '{pid}': the impl wrote {count} into size tensor output {st}, outside "
                                f"[0, {upper[st]}]")
                shape[j] = count
            volume = int(np.prod(shape, dtype=np.int64))
            results[k] = out_buffers[k].reshape(-1)[:volume].reshape(shape)
        return results


def _encode_attr(value):
    if isinstance(value, np.ndarray):
        data = np.ascontiguousarray(value)
        return ["ndarray", data.dtype.str, base64.b64encode(data.tobytes()).decode()]
    if isinstance(value, bytes):
        return ["bytes", base64.b64encode(value).decode()]
    for kind in (bool, int, float, str):
        if type(value) is kind:
            return [kind.__name__, value]
    raise TypeError(f"cannot serialize plugin attribute of type {type(value).__name__}")


def _decode_attr(record):
    kind = record[0]
    if kind == "ndarray":
        return np.frombuffer(base64.b64decode(record[2]), dtype=np.dtype(record[1])).copy()
    if kind == "bytes":
        return base64.b64decode(record[1])
    return {"bool": bool, "int": int, "float": float, "str": str}[kind](record[1])
