"""Signature checks of the `tensorrt.plugin` decorators, as strict as TensorRT's (`tensorrt/plugin/_validate.py`).

reftrt must not accept a plugin definition that real TensorRT rejects: plugins are written once and run on both.
So the same rules apply: annotations are mandatory on the registration function, tensors come first, attributes
are int / float / bool / str / bytes or 1-D numpy arrays annotated `numpy.typing.NDArray[dtype]` (no lists or
tuples), no default values, and impl / autotune / aot_impl functions name their parameters exactly as registered.
"""
import inspect
import types
import typing

import numpy as np

from ._autotune import AutoTuneCombination
from ._tensor import KernelLaunchParams, SymExprs, Tensor, TensorDesc

SERIALIZABLE_BUILTIN_TYPES = (int, float, bytes, bool, str)
SERIALIZABLE_NP_DTYPES = (np.int8, np.int16, np.int32, np.int64, np.float16, np.float32, np.float64, bool, np.bool_)
RESERVED_NAMESPACES = {"", "trt", "tensorrt", "std"}
DISALLOWED_ATTR_NAMES = {"outputs", "stream", "tactic"}


def _join(names, leading=False):
    if not names:
        return ""
    return (", " if leading else "") + ", ".join(names)


def is_numpy_annotation(annotation):
    if annotation is np.ndarray:
        return True
    origin = typing.get_origin(annotation)
    return origin is np.ndarray


def numpy_annotation_dtype(annotation):
    """The dtype of `numpy.typing.NDArray[dtype]` (None for a bare `np.ndarray`)."""
    if annotation is np.ndarray:
        return None
    args = typing.get_args(annotation)
    if len(args) >= 2:
        inner = typing.get_args(args[1])
        if inner:
            return inner[0]
    if len(args) == 1:
        return args[0]
    raise AttributeError("Improper annotation for numpy array. Annotate numpy array attributes using "
                         "'numpy.typing.NDArray[dtype]', where 'dtype' is the expected numpy dtype of the array.")


def _string_hint(annotation):
    return (" (string annotations, e.g. from `from __future__ import annotations`, are not supported by "
            "tensorrt.plugin)") if isinstance(annotation, str) else ""


def validate_name_and_namespace(ns, name):
    if "." in ns:
        raise ValueError(f"Provided namespace {ns} cannot have any '.' in trt.plugin.register(\"{ns}::{name}\", ...)")
    if "." in name:
        raise ValueError(f"Provided name {name} cannot have any '.' in trt.plugin.register(\"{ns}::{name}\", ...)")
    if ns in RESERVED_NAMESPACES:
        raise ValueError(f"Provided namespace {ns} is a reserved namespace")


def parse_register_inputs(register_func, lazy_register):
    """(tensor names, {attr name: annotation}) of a registration function."""
    tensor_names, input_attrs = [], {}
    saw_attr = False
    sig = inspect.signature(register_func)
    for idx, (name, param) in enumerate(sig.parameters.items()):
        if param.kind not in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY):
            raise ValueError(f"Argument {name} is not a positional-or-keyword or keyword-only arg")
        if param.annotation is inspect.Parameter.empty:
            raise ValueError(f"Argument {name} does not have a type annotation. Please mark as TensorDesc or one of "
                             f"the serializable attribute types.")
        if param.default is not inspect.Parameter.empty:
            raise ValueError(f"Argument {name} has a default value. Default values are not supported yet.")
        annotation = param.annotation
        if inspect.isclass(annotation) and issubclass(annotation, TensorDesc):
            if saw_attr:
                raise ValueError(f"TensorDescs args and attribute args cannot be interspersed. Received function "
                                 f"with signature {sig}.")
            tensor_names.append(name)
            continue
        if idx == 0:
            raise ValueError(f"TensorDescs args should come first, followed by attributes. Received function with "
                             f"signature {sig}.{_string_hint(annotation)}")
        if name in DISALLOWED_ATTR_NAMES:
            raise ValueError(f"'{name}' is not allowed as a plugin attribute name.")
        if annotation not in SERIALIZABLE_BUILTIN_TYPES:
            if not is_numpy_annotation(annotation):
                raise ValueError(f"Attribute '{name}' of type {annotation} is not a supported serializable type. "
                                 f"Supported types are {SERIALIZABLE_BUILTIN_TYPES} or numpy arrays of type "
                                 f"{SERIALIZABLE_NP_DTYPES}.{_string_hint(annotation)}")
            if not lazy_register:
                if annotation is np.ndarray:
                    raise ValueError("If using non-lazy registration, annotate numpy array attributes using "
                                     "'numpy.typing.NDArray[dtype]', where 'dtype' is the expected numpy dtype of "
                                     "the array.")
                if numpy_annotation_dtype(annotation) not in SERIALIZABLE_NP_DTYPES:
                    raise ValueError(f"Attribute '{name}' is not a supported numpy array type. Supported numpy "
                                     f"arrays type are {SERIALIZABLE_NP_DTYPES}.")
        saw_attr = True
        input_attrs[name] = annotation
    return tensor_names, input_attrs


def parse_register_return(register_func):
    """The number of outputs declared by the registration function's return annotation."""
    sig = inspect.signature(register_func)
    ret = sig.return_annotation
    if ret is inspect.Parameter.empty:
        raise ValueError(f"No return annotation found for register function. Received signature {sig}.")
    if typing.get_origin(ret) is not tuple:
        if not inspect.isclass(ret) or not issubclass(ret, TensorDesc):
            raise ValueError(f"Return argument is of type {ret}. Return types can only be TensorDesc or "
                             f"Tuple[TensorDesc].{_string_hint(ret)}")
        return 1
    args = typing.get_args(ret)
    for arg in args:
        if not inspect.isclass(arg) or not issubclass(arg, TensorDesc):
            raise ValueError(f"Return argument is of type {ret}. Return types can only be TensorDesc or "
                             f"Tuple[TensorDesc].")
    return len(args)


def _check_tuple_of(name, annotation, cls):
    if typing.get_origin(annotation) is not tuple:
        raise ValueError(f"'{name}' should be of type Tuple[{cls.__name__}]. Received {annotation}.")
    for arg in typing.get_args(annotation):
        if arg is Ellipsis:
            continue
        if not inspect.isclass(arg) or not issubclass(arg, cls):
            raise ValueError(f"Argument for receiving output {cls.__name__}, '{name}' contains a {annotation}. "
                             f"'{name}' should be a Tuple[{cls.__name__}].")


def _check_int(name, annotation):
    if not (inspect.isclass(annotation) and issubclass(annotation, int)):
        raise ValueError(f"'{name}' input argument should be an int")


def _attr_names(func, plugin_def, what, tensor_cls, special):
    """Attribute names a function takes, checking its annotations against the registration."""
    names = []
    for name, param in inspect.signature(func).parameters.items():
        annotation = param.annotation
        if name in special:
            if annotation is not inspect.Parameter.empty:
                special[name](name, annotation)
            continue
        if annotation is not inspect.Parameter.empty:
            if inspect.isclass(annotation) and issubclass(annotation, tensor_cls):
                if name not in plugin_def.input_tensor_names:
                    raise ValueError(f"Unexpected tensor '{name}' specified in {what} function. Expected one of "
                                     f"{plugin_def.input_tensor_names}.")
                continue
            if name not in plugin_def.input_attrs:
                raise ValueError(f"Unexpected attribute '{name}' specified in {what} function. Expected one of "
                                 f"{list(plugin_def.input_attrs)}.")
            if annotation != plugin_def.input_attrs[name]:
                raise ValueError(f"Attribute '{name}' has a type annotation different from the one specified at "
                                 f"registration. Expected '{plugin_def.input_attrs[name]}'.")
            names.append(name)
        elif name in plugin_def.input_attrs:
            names.append(name)
    return names


def _check_schema(func, plugin_def, attr_names, tail, what):
    ordered = [n for n in plugin_def.input_attrs if n in attr_names]
    expected = "(" + _join(plugin_def.input_tensor_names) + _join(ordered, True) + tail
    sig = inspect.signature(func)
    if f"({', '.join(sig.parameters)})" != expected:
        raise ValueError(f"Signature of the {what} function '{sig}' does not match the expected input arg schema: "
                         f"{expected}")
    return ordered


def validate_impl(impl_func, plugin_def):
    """(attribute names, whether it takes `tactic`) of an `@impl` function."""
    params = inspect.signature(impl_func).parameters
    found_tactic = "tactic" in params
    attr_names = _attr_names(impl_func, plugin_def, "impl", Tensor, {
        "outputs": lambda n, a: _check_tuple_of(n, a, Tensor), "stream": _check_int, "tactic": _check_int})
    tail = ", outputs, stream, tactic)" if found_tactic else ", outputs, stream)"
    attr_names = _check_schema(impl_func, plugin_def, attr_names, tail, "impl")
    ret = inspect.signature(impl_func).return_annotation
    if ret is not inspect.Parameter.empty and ret is not None:
        raise ValueError("Return annotation should be None.")
    return attr_names, found_tactic


def validate_autotune(autotune_func, plugin_def):
    attr_names = _attr_names(autotune_func, plugin_def, "autotune", TensorDesc, {
        "outputs": lambda n, a: _check_tuple_of(n, a, TensorDesc)})
    sig = inspect.signature(autotune_func)
    ordered = [n for n in plugin_def.input_attrs if n in attr_names]
    expected = "(" + _join(plugin_def.input_tensor_names) + _join(ordered, True) + ", outputs)"
    if f"({', '.join(sig.parameters)})" != expected:
        raise ValueError(f"Specified autotune function signature {sig} is not consistent with the expected input "
                         f"arg schema {expected}.")
    ret = sig.return_annotation
    if ret is not inspect.Parameter.empty:
        if typing.get_origin(ret) is not list:
            if not inspect.isclass(ret) or not issubclass(ret, AutoTuneCombination):
                raise ValueError(f"Return argument is of type {ret}. Return types can only be AutoTuneCombination "
                                 f"or List[AutoTuneCombination].")
        else:
            for arg in typing.get_args(ret):
                if not inspect.isclass(arg) or not issubclass(arg, AutoTuneCombination):
                    raise ValueError(f"Return argument is of type {ret}. Return types can only be "
                                     f"AutoTuneCombination or List[AutoTuneCombination].")
    return ordered


def validate_aot_impl(aot_impl_func, plugin_def):
    attr_names = _attr_names(aot_impl_func, plugin_def, "aot_impl", TensorDesc, {
        "outputs": lambda n, a: _check_tuple_of(n, a, TensorDesc), "tactic": _check_int})
    ordered = _check_schema(aot_impl_func, plugin_def, attr_names, ", outputs, tactic)", "aot_impl")
    sig = inspect.signature(aot_impl_func)
    ret = sig.return_annotation
    expected = ("tuple[str | bytes, str | bytes, tensorrt.plugin.KernelLaunchParams, "
                "tensorrt.plugin.SymIntExprs]")
    if ret is inspect.Parameter.empty:
        raise ValueError(f"No return annotation found for aot_impl function. Received signature {sig}.")
    args = typing.get_args(ret)
    if typing.get_origin(ret) is not tuple or len(args) != 4:
        raise ValueError(f"Return annotation is {ret}. Expected {expected}.")
    for index in (0, 1):
        origin = typing.get_origin(args[index])
        members = typing.get_args(args[index]) if origin in (typing.Union, types.UnionType) else (args[index],)
        for member in members:
            if member is not str and member is not bytes:
                raise ValueError(f"Return annotation for argument at {index} is '{member}'. Expected 'str' or "
                                 f"'bytes'.")
    if not inspect.isclass(args[2]) or not issubclass(args[2], KernelLaunchParams):
        raise ValueError(f"Argument at index 2 of return annotation is '{args[2]}'. Expected "
                         f"'tensorrt.plugin.KernelLaunchParams'.")
    if not inspect.isclass(args[3]) or not issubclass(args[3], SymExprs):
        raise ValueError(f"Argument at index 3 of return annotation is '{args[3]}'. Expected a descendent of "
                         f"tensorrt.plugin.SymExprs.")
    return ordered
