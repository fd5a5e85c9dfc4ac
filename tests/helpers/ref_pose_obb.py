"""References for the Pose / OBB head pieces and rotated NMS (netdefs/layers/ultralytics_pose_obb.py): ultralytics
8.4.x PoseModel / OBBModel from their yaml with seeded random weights and BN statistics, their head's inputs and
intermediate tensors, and a small builder for networks whose inputs are those tensors."""
import contextlib
import io

import numpy as np
import torch

from tests.helpers import ref_resnet
from tests.helpers.refmodels import randomise, state_dict_arrays  # noqa: F401  (sets the offline environment)


def ultralytics_model(yaml_name, seed=0, nc=None):
    """PoseModel / OBBModel from an ultralytics yaml ('yolov8n-obb.yaml', 'yolo11n-pose.yaml', ...), randomised
    (DFL's projection kept)."""
    from ultralytics.nn.tasks import OBBModel, PoseModel
    cls = OBBModel if "-obb" in yaml_name else PoseModel
    torch.manual_seed(seed)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        m = cls(yaml_name, nc=nc, verbose=False)
    m = randomise(m.float(), seed)
    dfl = getattr(m.model[-1], "dfl", None)
    if isinstance(dfl, torch.nn.Module) and hasattr(dfl, "conv"):
        # every checkpoint holds DFL's fixed projection arange(reg_max) (it is never trained); the netdefs build it
        # as that constant, so a randomised one would be a model no checkpoint is
        with torch.no_grad():
            dfl.conv.weight.copy_(torch.arange(dfl.c1, dtype=torch.float32).view(1, -1, 1, 1))
    return m


def head_inputs(model, x):
    """The feature maps the head receives, and the model's own output, for input `x` (numpy, (B, 3, H, W))."""
    head = model.model[-1]
    seen = {}
    hook = head.register_forward_pre_hook(lambda m, args: seen.__setitem__("feats", [t.detach() for t in args[0]]))
    with torch.no_grad():
        out = model(torch.from_numpy(x))
    hook.remove()
    return seen["feats"], out


def head_intermediates(model, feats):
    """ultralytics' own head code on `feats`: the branch dict of the branch inference uses (one-to-one for an
    end-to-end YOLO26 head), the DFL distances (B, 4, N), anchors (2, N), strides (1, N), and `_inference`'s decoded
    prediction (B, 4 + nc + extra, N)."""
    head = model.model[-1]
    with torch.no_grad():
        branches = head.forward_head(feats, **(head.one2one if head.end2end else head.one2many))
        decoded = head._inference(branches)  # sets head.anchors / head.strides for this shape
        dist = head.dfl(branches["boxes"])
    return branches, dist, head.anchors.clone(), head.strides.clone(), decoded


def build_network(define, inputs, weights=None, precision="fp32", dynamic=None):
    """Build on reftrt a network with inputs {name: shape} (-1 for dynamic dimensions, then `dynamic` gives the
    {name: (min, opt, max)} shapes); `define(net, tensors)` adds the layers and marks the outputs. An Engine."""
    def define_with_inputs(net):
        tensors = {}
        for name, shape in inputs.items():
            if name.endswith("_index"):
                tensors[name] = net.network.add_input(name, net.trt.DataType.INT32, shape)
            else:
                tensors[name] = net.input(name, shape)
        define(net, tensors)
    return ref_resnet.build_network(define_with_inputs, weights or {}, precision=precision, dynamic=dynamic)


rel_err = ref_resnet.rel_err


def ultralytics_rotated_nms(boxes, scores, conf, iou, max_det, agnostic=False, stable=False):
    """ultralytics' non_max_suppression(rotated=True) on rows: boxes (B, N, 5) xywhr, scores (B, N, nc). Returns
    per image (rows (n, 7) = x, y, w, h, score, class, angle; kept anchor indices). stable=True sorts with a stable
    argsort (ties by anchor index), the order our network defines where ultralytics' unstable sort leaves it open."""
    from ultralytics.utils import nms as unms
    pred = torch.from_numpy(np.concatenate([boxes[..., :4], scores, boxes[..., 4:]], axis=2)).transpose(1, 2)
    original = torch.argsort

    def stable_argsort(x, *args, descending=False, **kwargs):
        return torch.sort(x, descending=descending, stable=True).indices

    if stable:
        unms.torch.argsort = stable_argsort
    try:
        out, keep = unms.non_max_suppression(pred.contiguous(), conf, iou, max_det=max_det, nc=scores.shape[2],
                                             rotated=True, agnostic=agnostic, return_idxs=True)
    finally:
        unms.torch.argsort = original
    return [(o.numpy(), k.numpy().reshape(-1).astype(np.int64)) for o, k in zip(out, keep)]
