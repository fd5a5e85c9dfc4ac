"""The errors a user can cause, in one place. Tools print a `UserError` as one line and exit non-zero; any other
exception is a bug and keeps its traceback (tools/_common.py)."""
from weights.errors import UserError


class BuildError(UserError):
    """TensorRT (or reftrt) refused to build, load or run an engine; the message carries what its logger said."""


class ModelMismatch(UserError):
    """A model name that no family builds, or weights that are another model than the one asked for."""


__all__ = ["UserError", "BuildError", "ModelMismatch"]
