"""Plugin registration: `register`, `impl`, `aot_impl`, `autotune`, and the `op` namespace.

Mirrors `tensorrt/plugin/_lib.py` (TensorRT 11.4): `@register("ns::name")` records the plugin's shape/type function
and defines `tensorrt.plugin.op.ns.name`, whose call checks the tensors and attributes against the registered
schema and returns the closure that `INetworkDefinition.add_plugin` takes. Unless `lazy_register` is set, a plugin
creator is also put in the plugin registry (`trt.get_plugin_registry()`), as TensorRT does.
"""
import types

import numpy as np

from .._enums import QuickPluginCreationRequest
from .._graph import ITensor
from .._plugins import get_plugin_registry
from ._plugin_class import QuickPlugin
from ._validate import (is_numpy_annotation, numpy_annotation_dtype, parse_register_inputs, parse_register_return,
                        validate_aot_impl, validate_autotune, validate_impl, validate_name_and_namespace)


class _PluginNamespace(types.ModuleType):
    """`tensorrt.plugin.op.<namespace>`: the plugins registered in one namespace."""

    def __init__(self, namespace):
        super().__init__("tensorrt.plugin.op." + namespace)
        self._namespace = namespace

    def define(self, name, plugin_def):
        assert name not in self.__dict__
        setattr(self, name, plugin_def)

    def __getattr__(self, name):
        raise AttributeError(f"'{type(self).__name__}' object '{self._namespace}' has no attribute '{name}'")

    def __repr__(self):
        return f'_PluginNamespace(namespace="{self._namespace}")'


class _Op(types.ModuleType):
    """`tensorrt.plugin.op`: one attribute per plugin namespace."""

    def __init__(self):
        super().__init__("tensorrt.plugin.op")

    def define_or_get(self, namespace):
        if namespace in self.__dict__:
            return self.__dict__[namespace]
        ns = _PluginNamespace(namespace)
        setattr(self, namespace, ns)
        return ns

    def __getattr__(self, name):
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")


op = _Op()

# plugin id ("ns::name") -> PluginDef; creators registered in the plugin registry, by plugin id.
QDP_REGISTRY = {}
QDP_CREATORS = {}


class PluginDef:
    """What is known about a registered plugin; calling it creates a plugin instance for `add_plugin`."""

    def __init__(self):
        self.plugin_id = None
        self.register_func = None
        self.impl_func = None
        self.aot_impl_func = None
        self.autotune_func = None
        self.autotune_attr_names = None
        self.input_tensor_names = None
        self.input_attrs = None
        self.impl_attr_names = None
        self.aot_impl_attr_names = None
        self.num_outputs = None
        self.expects_tactic = None

    def __call__(self, *args, **kwargs):
        namespace, name = self.plugin_id.split("::")
        input_tensors, schema = [], []
        for t in args:
            if not isinstance(t, ITensor):
                raise ValueError(f"Expected trt.ITensor but got input of type {type(t)}")
            schema.append("ITensor")
            input_tensors.append(t)
        attrs = {}
        for key, value in kwargs.items():
            if key not in self.input_attrs:
                raise ValueError(f"Unexpected attribute {key} provided. Expected one of {self.input_attrs.keys()}.")
            annotation = self.input_attrs[key]
            if is_numpy_annotation(annotation):
                if not isinstance(value, np.ndarray):
                    raise ValueError(f"Unexpected type '{type(value)}' for attribute '{key}'. Expected a numpy array.")
                expected = numpy_annotation_dtype(annotation)
                if expected is not None and np.dtype(expected) != value.dtype:
                    raise ValueError(f"Unexpected dtype '{value.dtype}' for attribute '{key}'. Expected "
                                     f"'{expected}'.")
                # Attributes travel as 1-D plugin fields: the plugin functions get a flat copy.
                value = np.array(value).reshape(-1)
            elif annotation is not type(value):
                raise ValueError(f"Unexpected type '{type(value)}' for attribute '{key}'. Expected '{annotation}'.")
            attrs[key] = value
            schema.append(key)
        expected_schema = "(" + ", ".join(["ITensor"] * len(self.input_tensor_names) + list(self.input_attrs)) + ")"
        received = f"({', '.join(schema)})"
        if received != expected_schema:
            raise ValueError(f"Unexpected schema {received} received. Expected {expected_schema}.")

        creator = QDP_CREATORS.get(self.plugin_id)
        if creator is None:
            creator = _register_plugin_creator(name, namespace, self)

        def create_plugin_instance(quick_plugin_creation_request=None):
            plugin = creator.create_plugin(name, namespace, dict(attrs), None, quick_plugin_creation_request)
            return input_tensors, [], plugin

        return create_plugin_instance

    def __repr__(self):
        return f"<tensorrt.plugin PluginDef {self.plugin_id!r}>"


class _TemplatePluginCreator:
    """The creator of a registered plugin, as found in the plugin registry (IPluginCreatorV3Quick in TensorRT)."""

    def __init__(self, name, namespace, plugin_def):
        self.name = name
        self.plugin_namespace = namespace
        self.plugin_version = "1"
        self.field_names = list(plugin_def.input_attrs)
        self._def = plugin_def

    def create_plugin(self, name, namespace, fc, phase=None, qpcr=None):
        desc = QDP_REGISTRY[f"{namespace}::{name}"]
        attrs = dict(fc)
        for key in attrs:
            if key not in desc.input_attrs:
                raise AssertionError(f"Unexpected attribute {key} provided to create_plugin. Expected one of "
                                     f"{desc.input_attrs.keys()}.")
        return QuickPlugin(desc, attrs, _choose_impl(desc, qpcr))


def _choose_impl(desc, qpcr):
    """'jit' or 'aot', as TensorRT's plugin creator decides from the creation request."""
    if qpcr is None:
        return "jit"
    if not isinstance(qpcr, QuickPluginCreationRequest):
        qpcr = QuickPluginCreationRequest(int(qpcr))
    if qpcr == QuickPluginCreationRequest.STRICT_AOT:
        if desc.aot_impl_func is None:
            raise ValueError(f"AOT implementation requested, but not defined for '{desc.plugin_id}'. Was "
                             f"@trt.plugin.aot_impl defined?")
        return "aot"
    if qpcr == QuickPluginCreationRequest.STRICT_JIT:
        if desc.impl_func is None:
            raise ValueError(f"JIT implementation requested, but not defined for '{desc.plugin_id}'. Was "
                             f"@trt.plugin.impl defined?")
        return "jit"
    aot, jit = desc.aot_impl_func is not None, desc.impl_func is not None
    if aot and jit:
        if qpcr == QuickPluginCreationRequest.PREFER_AOT:
            return "aot"
        if qpcr == QuickPluginCreationRequest.PREFER_JIT:
            return "jit"
        raise ValueError(f"Plugin '{desc.plugin_id}' has both AOT and JIT implementations. "
                         f"NetworkDefinitionCreationFlag.PREFER_AOT_PYTHON_PLUGINS or "
                         f"NetworkDefinitionCreationFlag.PREFER_JIT_PYTHON_PLUGINS should be specified.")
    if aot:
        return "aot"
    if jit:
        return "jit"
    raise ValueError(f"Plugin '{desc.plugin_id}' does not have either a AOT or JIT implementation.")


def _register_plugin_creator(name, namespace, plugin_def):
    registry = get_plugin_registry()
    creator = _TemplatePluginCreator(name, namespace, plugin_def)
    registry.register_creator(creator, namespace)
    creator = registry.get_creator(name, "1", namespace)
    QDP_CREATORS[f"{namespace}::{name}"] = creator
    return creator


def _split_id(plugin_id):
    parts = str(plugin_id).split("::")
    if len(parts) != 2:
        raise ValueError(f"Plugin ID '{plugin_id}' must be of the form '<namespace>::<name>'")
    return parts


def register(plugin_id, lazy_register=False):
    """Decorator: register a plugin's shape/type function `(inp: TensorDesc, ..., attr: type, ...) -> TensorDesc
    | Tuple[TensorDesc, ...]`. A plugin also needs an `@impl` (run by reftrt) or `@aot_impl` (TensorRT only)."""

    def decorator(register_func):
        plugin_ns, plugin_name = _split_id(plugin_id)
        validate_name_and_namespace(plugin_ns, plugin_name)
        op_namespace = op.define_or_get(plugin_ns)
        if plugin_name in op_namespace.__dict__:
            raise ValueError(f"'{type(op).__name__}' already has a defintion for '{plugin_name}'")
        tensor_names, input_attrs = parse_register_inputs(register_func, lazy_register)
        plugin_def = PluginDef()
        plugin_def.plugin_id = plugin_id
        plugin_def.register_func = register_func
        plugin_def.input_tensor_names = tensor_names
        plugin_def.input_attrs = input_attrs
        plugin_def.num_outputs = parse_register_return(register_func)
        QDP_REGISTRY[plugin_id] = plugin_def
        if not lazy_register:
            _register_plugin_creator(plugin_name, plugin_ns, plugin_def)
        op_namespace.define(plugin_name, plugin_def)
        return register_func

    return decorator


def _registered(plugin_id):
    plugin_def = QDP_REGISTRY.get(plugin_id)
    if plugin_def is None:
        raise ValueError(f"Plugin {plugin_id} is not registered. Did you register it with tensorrt.plugin.register "
                         f"API?")
    return plugin_def


def impl(plugin_id):
    """Decorator: the plugin's implementation, `(inp: Tensor, ..., attrs..., outputs: Tuple[Tensor], stream: int
    [, tactic: int]) -> None`, which writes the outputs in place. reftrt runs it on the CPU."""

    def decorator(impl_func):
        plugin_def = _registered(plugin_id)
        attr_names, found_tactic = validate_impl(impl_func, plugin_def)
        plugin_def.impl_func = impl_func
        plugin_def.impl_attr_names = attr_names
        plugin_def.expects_tactic = found_tactic
        return impl_func

    return decorator


def aot_impl(plugin_id):
    """Decorator: an ahead-of-time implementation (compiled kernel, e.g. Triton PTX). Recorded and validated;
    reftrt cannot run PTX, so it runs the plugin's `@impl` instead, and fails the build when there is none."""

    def decorator(aot_impl_func):
        plugin_def = _registered(plugin_id)
        plugin_def.aot_impl_attr_names = validate_aot_impl(aot_impl_func, plugin_def)
        plugin_def.aot_impl_func = aot_impl_func
        return aot_impl_func

    return decorator


def autotune(plugin_id):
    """Decorator: the supported I/O type/format combinations and tactics, `(inp: TensorDesc, ..., attrs...,
    outputs: Tuple[TensorDesc]) -> List[AutoTuneCombination]`."""

    def decorator(autotune_func):
        plugin_def = _registered(plugin_id)
        plugin_def.autotune_attr_names = validate_autotune(autotune_func, plugin_def)
        plugin_def.autotune_func = autotune_func
        return autotune_func

    return decorator
