"""Errors shared by modules that must not import each other, and the bound on what their messages echo."""


class PlanError(ValueError):
    """A serialized plan is malformed or inconsistent; the runtime logs it and returns None, as TensorRT does."""


ECHO_LIMIT = 200


def clip(text, limit=ECHO_LIMIT):
    """A message part echoing a value or another error, bounded: a hostile plan must not flood the logger."""
    text = str(text)
    return text if len(text) <= limit else text[:limit] + "..."
