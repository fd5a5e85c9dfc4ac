"""Plugin registry (what `get_plugin_registry()` returns) and plan encoding of plugin layers."""
from ._errors import PlanError


class IPluginRegistry:
    def __init__(self):
        self._creators = {}

    @property
    def all_creators(self):
        return list(self._creators.values())

    def register_creator(self, creator, plugin_namespace=""):
        self._creators[(creator.name, getattr(creator, "plugin_version", "1"), plugin_namespace)] = creator
        return True

    def get_creator(self, type, version, plugin_namespace=""):
        return self._creators.get((type, version, plugin_namespace))

    def deregister_creator(self, creator):
        for key, value in list(self._creators.items()):
            if value is creator:
                del self._creators[key]
                return True
        return False


_REGISTRY = IPluginRegistry()


def get_plugin_registry():
    return _REGISTRY


_DECODERS = {}


def register_plan_decoder(kind, decode):
    """Plugin parameter objects encode themselves with `_plan_encode`; `decode` rebuilds them from a plan."""
    _DECODERS[kind] = decode


def plan_decode(record, decode_value):
    decode = _DECODERS.get(record.get("kind"))
    if decode is None:
        raise PlanError(f"the plan needs plugin support {record.get('kind')!r}, which is not loaded")
    return decode(record, decode_value)
