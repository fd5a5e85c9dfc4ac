"""Plugin layer (IPluginV3Layer) for `tensorrt.plugin` plugins, and INetworkDefinition.add_plugin / add_plugin_v3.

TensorRT 11.4 `python/src/infer/pyGraph.cpp`: `add_plugin` has three overloads, `(tuple)`, `(func)` and
`(func, aot)`. The tuple is `(inputs, shape_inputs, plugin)`; `func` is what `tensorrt.plugin.op.<ns>.<name>(...)`
returns, called with a QuickPluginCreationRequest: `aot` given gives STRICT_AOT / STRICT_JIT; without it the
network flags PREFER_AOT_PYTHON_PLUGINS / PREFER_JIT_PYTHON_PLUGINS give PREFER_AOT / PREFER_JIT (both set is a
ValueError), else UNKNOWN. `add_plugin_v3(inputs, shape_inputs, plugin)` adds the same layer from a plugin instance.

reftrt runs only plugins made by `reftrt.plugin` (tensorrt.plugin): a hand-written IPluginV3 (IPluginV3OneCore /
OneBuild / OneRuntime) is rejected with TypeError. The layer is computed by the plugin's `@impl` on the CPU; see
reftrt/plugin/_plugin_class.py. In a plan the layer records the plugin id, its attributes and the chosen tactic;
loading the plan needs the plugin registered in the process (TensorRT likewise needs the plugin's creator
registered, i.e. its library loaded or its Python module imported), otherwise deserialization fails naming it.

Default layer names: TensorRT's type string for IPluginV3Layer is not in the recorded Cookbook logs; reftrt uses
"PluginV3" ("(Unnamed Layer* 0) [PluginV3]").
"""
import sys

from .. import _enums
from .._errors import PlanError, clip
from .._graph import ILayer, ITensor, Param
from .._plugins import register_plan_decoder
from ._common import network_method

__all__ = ["IPluginV3Layer"]

_PLAN_KIND = "tensorrt.plugin"


class IPluginV3Layer(ILayer):
    _layer_type = "PLUGIN_V3"
    _type_str = "PluginV3"
    # Plugins see their inputs in their own types (an FP16 plugin gets FP16 buffers).
    _upcast = False
    plugin = Param(None, readonly=True)

    def _forward(self, inputs, ctx):
        return self.plugin.forward(self, inputs, ctx)


def _quick_plugin_class():
    module = sys.modules.get("reftrt.plugin._plugin_class")
    return None if module is None else module.QuickPlugin


def _add(network, inputs, shape_inputs, plugin, what):
    inputs, shape_inputs = list(inputs), list(shape_inputs)
    for t in inputs + shape_inputs:
        if not isinstance(t, ITensor):
            raise TypeError(f"{what}: expected trt.ITensor inputs, got {type(t).__name__}")
    quick = _quick_plugin_class()
    if quick is None or not isinstance(plugin, quick):
        raise TypeError(f"{what}: reftrt runs plugins defined with tensorrt.plugin (reftrt.plugin) only, got "
                        f"{type(plugin).__name__}")
    if shape_inputs:
        raise ValueError(f"{what}: shape inputs are not supported for tensorrt.plugin plugins")
    # Which input dimensions are build-time constants (ShapeExpr.is_constant in the shape function), as TensorRT
    # knows them when the layer is added.
    plugin._static = [[d >= 0 for d in t.shape] for t in inputs]
    return IPluginV3Layer(network, inputs, num_outputs=plugin.num_outputs, plugin=plugin)


def _request(name):
    # QuickPluginCreationRequest exists in the TensorRT 11 API only (as add_plugin).
    return getattr(_enums.ENUMS["QuickPluginCreationRequest"], name)


def _default_request(network):
    NetworkDefinitionCreationFlag = _enums.NetworkDefinitionCreationFlag
    prefer_aot = network.get_flag(NetworkDefinitionCreationFlag.PREFER_AOT_PYTHON_PLUGINS)
    prefer_jit = network.get_flag(NetworkDefinitionCreationFlag.PREFER_JIT_PYTHON_PLUGINS)
    if prefer_aot and prefer_jit:
        raise ValueError("Both NetworkDefinitionCreationFlag.PREFER_AOT_PYTHON_PLUGINS and "
                         "NetworkDefinitionCreationFlag.PREFER_JIT_PYTHON_PLUGINS cannot be specified at the same "
                         "time.")
    if prefer_jit:
        return _request("PREFER_JIT")
    return _request("PREFER_AOT" if prefer_aot else "UNKNOWN")


def _by_tuple(self, tuple):
    return _add_tuple(self, tuple)


def _by_func(self, func):
    return _add_tuple(self, func(_default_request(self)))


def _by_func_aot(self, func, aot):
    request = _request("STRICT_AOT" if aot else "STRICT_JIT")
    return _add_tuple(self, func(request))


def _add_tuple(network, value):
    if not isinstance(value, tuple) or len(value) != 3:
        raise TypeError("add_plugin: expected a tuple (inputs, shape_inputs, plugin)")
    inputs, shape_inputs, plugin = value
    return _add(network, inputs, shape_inputs, plugin, "add_plugin")


@network_method
def add_plugin(self, *args, **kwargs):
    """add_plugin(tuple) / add_plugin(func) / add_plugin(func, aot): a plugin layer from `tensorrt.plugin`."""
    if "tuple" in kwargs or (args and isinstance(args[0], tuple)):
        return _by_tuple(self, *args, **kwargs)
    if len(args) + len(kwargs) >= 2:
        return _by_func_aot(self, *args, **kwargs)
    return _by_func(self, *args, **kwargs)


add_plugin.__trt_overloads__ = (_by_tuple, _by_func, _by_func_aot)


@network_method
def add_plugin_v3(self, inputs, shape_inputs, plugin):
    return _add(self, inputs, shape_inputs, plugin, "add_plugin_v3")


def _decode(record, decode_value):
    plugin_id = record.get("plugin_id")
    lib = sys.modules.get("reftrt.plugin._lib")
    plugin_def = lib.QDP_REGISTRY.get(plugin_id) if lib is not None else None
    if plugin_def is None:
        raise PlanError(f"the plan uses plugin '{clip(plugin_id)}' (tensorrt.plugin), which is not registered in "
                        f"this process: import the module that defines it (@tensorrt.plugin.register and "
                        f"@tensorrt.plugin.impl) before deserializing, as TensorRT needs plugin creators registered")
    try:
        return _quick_plugin_class()._from_plan(plugin_def, record)
    except ValueError as e:
        raise PlanError(str(e)) from None


register_plan_decoder(_PLAN_KIND, _decode)
