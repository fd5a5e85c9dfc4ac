#!/usr/bin/env python3
"""Train a tiny classifier on a generated dataset, so that accuracy numbers mean something without downloads:
python tools/train_tiny.py OUT_DIR [--steps 60] [--seed 0]

The dataset is coloured shapes (0 circle, 1 square, 2 triangle, 3 cross) of random size, position and colour on
a noisy background, 64x64, made deterministically from the seed. A torchvision resnet18 (4 classes) is trained on
the CPU for `--steps` AdamW steps (about a minute on one thread) with the inference preprocessing
(netdefs/tasks/images.py classify_preprocess). Writes OUT_DIR/resnet18_shapes.safetensors, OUT_DIR/images/*.png
(held-out evaluation images, named CLASS_INDEX.png) and OUT_DIR/train.json (the held-out accuracy).
"""
import _common  # noqa: I001  (first: puts the project on sys.path)
import argparse
import json
import os
import sys
import time

import numpy as np


CLASSES = ("circle", "square", "triangle", "cross")
SIZE = 64
MODEL = "resnet18"  # the torchvision classifier trained here (a zoo model, so the tests can build it)


def make_image(rng, cls, size=SIZE):
    """One RGB uint8 image of shape `cls` (an index into CLASSES)."""
    img = rng.integers(0, 90, (size, size, 3)).astype(np.float32)  # dark noise
    colour = rng.integers(120, 256, 3).astype(np.float32)
    r = rng.uniform(0.18, 0.32) * size
    cy, cx = rng.uniform(r + 2, size - r - 2, 2)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    dy, dx = yy - cy, xx - cx
    if cls == 0:
        mask = dy ** 2 + dx ** 2 <= r ** 2
    elif cls == 1:
        mask = (np.abs(dy) <= r * 0.85) & (np.abs(dx) <= r * 0.85)
    elif cls == 2:
        mask = (dy <= r * 0.8) & (dy >= -r) & (np.abs(dx) <= (dy + r) * 0.6)
    else:
        w = r * 0.3
        mask = ((np.abs(dy) <= w) & (np.abs(dx) <= r)) | ((np.abs(dx) <= w) & (np.abs(dy) <= r))
    img[mask] = colour
    return img.clip(0, 255).astype(np.uint8)


def dataset(n, seed):
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % len(CLASSES)
    rng.shuffle(labels)
    return [make_image(rng, int(c)) for c in labels], labels


def train(out_dir, steps=60, seed=0, batch=32, n_eval=16, log=print):
    import torch
    import torchvision

    from netdefs import families
    from netdefs.tasks.images import classify_preprocess
    from weights import save_safetensors
    model_spec = families.get(MODEL)
    preprocess = model_spec.family.preprocess(model_spec.variant, (SIZE, SIZE))  # what the engine's sidecar records
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    started = time.perf_counter()

    def prep(images):
        return torch.from_numpy(np.stack([classify_preprocess(im, (SIZE, SIZE), preprocess)
                                          for im in images]))

    train_images, train_labels = dataset(steps * batch // 2, seed)  # each image is seen twice
    x_all, y_all = prep(train_images), torch.from_numpy(train_labels).long()
    model = getattr(torchvision.models, MODEL)(weights=None, num_classes=len(CLASSES))
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps, pct_start=0.2)
    model.train()
    g = torch.Generator().manual_seed(seed)
    for step in range(steps):
        idx = torch.randint(0, len(x_all), (batch,), generator=g)
        loss = torch.nn.functional.cross_entropy(model(x_all[idx]), y_all[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 10 == 0 or step == steps - 1:
            log(f"step {step + 1}/{steps}: loss {loss.item():.3f}")
    model.eval()
    eval_images, eval_labels = dataset(n_eval, seed + 1)
    with torch.no_grad():
        pred = model(prep(eval_images)).argmax(1).numpy()
    accuracy = float((pred == eval_labels).mean())
    os.makedirs(os.path.join(out_dir, "images"), exist_ok=True)
    from netdefs.tasks.images import save_image
    for i, (im, c) in enumerate(zip(eval_images, eval_labels)):
        save_image(im, os.path.join(out_dir, "images", f"{CLASSES[c]}_{i:03d}.png"))
    weights = os.path.join(out_dir, f"{MODEL}_shapes.safetensors")
    save_safetensors({k: v.detach().numpy().copy() for k, v in model.state_dict().items()}, weights)
    info = {"model": MODEL, "classes": list(CLASSES), "steps": steps, "seed": seed, "imgsz": SIZE,
            "heldout_accuracy": accuracy, "seconds": round(time.perf_counter() - started, 1)}
    from weights.atomic import atomic_write
    atomic_write(os.path.join(out_dir, "train.json"), (json.dumps(info, indent=1) + "\n").encode())
    log(f"held-out accuracy {accuracy:.3f} on {n_eval} images; {info['seconds']} s; wrote {weights}")
    return weights, os.path.join(out_dir, "images"), info


def main(argv=None):
    p = argparse.ArgumentParser(prog="train_tiny.py", description=__doc__.split("\n")[0])
    p.add_argument("out_dir")
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    train(args.out_dir, args.steps, args.seed, log=lambda m: print(m, file=sys.stderr))
    return 0


if __name__ == "__main__":
    _common.run(main, "train_tiny.py")
