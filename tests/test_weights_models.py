"""Helpers for the weights tests (no tests here): tiny PyTorch models, and checkpoints of every form users bring.

The models live in an importable module (`tests.test_weights_models`) because a whole pickled model can only be
unpickled where its class imports, as YOLOv5's checkpoints need YOLOv5's `models` package.
"""
import pickle

import torch
from torch import nn


class Conv(nn.Module):
    """YOLOv5's Conv: conv (no bias) + BN + SiLU."""

    def __init__(self, c1, c2, k=1):
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, k, padding=k // 2, bias=False)
        self.bn = nn.BatchNorm2d(c2, eps=1e-3)
        self.act = nn.SiLU()

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class Detect(nn.Module):
    """YOLOv5's Detect head, weights only: one 1x1 conv per level with anchors x (5 + classes) outputs."""

    def __init__(self, nc, ch, na=3):
        super().__init__()
        self.m = nn.ModuleList(nn.Conv2d(c, na * (nc + 5), 1) for c in ch)
        self.register_buffer("anchors", torch.rand(len(ch), na, 2) * 4)


class TinyYolo(nn.Module):
    """A model shaped like YOLOv5's (state_dict names `model.0.conv.weight`, `model.2.m.0.weight`), tiny."""

    def __init__(self, nc=2):
        super().__init__()
        self.model = nn.Sequential(Conv(3, 8, 3), Conv(8, 16, 3), Detect(nc, (16,)))
        self.yaml = {"nc": nc, "depth_multiple": 0.33, "width_multiple": 0.25}
        self.names = [f"class{i}" for i in range(nc)]


def tiny_yolo(seed=0, nc=2):
    """A TinyYolo with seeded random weights and BN statistics (fresh BN is the identity and hides bugs)."""
    torch.manual_seed(seed)
    model = TinyYolo(nc)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g))
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=g))
                m.num_batches_tracked.fill_(7)
    return model.eval()


def arrays_of(state_dict):
    return {k: v.detach().cpu().numpy().copy() for k, v in state_dict.items()}


FORMS = ("state_dict", "state_dict_key", "model_optimizer", "yolov5", "whole_model", "dataparallel", "fp16",
         "legacy_format", "numpy_pickle")
NEEDS_TRUST = set()  # whole pickled models are read without their code (placeholders): none needs trust


def make_checkpoint(form, path):
    """Save a checkpoint of `form` at `path`; returns the {name: array} that converting it must give."""
    model = tiny_yolo(seed=1)
    sd = model.state_dict()
    expected = arrays_of(sd)
    if form == "state_dict":
        torch.save(sd, path)
    elif form == "state_dict_key":  # torchvision's reference scripts, mmcv, Lightning
        torch.save({"state_dict": sd, "epoch": 3, "arch": "tiny_yolo"}, path)
    elif form == "model_optimizer":  # a training checkpoint
        # what torch.optim.SGD(momentum=0.9).state_dict() holds (torch.optim itself is slow to import)
        optimizer = {"state": {i: {"momentum_buffer": torch.zeros_like(p)} for i, p in enumerate(model.parameters())},
                     "param_groups": [{"lr": 0.1, "momentum": 0.9, "params": list(range(len(sd)))}]}
        torch.save({"model": sd, "optimizer": optimizer, "epoch": 3}, path)
    elif form == "yolov5":  # YOLOv5's train.py: whole models, in half precision, the EMA one preferred
        ema = tiny_yolo(seed=2)
        torch.save({"epoch": 5, "best_fitness": 0.5, "model": model.half(), "ema": ema.half(), "updates": 10,
                    "optimizer": None, "opt": {"imgsz": 640}, "git": None, "date": "2026-11-23"}, path)
        expected = arrays_of(ema.state_dict())
    elif form == "whole_model":
        torch.save(model, path)
    elif form == "dataparallel":  # keys all start with "module."
        torch.save(nn.DataParallel(model).state_dict(), path)
    elif form == "fp16":
        torch.save(model.half().state_dict(), path)
        expected = arrays_of(model.state_dict())
    elif form == "legacy_format":  # torch.save before PyTorch 1.6
        torch.save(sd, path, _use_new_zipfile_serialization=False)
    elif form == "numpy_pickle":  # detectron2's model zoo .pkl: a plain pickle of numpy arrays
        with open(path, "wb") as f:
            pickle.dump({"model": expected, "__author__": "tests"}, f, protocol=2)
    else:
        raise ValueError(form)
    return expected
