"""One module per layer family. Importing this package attaches every `add_*` method to INetworkDefinition."""
import importlib
import pkgutil

__all__ = []
for _module in pkgutil.iter_modules(__path__):
    if not _module.name.startswith("_"):
        _mod = importlib.import_module(f"{__name__}.{_module.name}")
        for _name in getattr(_mod, "__all__", ()):
            globals()[_name] = getattr(_mod, _name)
            __all__.append(_name)
