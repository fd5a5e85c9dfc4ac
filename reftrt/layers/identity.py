"""Identity and Cast layers (IIdentityLayer, ICastLayer).

Identity copies its input (Cookbook Identity/case_simple). Cast converts between types; float to integer
conversion truncates toward zero as a C cast would (Cookbook Cast cases decide where they differ).
"""
from .._enums import DataType
from .._graph import ILayer, Param
from .._types import torch_dtype
from ._common import enum_param, network_method, tensor_arg

__all__ = ["IIdentityLayer", "ICastLayer"]


class IIdentityLayer(ILayer):
    _layer_type = "IDENTITY"
    _type_str = "Identity"

    def _forward(self, inputs, ctx):
        return [inputs[0].clone() if not inputs[0].is_meta else inputs[0]]


class ICastLayer(ILayer):
    _layer_type = "CAST"
    _type_str = "Cast"
    _upcast = False
    to_type = Param(DataType.FLOAT, enum_param(DataType))

    def _forward(self, inputs, ctx):
        return [inputs[0].to(torch_dtype(self.to_type))]


@network_method
def add_identity(self, input):
    return IIdentityLayer(self, [tensor_arg(input, "add_identity")])


@network_method
def add_cast(self, input, to_type):
    return ICastLayer(self, [tensor_arg(input, "add_cast")], to_type=to_type)
