"""The registry: one `Family` per architecture family (netdefs/family.py says what a family declares).
Adding a family is one module in this folder and one line in FAMILIES."""
from ..errors import ModelMismatch
from . import mobilenet, resnet, rtdetr, segformer, smp, ultralytics, yolov5

FAMILIES = [yolov5.FAMILY, resnet.FAMILY, mobilenet.FAMILY, smp.FAMILY, segformer.FAMILY, ultralytics.FAMILY,
            rtdetr.FAMILY]


def models():
    """Every buildable model name."""
    return [name for family in FAMILIES for name in family.models]


def get(name):
    """The parsed `Model` for a model name (its family, variant and task); ModelMismatch for an unknown name."""
    key = str(name).lower()
    for family in FAMILIES:
        if key in family.models:
            return family.model(key)
    raise ModelMismatch(f"unknown model {name!r}; known models: {', '.join(models())}")


def describe(shapes):
    """(model name, class count) of weights ({name: shape}) whichever family they belong to, or None."""
    for family in FAMILIES:
        try:
            return family.describe(shapes)
        except ModelMismatch:
            continue
    return None
