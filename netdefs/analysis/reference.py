"""The upstream PyTorch implementation of every zoo model, built offline and loaded with the weights a netdef reads.

tools/compare.py (and the accuracy report) compare the network definitions with these: the `yolov5` package's
DetectionModel / SegmentationModel, torchvision's ResNet / MobileNet, segmentation-models-pytorch's Unet / FPN
(timm encoders) and transformers' SegFormer. They are constructed from their configs (no hub, no download) and then
receive the weights through `load_state_dict(strict=True)`, so the reference and the netdef see the same numbers.

torch and those packages are imported here, when a reference is made; the TensorRT build path never imports this.
"""
import atexit
import contextlib
import copy
import importlib
import importlib.util
import io
import logging
import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

import weights

from .. import families
from ..errors import UserError
from ..families import rtdetr
from ..families import yolov5 as y
from . import ultralytics_reference


def _offline():
    """The upstream packages probe the network and write config directories unless told not to."""
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_VERBOSE", "False")
    if "YOLO_CONFIG_DIR" not in os.environ:  # one settings folder per process, removed when it exits
        folder = tempfile.mkdtemp(prefix="yolo-config-")
        atexit.register(shutil.rmtree, folder, True)
        os.environ["YOLO_CONFIG_DIR"] = folder
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


# The references are configured from the published configurations, written here, never from the netdefs' own tables:
# a typo in a netdef's table would otherwise be in its reference too, and every comparison would pass.

# ultralytics/yolov5 v5.0 (2021-04-11), models/yolov5s.yaml; depth_multiple / width_multiple are set per variant.
YOLOV5_V50 = {
    "anchors": [[10, 13, 16, 30, 33, 23], [30, 61, 62, 45, 59, 119], [116, 90, 156, 198, 373, 326]],
    "backbone": [[-1, 1, "Focus", [64, 3]], [-1, 1, "Conv", [128, 3, 2]], [-1, 3, "C3", [128]],
                 [-1, 1, "Conv", [256, 3, 2]], [-1, 9, "C3", [256]], [-1, 1, "Conv", [512, 3, 2]],
                 [-1, 9, "C3", [512]], [-1, 1, "Conv", [1024, 3, 2]], [-1, 1, "SPP", [1024, [5, 9, 13]]],
                 [-1, 3, "C3", [1024, False]]],
    "head": [[-1, 1, "Conv", [512, 1, 1]], [-1, 1, "nn.Upsample", [None, 2, "nearest"]], [[-1, 6], 1, "Concat", [1]],
             [-1, 3, "C3", [512, False]], [-1, 1, "Conv", [256, 1, 1]], [-1, 1, "nn.Upsample", [None, 2, "nearest"]],
             [[-1, 4], 1, "Concat", [1]], [-1, 3, "C3", [256, False]], [-1, 1, "Conv", [256, 3, 2]],
             [[-1, 14], 1, "Concat", [1]], [-1, 3, "C3", [512, False]], [-1, 1, "Conv", [512, 3, 2]],
             [[-1, 10], 1, "Concat", [1]], [-1, 3, "C3", [1024, False]],
             [[17, 20, 23], 1, "Detect", ["nc", "anchors"]]],
}
# (depth_multiple, width_multiple) of models/yolov5{n,s,m,l,x}.yaml (n from v6.0 on; the v5.0 files for s ... x)
YOLOV5_MULTIPLES = {"n": (0.33, 0.25), "s": (0.33, 0.50), "m": (0.67, 0.75), "l": (1.0, 1.0), "x": (1.33, 1.25)}

# The config.json of the Hub's nvidia/mit-b0 ... nvidia/mit-b5 (the encoders of nvidia/segformer-b*-finetuned-*).
_SEGFORMER_COMMON = dict(num_attention_heads=[1, 2, 5, 8], sr_ratios=[8, 4, 2, 1], patch_sizes=[7, 3, 3, 3],
                         strides=[4, 2, 2, 2], mlp_ratios=[4, 4, 4, 4], num_encoder_blocks=4)
SEGFORMER_PUBLISHED = {
    "b0": dict(_SEGFORMER_COMMON, hidden_sizes=[32, 64, 160, 256], depths=[2, 2, 2, 2], decoder_hidden_size=256),
    "b1": dict(_SEGFORMER_COMMON, hidden_sizes=[64, 128, 320, 512], depths=[2, 2, 2, 2], decoder_hidden_size=256),
    "b2": dict(_SEGFORMER_COMMON, hidden_sizes=[64, 128, 320, 512], depths=[3, 4, 6, 3], decoder_hidden_size=768),
    "b3": dict(_SEGFORMER_COMMON, hidden_sizes=[64, 128, 320, 512], depths=[3, 4, 18, 3], decoder_hidden_size=768),
    "b4": dict(_SEGFORMER_COMMON, hidden_sizes=[64, 128, 320, 512], depths=[3, 8, 27, 3], decoder_hidden_size=768),
    "b5": dict(_SEGFORMER_COMMON, hidden_sizes=[64, 128, 320, 512], depths=[3, 6, 40, 3], decoder_hidden_size=768),
}


def _rows(shapes, name):
    if name not in shapes:
        raise UserError(f"the weights have no {name!r}: cannot tell the number of classes")
    return int(shapes[name][0])


def _yolov5(model, shapes):
    # ultralytics (imported by yolov5) announces its settings file; yolov5 7.0.14 imports pkg_resources, which
    # setuptools deprecates: nothing a user can act on
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
        import yolov5
        from yolov5.models.yolo import DetectionModel, SegmentationModel

    variant, arch, seg = y.FAMILY.parse(model)
    d = y.detect_index(arch)
    nc = int(np.prod(shapes[f"model.{d}.m.0.bias"])) // 3 - 5 - (32 if seg else 0)
    root = Path(yolov5.__file__).parent / "models"
    if arch == "v5.0":  # no yaml ships for v5.0: the published one, written out (not netdefs/yolov5.py's tables)
        gd, gw = YOLOV5_MULTIPLES[variant]
        cfg = dict(copy.deepcopy(YOLOV5_V50), nc=nc, depth_multiple=gd, width_multiple=gw)
    else:
        name = model.lower().replace("-seg", "")
        cfg = str(root / ("segment" if seg else "hub" if arch == "p6" else "") / f"{name}{'-seg' if seg else ''}.yaml")
    log = logging.getLogger("yolov5")  # its model summary goes to a handler bound to stdout at import
    level = log.level
    log.setLevel(logging.WARNING)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            return (SegmentationModel if seg else DetectionModel)(cfg, nc=nc)
    finally:
        log.setLevel(level)


def _torchvision(model, shapes):
    import torchvision
    head = "fc.weight" if model.startswith("resnet") else next(
        (k for k in ("classifier.3.weight", "classifier.1.weight") if k in shapes), "classifier.1.weight")
    return getattr(torchvision.models, model)(weights=None, num_classes=_rows(shapes, head))


def _smp(model, shapes):
    import segmentation_models_pytorch as smp
    kind, encoder = model.split("-", 1)
    classes = _rows(shapes, "segmentation_head.0.weight")
    if kind == "unet":
        return smp.Unet(encoder, encoder_weights=None, classes=classes)
    return smp.FPN(f"tu-{encoder}", encoder_weights=None, classes=classes)


def _segformer(model, shapes):
    import torch
    from transformers import SegformerConfig, SegformerForSemanticSegmentation

    config = SegformerConfig(**SEGFORMER_PUBLISHED[model.split("-")[1]],
                             num_labels=_rows(shapes, "decode_head.classifier.weight"))
    with torch.device("meta"):  # b5 has 85M parameters: skip the initialisation the weights overwrite anyway
        m = SegformerForSemanticSegmentation(config)
    return m.to_empty(device="cpu")


def _rtdetr(model, shapes):
    import ultralytics
    from ultralytics.nn.tasks import RTDETRDetectionModel

    nc = int(np.prod(shapes[f"model.{rtdetr.decoder_index(model)}.dec_score_head.0.bias"]))
    yaml = Path(ultralytics.__file__).parent / "cfg" / "models" / "rt-detr" / f"{model}.yaml"
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return RTDETRDetectionModel(str(yaml), nc=nc, verbose=False)


def _ultralytics(model, shapes):
    return ultralytics_reference.build(model, shapes)


BUILDERS = {"yolov5": _yolov5, "resnet": _torchvision, "mobilenet": _torchvision, "smp": _smp,
            "segformer": _segformer, "ultralytics": _ultralytics, "rtdetr": _rtdetr}


def _delegate(info):
    """The family module that names its own raw tensors and cuts them from its reference's output, or None."""
    if info.get("family") == "ultralytics":
        return ultralytics_reference
    return None
# Names some exporters add beside the state_dict (tensorrtx's gen_wts for YOLOv5): not part of the module.
EXTRA_NAMES = (".anchor_grid", ".strides")


def architecture(model, shapes):
    """The upstream module for `model` (untrained), sized by `shapes` (name -> shape of the weights)."""
    spec = families.get(model)
    _offline()
    return BUILDERS[spec.family.name](spec.name, shapes)


def reference_model(model, weights):
    """The upstream module for `model` with `weights` (a name -> array mapping, e.g. weights.load(path)) loaded
    strictly: names missing or extra, and shapes that differ, are an error that names them. Eval mode, float32."""
    import torch
    shapes = {k: tuple(np.shape(weights[k])) for k in weights}
    module = architecture(model, shapes)
    own = module.state_dict()
    missing = [k for k in own if k not in shapes and not k.endswith("num_batches_tracked")]
    extra = [k for k in shapes if k not in own and not k.endswith(EXTRA_NAMES)]
    if missing or extra:
        raise UserError(f"the weights do not fit the reference {model}: missing {missing[:5]}, extra {extra[:5]}")
    state = {}
    for k, v in own.items():
        if k not in shapes:
            state[k] = v
            continue
        array = np.asarray(weights[k])
        if array.size != v.numel():
            raise UserError(f"{k}: expected shape {tuple(v.shape)}, found {array.shape}")
        state[k] = torch.from_numpy(np.array(array, dtype=np.float32 if v.is_floating_point() else array.dtype)
                                    .reshape(tuple(v.shape)))  # tensorrtx .wts store tensors flat
    module.load_state_dict(state, strict=True)
    return module.float().eval()


def resolve(spec, model, trust_pickle=False):
    """(module, weights) for a reference spec: "builtin" -> (None, None) (the caller loads its weights into
    `reference_model`); "python:MODULE:FN" or "FILE.py:FN" -> FN() returns the torch.nn.Module, whose state_dict is
    the weights; a checkpoint, .wts or safetensors path -> those weights in the upstream implementation (checkpoints
    are read without running their code, whole pickled models included; trust_pickle unpickles normally, for what the
    placeholder reader cannot take)."""
    if spec == "builtin":
        return None, None
    if spec.startswith("python:") or (spec.count(":") == 1 and spec.split(":")[0].endswith(".py")):
        target = spec[len("python:"):] if spec.startswith("python:") else spec
        where, _, fn_name = target.rpartition(":")
        if not where or not fn_name:
            raise UserError(f"reference {spec!r}: expected python:MODULE:FN or FILE.py:FN")
        if where.endswith(".py"):
            if not os.path.isfile(where):
                raise UserError(f"reference {spec!r}: no file {where}")
            loader = importlib.util.spec_from_file_location("netdefs_user_reference", where)
            mod = importlib.util.module_from_spec(loader)
            loader.loader.exec_module(mod)
        else:
            sys.path.insert(0, os.getcwd())
            try:
                mod = importlib.import_module(where)
            except ImportError as e:
                raise UserError(f"reference {spec!r}: cannot import {where}: {e}") from None
        fn = getattr(mod, fn_name, None)
        if not callable(fn):
            raise UserError(f"reference {spec!r}: {where} has no callable {fn_name}")
        module = fn().float().eval()
        return module, {k: v.detach().cpu().numpy() for k, v in module.state_dict().items()}
    if weights.detect_format(spec) == "checkpoint":
        arrays = weights.load_checkpoint(spec, trust_pickle=trust_pickle)
    else:
        arrays = weights.load(spec)
    return reference_model(model, arrays), arrays


def raw_names(info):
    """The netdef tensors compared with the reference: YOLOv5's detection maps before decoding (Detect's x[i]),
    else the first output (`logits`); families with their own reference module name theirs."""
    if _delegate(info) is not None:
        return _delegate(info).raw_names(info)
    if info["family"] == "yolov5":
        d = y.detect_index(y.FAMILY.parse(info["model"])[1])
        return [f"model.{d}.m.{i}.view" for i in range(len(info["strides"]))]
    if info["family"] == "rtdetr":  # head "raw": the last decoder layer's boxes and class logits
        return ["dec_bboxes", "dec_scores"]
    return [info["outputs"][0]]


def raw_outputs(module, info):
    """A function (N, 3, H, W) numpy -> {tensor name: array} running `module` to the netdef's raw outputs named in
    `info` (the engine metadata), `raw_names(info)` (transformers' SegFormer returns an object with `.logits`)."""
    import torch
    if _delegate(info) is not None:
        return _delegate(info).raw_outputs(module, info)
    names = raw_names(info)

    def run(x):
        with torch.no_grad():
            out = module(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)))
        if info["family"] == "yolov5":  # eval: (pred, raw maps), segmentation (pred, proto, raw maps)
            return {n: r.numpy() for n, r in zip(names, out[-1])}
        if info["family"] == "rtdetr":  # eval: (top-k output, (dec_bboxes, dec_scores, ...)) per decoder layer
            return {names[0]: out[1][0][-1].numpy(), names[1]: out[1][1][-1].numpy()}
        return {names[0]: getattr(out, "logits", out).numpy()}
    return run
