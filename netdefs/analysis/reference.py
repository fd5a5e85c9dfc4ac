"""The upstream PyTorch implementation of every zoo model, built offline and loaded with the weights a netdef reads.

tools/compare.py (and the accuracy report) compare the network definitions with these: the `yolov5` package's
DetectionModel / SegmentationModel, torchvision's ResNet / MobileNet, segmentation-models-pytorch's Unet / FPN
(timm encoders) and transformers' SegFormer. They are constructed from their configs (no hub, no download) and then
receive the weights through `load_state_dict(strict=True)`, so the reference and the netdef see the same numbers.

torch and those packages are imported here, when a reference is made; the TensorRT build path never imports this.
"""
import contextlib
import io
import logging
import os
import tempfile

import numpy as np

from .. import families
from ..errors import UserError
from ..families import yolov5 as y


def _offline():
    """The upstream packages probe the network and write config directories unless told not to."""
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_CONFIG_DIR", tempfile.mkdtemp(prefix="yolo-config-"))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def _rows(shapes, name):
    if name not in shapes:
        raise UserError(f"the weights have no {name!r}: cannot tell the number of classes")
    return int(shapes[name][0])


def _yolov5(model, shapes):
    from pathlib import Path
    with contextlib.redirect_stdout(io.StringIO()):  # ultralytics (imported by yolov5) announces its settings file
        import yolov5
        from yolov5.models.yolo import DetectionModel, SegmentationModel

    variant, arch, seg = y.FAMILY.parse(model)
    d = y.detect_index(arch)
    nc = int(np.prod(shapes[f"model.{d}.m.0.bias"])) // 3 - 5 - (32 if seg else 0)
    root = Path(yolov5.__file__).parent / "models"
    if arch == "v5.0":  # no yaml ships for v5.0: the same table netdefs/yolov5.py walks, as a yaml-equivalent dict
        gd, gw = y.VARIANTS[variant]
        up = lambda row: [row[0], row[1], "nn.Upsample" if row[2] == "Upsample" else row[2], row[3]]  # noqa: E731
        cfg = {"nc": nc, "depth_multiple": gd, "width_multiple": gw, "anchors": y.ANCHORS_P5,
               "backbone": [list(r) for r in y.BACKBONE_V50],
               "head": [up(r) for r in y.NECK_P5] + [[[17, 20, 23], 1, "Detect", ["nc", "anchors"]]]}
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

    from ..families.segformer import NUM_HEADS, SR_RATIOS, VARIANTS
    hidden_sizes, depths, decoder = VARIANTS[model.split("-")[1]]
    config = SegformerConfig(hidden_sizes=hidden_sizes, depths=depths, decoder_hidden_size=decoder,
                             num_attention_heads=NUM_HEADS, sr_ratios=SR_RATIOS,
                             num_labels=_rows(shapes, "decode_head.classifier.weight"))
    with torch.device("meta"):  # b5 has 85M parameters: skip the initialisation the weights overwrite anyway
        m = SegformerForSemanticSegmentation(config)
    return m.to_empty(device="cpu")


def _rtdetr(model, shapes):
    from pathlib import Path

    import ultralytics
    from ultralytics.nn.tasks import RTDETRDetectionModel

    from ..families.rtdetr import decoder_index
    nc = int(np.prod(shapes[f"model.{decoder_index(model)}.dec_score_head.0.bias"]))
    yaml = Path(ultralytics.__file__).parent / "cfg" / "models" / "rt-detr" / f"{model}.yaml"
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return RTDETRDetectionModel(str(yaml), nc=nc, verbose=False)


BUILDERS = {"yolov5": _yolov5, "resnet": _torchvision, "mobilenet": _torchvision, "smp": _smp,
            "segformer": _segformer, "rtdetr": _rtdetr}
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
    holding whole pickled models need trust_pickle: unpickling runs code)."""
    import importlib
    import importlib.util
    import sys
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
    import weights
    if weights.detect_format(spec) == "checkpoint":
        arrays = weights.load_checkpoint(spec, trust_pickle=trust_pickle)
    else:
        arrays = weights.load(spec)
    return reference_model(model, arrays), arrays


def raw_names(info):
    """The netdef tensors compared with the reference: YOLOv5's detection maps before decoding (Detect's x[i]),
    else the first output (`logits`)."""
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
