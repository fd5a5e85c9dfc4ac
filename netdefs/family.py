"""The family contract: what an architecture family declares, and the opening every family shares.

A family is one module under netdefs/families/ holding one `Family` subclass instance, `FAMILY`, and one line in
netdefs/families/__init__.py. It declares its model names and how a name parses into a variant, how it recognises
weights (`describe`: which model they really are, and their class count), its task, its default image size and
stride, its options, its INT8 defaults and its preprocessing; `define` adds the layers. What every family needs
around that is written once here: the name is parsed once (`Model`), the image size normalised and checked against
the stride, the options checked by name and range, the class count read once from the weights, the mismatch error
worded once, and the network input created.
No torch here: this is the build path on a Jetson.
"""
import math
from dataclasses import dataclass

import numpy as np

from .errors import ModelMismatch, UserError

# The largest input side accepted: a 4096x4096 float32 image is 200 MB per batch item before the first layer, and
# the first feature maps are ~10x that; beyond it a typo (--imgsz 100000) would allocate tens of GB before failing.
MAX_IMGSZ = 4096
MAX_BATCH = 4096


@dataclass(frozen=True)
class Model:
    """A model name parsed once: its family, its canonical (lower-case) name and the family's variant."""
    name: str
    family: "Family"
    variant: object

    @property
    def task(self):
        return self.family.task_of(self.variant)


class Family:
    """One architecture family. Subclasses set the class attributes and implement `parse`, `describe`, `define`."""

    name = ""            # "yolov5"
    reference = ""       # the upstream implementation it follows, for messages and the README
    task = ""            # "detect", "classify" or "segment" (a variant may differ: `task_of`)
    models = ()          # every buildable model name, lower case
    imgsz = 640          # default input size
    stride = 32          # input H and W must be multiples of it
    input_name = "images"
    demo_classes = 80    # class count of seeded random demo weights (they carry no shapes to read it from)
    options = {}         # the family's own define() options and their defaults, e.g. {"head": "nms"}
    heads = ()           # the values of a "head" option, if the family has one (tools/build.py's --head choices)
    compare_options = {} # options tools/compare.py builds with (e.g. YOLO's raw head: hooks see no NMS)
    dynamic_imgsz = False  # whether `define` works on an input whose H and W are known only at run time

    # ---- what a family implements
    def parse(self, name):
        """The variant of `name` (one of `models`): whatever `define` needs (a tuple, a small config)."""
        return name

    def task_of(self, variant):
        return self.task

    def demo_classes_of(self, variant):
        """Class count of the variant's demo weights: what its published checkpoints have (a classifier of a
        detection family: ImageNet's 1000)."""
        return self.demo_classes

    def stride_of(self, variant):
        """The largest stride of the variant: input H and W must be multiples of it."""
        return self.stride

    def describe(self, shapes):
        """(model name, class count) of weights given as {name: shape}, from names and element counts only
        (tensorrtx .wts files store tensors flat); ModelMismatch when they are no model of this family."""
        raise NotImplementedError

    def define(self, net, variant, x, num_classes, **options):
        """Add the network on input `x` to `net`, mark its outputs; returns the metadata it adds for the engine's
        sidecar (at least "outputs")."""
        raise NotImplementedError

    def quant_defaults(self, variant):
        """INT8 fallbacks [(fnmatch pattern, precision)] applied before the user's."""
        return []

    def preprocess(self, variant, imgsz):
        """How the host prepares an image for this input (the task's preprocessing reads it from the sidecar)."""
        return {}

    def check_options(self, options):
        """Refuse option values out of range (the family's own options), with the allowed range in the message."""

    # ---- written once for every family
    def model(self, name):
        name = str(name).lower()
        if name not in self.models:
            raise ModelMismatch(f"unknown {self.name} model {name!r}; known: {', '.join(self.models)}")
        return Model(name, self, self.parse(name))

    def image_size(self, imgsz, variant=None):
        """(H, W) from None (the family's default), N or (H, W); each a positive multiple of the variant's stride."""
        if imgsz is None:
            imgsz = self.imgsz
        hw = (imgsz, imgsz) if isinstance(imgsz, (int, np.integer)) else tuple(imgsz)
        if len(hw) != 2 or not all(isinstance(v, (int, np.integer)) for v in hw):
            raise UserError(f"image size must be N or (H, W) integers, got {imgsz!r}")
        h, w = int(hw[0]), int(hw[1])
        if not (0 < h <= MAX_IMGSZ and 0 < w <= MAX_IMGSZ):
            raise UserError(f"image size {h}x{w} is outside 1..{MAX_IMGSZ} per side")
        stride = self.stride_of(variant) if variant is not None else self.stride
        if h % stride or w % stride:
            raise UserError(f"image size {h}x{w} must be a multiple of {stride} (the model's largest stride)")
        return h, w

    def check_weights(self, model, shapes):
        """The class count of weights ({name: shape}) for `model`; ModelMismatch naming the model they are."""
        found, num_classes = self.describe(shapes)
        if found != model.name:
            hint = f"build with model name {found}" if found in self.models else "this project does not build it"
            raise ModelMismatch(f"the weights are {found} ({num_classes} classes), but {model.name} was asked "
                                f"for: {hint}")
        return num_classes

    def resolve_options(self, model, options):
        """The family's options with defaults filled in; unknown names refused, naming the ones it takes."""
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            takes = ", ".join(self.options) or "none"
            raise UserError(f"{model.name} ({model.task}) does not take the option(s) {', '.join(unknown)} "
                            f"(its options: {takes})")
        resolved = dict(self.options, **{k: v for k, v in options.items() if v is not None})
        self.check_options(resolved)
        return resolved

    def image_sizes(self, model, imgsz=None, dynamic_imgsz=None):
        """(H, W) of the network input (-1, -1 when dynamic) and the (min, opt, max) sizes of a dynamic one."""
        if dynamic_imgsz is None:
            return self.image_size(imgsz, model.variant), None
        if not self.dynamic_imgsz:
            raise UserError(f"{model.name} does not take a dynamic image size (its network is built for one size); "
                            f"give --imgsz")
        if imgsz is not None:
            raise UserError("give either a fixed image size or a dynamic one (MIN,OPT,MAX), not both")
        if len(dynamic_imgsz) != 3:
            raise UserError(f"a dynamic image size is MIN,OPT,MAX, got {dynamic_imgsz!r}")
        sizes = [self.image_size(s, model.variant) for s in dynamic_imgsz]
        if not all(a <= b for lo, hi in zip(sizes, sizes[1:]) for a, b in zip(lo, hi)):
            raise UserError(f"a dynamic image size needs MIN <= OPT <= MAX per side, got {sizes}")
        return (-1, -1), sizes

    def network(self, net, model, batch, imgsz, num_classes, options, dynamic_imgsz=None):
        """The shared opening, then `define`: the sidecar metadata of the network added to `net`."""
        (h, w), sizes = self.image_sizes(model, imgsz, dynamic_imgsz)
        options = self.resolve_options(model, options)
        x = net.input(self.input_name, (batch, 3, h, w))
        info = self.define(net, model.variant, x, num_classes, **options)
        opt = sizes[1] if sizes else (h, w)
        dynamic = {"dynamic_imgsz": [list(s) for s in sizes]} if sizes else {}
        return dict({"family": self.name, "model": model.name, "task": model.task, "input": self.input_name,
                     "imgsz": list(opt), "num_classes": num_classes,
                     "preprocess": self.preprocess(model.variant, tuple(opt))}, **dynamic, **info)


# ---- option checks shared by the families that take them
def check_unit_interval(name, value):
    if not isinstance(value, (int, float)) or not 0.0 <= float(value) <= 1.0 or math.isnan(value):
        raise UserError(f"{name} must be a number in [0, 1], got {value!r}")


def check_count(name, value, lo, hi):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
        raise UserError(f"{name} must be an integer in [{lo}, {hi}], got {value!r}")


def check_choice(name, value, choices):
    if value not in choices:
        raise UserError(f"{name} must be one of {', '.join(choices)}, got {value!r}")


def count(shapes, name):
    """Element count of weight `name` in {name: shape}, or None."""
    return int(np.prod(shapes[name])) if name in shapes else None
