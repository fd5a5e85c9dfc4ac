#!/usr/bin/env python3
"""Run an engine on images, a directory of images, or a video: python tools/infer.py ENGINE SOURCE [--out DIR]

YOLOv5 letterbox preprocessing, batches that fill every slot of the engine, detections printed and drawn, and
the time per stage.
"""
import argparse
import os
import sys
import time

import numpy as np

import _common  # noqa: F401  (puts the project on sys.path)


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="infer.py", description=__doc__.split("\n")[0])
    p.add_argument("engine", help="engine saved by tools/build.py (with its .json sidecar)")
    p.add_argument("source", help="image, directory of images, or video")
    p.add_argument("--out", help="directory for the drawn images")
    p.add_argument("--backend", choices=["tensorrt", "reference"], help="default: the one that built the engine")
    p.add_argument("--names", help="text file with one class name per line")
    return p.parse_args(argv)


def batches(items, size):
    for i in range(0, len(items), size):
        yield items[i:i + size]


def main(argv=None):
    args = parse_args(argv)
    import netdefs
    from netdefs import images as im
    from netdefs.engine import UserError

    engine = netdefs.load(args.engine, backend=args.backend)
    meta = engine.meta
    if meta.get("demo_weights"):
        print("NOTE: this engine was built with random DEMO weights: its detections are meaningless.",
              file=sys.stderr)
    shape = engine.input_shape()
    if shape[2] < 0 or shape[3] < 0:
        raise UserError("engines with a dynamic image size are not supported by infer.py")
    batch = shape[0] if shape[0] > 0 else int(engine.engine.get_tensor_profile_shape(engine.inputs[0], 0)[2][0])
    names = open(args.names).read().split("\n") if args.names else None
    if args.out:
        os.makedirs(args.out, exist_ok=True)

    ext = os.path.splitext(args.source)[1].lower()
    if os.path.isfile(args.source) and ext in im.VIDEO_EXTS:
        frames = ((f"{os.path.basename(args.source)}:{i}", frame)
                  for i, frame in enumerate(im.video_frames(args.source)))
    else:
        frames = ((path, im.read_image(path)) for path in im.list_sources(args.source))

    totals = {"preprocess": 0.0, "inference": 0.0, "postprocess": 0.0}
    count = 0
    pending = []
    for item in frames:
        pending.append(item)
        if len(pending) == batch:
            count += run_batch(engine, pending, batch, shape, names, args.out, totals)
            pending = []
    if pending:
        count += run_batch(engine, pending, batch, shape, names, args.out, totals)
    if count:
        per = {k: 1e3 * v / count for k, v in totals.items()}
        print(f"{count} images; per image: preprocess {per['preprocess']:.1f} ms, inference "
              f"{per['inference']:.1f} ms, postprocess {per['postprocess']:.1f} ms ({engine.backend})")
    return 0


def run_batch(engine, items, batch, shape, names, out_dir, totals):
    from netdefs import images as im
    t0 = time.perf_counter()
    boxed = [im.letterbox(image, shape[2:]) for _, image in items]
    inputs = [b[0] for b in boxed]
    # A fixed-batch engine needs every slot filled: pad the last batch by repeating its last image.
    inputs += [inputs[-1]] * (batch - len(inputs)) if engine.input_shape()[0] > 0 else []
    x = im.to_input(inputs)
    t1 = time.perf_counter()
    outputs = engine(x)
    t2 = time.perf_counter()
    for i, (path, image) in enumerate(items):
        if "num_dets" not in outputs:
            print(f"{path}: " + ", ".join(f"{k} {v.shape}" for k, v in outputs.items()))
            continue
        n = int(outputs["num_dets"][i, 0])
        ratio, pad = boxed[i][1], boxed[i][2]
        boxes = im.scale_boxes(outputs["boxes"][i, :n], ratio, pad, image.shape)
        scores, classes = outputs["scores"][i, :n], outputs["classes"][i, :n]
        print(f"{path}: {n} detections")
        for box, score, cls in zip(boxes, scores, classes):
            label = names[int(cls)] if names and int(cls) < len(names) else str(int(cls))
            print(f"  {label:>12s} {score:.3f}  [{box[0]:.1f}, {box[1]:.1f}, {box[2]:.1f}, {box[3]:.1f}]")
        if out_dir:
            drawn = im.draw_detections(image, boxes, scores, classes, names)
            name = os.path.basename(path.split(":")[0])
            stem, ext = os.path.splitext(name)
            suffix = f"_{path.split(':')[1]}" if ":" in path else ""
            im.save_image(drawn, os.path.join(out_dir, f"{stem}{suffix}{ext or '.jpg'}"))
    t3 = time.perf_counter()
    totals["preprocess"] += t1 - t0
    totals["inference"] += t2 - t1
    totals["postprocess"] += t3 - t2
    return len(items)


if __name__ == "__main__":
    _common.run(main, "infer.py")
