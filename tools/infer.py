#!/usr/bin/env python3
"""Run an engine on images, a directory of images, or a video: python tools/infer.py ENGINE SOURCE [--out DIR]

What it does follows the engine's task (`meta["task"]` in its .json sidecar):
- "detect" (YOLOv5): letterbox, detections printed and, with --out, drawn;
- "classify": torchvision's eval transforms (shorter side to imgsz·256/224, centre crop imgsz, ImageNet mean/std
  from the metadata), the top-5 classes with softmax probabilities printed;
- "segment": plain resize to the input size and normalisation, the logits upsampled bilinearly to the image and
  argmax'ed, the class histogram printed and, with --out, the mask blended over the image.
Batches fill every slot of the engine; the time per stage is printed at the end.
"""
import _common  # noqa: F401,I001  (first: puts the project on sys.path, tools/ last)
import argparse
import os
import sys
import time

import numpy as np


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
        print("NOTE: this engine was built with random DEMO weights: its outputs are meaningless.",
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
    task = engine.meta.get("task", "detect")
    if task not in TASKS:
        from netdefs.engine import UserError
        raise UserError(f"infer.py does not know the task {task!r} of this engine (known: {', '.join(TASKS)})")
    prepare, report = TASKS[task]
    t0 = time.perf_counter()
    prepared = [prepare(engine.meta, image, shape[2:]) for _, image in items]
    inputs = [p[0] for p in prepared]
    # A fixed-batch engine needs every slot filled: pad the last batch by repeating its last image.
    inputs += [inputs[-1]] * (batch - len(inputs)) if engine.input_shape()[0] > 0 else []
    x = np.stack(inputs)
    t1 = time.perf_counter()
    outputs = engine(x)
    t2 = time.perf_counter()
    for i, (path, image) in enumerate(items):
        drawn = report(engine.meta, outputs, i, path, image, prepared[i][1], names, bool(out_dir))
        if out_dir and drawn is not None:
            save_drawn(drawn, path, out_dir)
    t3 = time.perf_counter()
    totals["preprocess"] += t1 - t0
    totals["inference"] += t2 - t1
    totals["postprocess"] += t3 - t2
    return len(items)


def save_drawn(drawn, path, out_dir):
    from netdefs import images as im
    name = os.path.basename(path.split(":")[0])
    stem, ext = os.path.splitext(name)
    suffix = f"_{path.split(':')[1]}" if ":" in path else ""
    im.save_image(drawn, os.path.join(out_dir, f"{stem}{suffix}{ext or '.jpg'}"))


def label_of(cls, names):
    return names[cls] if names and cls < len(names) and names[cls] else str(cls)


# ---- detect (YOLOv5): letterbox in, detections out
def prepare_detect(meta, image, size):
    from netdefs import images as im
    boxed, ratio, pad = im.letterbox(image, size)
    return im.to_input([boxed])[0], (ratio, pad)


def report_detect(meta, outputs, i, path, image, state, names, draw):
    from netdefs import images as im
    if "num_dets" not in outputs:
        print(f"{path}: " + ", ".join(f"{k} {v.shape}" for k, v in outputs.items()))
        return None
    n = int(outputs["num_dets"][i, 0])
    ratio, pad = state
    boxes = im.scale_boxes(outputs["boxes"][i, :n], ratio, pad, image.shape)
    scores, classes = outputs["scores"][i, :n], outputs["classes"][i, :n]
    print(f"{path}: {n} detections")
    for box, score, cls in zip(boxes, scores, classes):
        print(f"  {label_of(int(cls), names):>12s} {score:.3f}  [{box[0]:.1f}, {box[1]:.1f}, {box[2]:.1f}, "
              f"{box[3]:.1f}]")
    return im.draw_detections(image, boxes, scores, classes, names) if draw else None


# ---- classify: torchvision eval transforms in, top-5 out
def prepare_classify(meta, image, size):
    from netdefs import images as im
    return im.classify_preprocess(image, size, meta["preprocess"]), None


def report_classify(meta, outputs, i, path, image, state, names, draw, k=5):
    from netdefs import images as im
    logits = outputs[meta.get("outputs", ["logits"])[0]][i]
    classes, probs = im.topk(im.softmax(logits), k)
    print(f"{path}: top-{len(classes)}")
    for cls, p in zip(classes, probs):
        print(f"  {p:.4f}  {int(cls):>5d}" + (f"  {label_of(int(cls), names)}" if names else ""))
    return None


# ---- segment: resize in, per-pixel argmax of the upsampled logits out
def prepare_segment(meta, image, size):
    from netdefs import images as im
    return im.segment_preprocess(image, size, meta["preprocess"]), None


def report_segment(meta, outputs, i, path, image, state, names, draw):
    from netdefs import images as im
    logits = outputs[meta.get("outputs", ["logits"])[0]][i]
    mask = im.segment_mask(logits, image.shape[:2])
    total = mask.size
    parts = [f"{label_of(c, names)} {100.0 * n / total:.1f}%" for c, n in im.class_histogram(mask)]
    print(f"{path}: {mask.shape[0]}x{mask.shape[1]} mask, classes: " + ", ".join(parts))
    return im.draw_mask(image, mask) if draw else None


TASKS = {"detect": (prepare_detect, report_detect), "classify": (prepare_classify, report_classify),
         "segment": (prepare_segment, report_segment)}


if __name__ == "__main__":
    _common.run(main, "infer.py")
