#!/usr/bin/env python3
"""Run an engine on images, a directory of images, or a video: python tools/infer.py ENGINE SOURCE [--out DIR]

What it does follows the engine's task, recorded in its .json sidecar (netdefs/tasks/):
- "detect": letterbox, detections printed (the best --show N per image) and, with --out, drawn (-seg engines: with
  their instance masks);
- "pose" / "obb": as detect, with each person's keypoints (the COCO skeleton drawn) / rotated boxes and angles;
- "classify": torchvision's eval transforms (shorter side to imgsz·256/224, centre crop imgsz, ImageNet mean/std
  from the sidecar), the top-5 classes with softmax probabilities printed; nothing is drawn;
- "segment": plain resize to the input size and normalisation, the logits upsampled bilinearly to the image and
  argmax'ed, the class histogram printed and, with --out, the mask blended over the image.
Class names: --names FILE (one per line, or a JSON/YAML list), else the sidecar's (from the weights or
tools/build.py --names), else COCO's for an 80-class detector and ImageNet's for a 1000-class classifier.
In a directory, an image that cannot be read is skipped with a warning; a single bad file is an error.
Batches fill every slot of the engine; the time per stage is printed at the end. An engine with a dynamic image size
(tools/build.py --dynamic-imgsz) takes each batch at the smallest stride multiple within its profile that holds the
images letterboxed to the profile's OPT size.
"""
import _common  # noqa: I001  (first: puts the project on sys.path)
import argparse
import os
import sys
import time

import numpy as np

MAX_SHOW = 10000


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="infer.py", description=__doc__.split("\n")[0])
    p.add_argument("engine", help="engine saved by tools/build.py (with its .json sidecar)")
    p.add_argument("source", help="image, directory of images, or video")
    p.add_argument("--out", help="directory for the drawn images (created when something is drawn)")
    p.add_argument("--backend", choices=["tensorrt", "reference"], help="default: the one that built the engine")
    p.add_argument("--names", help="class names: a text file with one name per line, or a JSON/YAML list "
                                   "(default: the engine's)")
    p.add_argument("--show", type=int, default=10, metavar="N",
                   help=f"print at most N detections (or mask classes) per image, best first (default 10, "
                        f"0..{MAX_SHOW})")
    return p.parse_args(argv)


def class_names(args, meta, task):
    from netdefs.tasks import names
    if args.names:
        return names.check_count(names.read_file(args.names), meta.get("num_classes"), args.names)
    return meta.get("names") or task.default_names(meta.get("num_classes"))


def frames_of(source):
    """(label, image) pairs, and whether a bad image is skipped (many files) or an error (the one file given)."""
    from netdefs.tasks import images as im
    if os.path.isfile(source) and os.path.splitext(source)[1].lower() in im.VIDEO_EXTS:
        return ((f"{os.path.basename(source)}:{i}", frame) for i, frame in enumerate(im.video_frames(source)))
    return im.read_images(im.list_sources(source), skip_bad=os.path.isdir(source))


def main(argv=None):
    args = parse_args(argv)
    _common.check_range("--show", args.show, 0, MAX_SHOW)
    _common.output_dir("--out", args.out)
    import netdefs
    from netdefs import tasks
    from netdefs.runtime.demo import banner

    engine = netdefs.load(args.engine, backend=args.backend)
    meta = engine.meta
    task = tasks.get(meta["task"])
    if meta.get("demo_weights"):
        print(banner(task, short=True), file=sys.stderr)
    shape = engine.input_shape()
    if (shape[2] < 0 or shape[3] < 0) and not meta.get("dynamic_imgsz"):
        raise _common.UserError(f"{args.engine}: the input size is dynamic but the sidecar has no \"dynamic_imgsz\" "
                                f"profile to size images by")
    batch = shape[0] if shape[0] > 0 else int(engine.engine.get_tensor_profile_shape(engine.inputs[0], 0)[2][0])
    names = class_names(args, meta, task)
    out_dir = args.out
    if out_dir and not task.draws:
        print(f"note: {task.name} engines draw nothing; --out {out_dir} is not used", file=sys.stderr)
        out_dir = None

    run = Run(engine, task, batch, shape, names, out_dir, args.show)
    pending = []
    for item in frames_of(args.source):
        pending.append(item)
        if len(pending) == batch:
            run.batch(pending)
            pending = []
    if pending:
        run.batch(pending)
    if not run.count:
        raise _common.UserError(f"{args.source}: none of its images could be read")
    per = {k: 1e3 * v / run.count for k, v in run.totals.items()}
    print(f"{run.count} images; per image: preprocess {per['preprocess']:.1f} ms, inference "
          f"{per['inference']:.1f} ms, postprocess {per['postprocess']:.1f} ms ({engine.backend})")
    if run.drawn:
        print(f"drew {run.drawn} images into {out_dir}/", file=sys.stderr)
    return 0


class Run:
    """Runs batches through the engine, prints each image's results, saves drawings, times the stages."""

    def __init__(self, engine, task, batch, shape, names, out_dir, show):
        self.engine, self.task, self.size, self.shape = engine, task, batch, shape
        self.names, self.out_dir, self.show = names, out_dir, show
        self.totals = {"preprocess": 0.0, "inference": 0.0, "postprocess": 0.0}
        self.count = self.drawn = 0

    def input_size(self, items):
        """The engine's (H, W), or with a dynamic image size the smallest stride multiple within the profile that
        holds every image of the batch letterboxed (a batch shares one shape)."""
        if self.shape[2] > 0 and self.shape[3] > 0:
            return tuple(self.shape[2:])
        from netdefs.tasks import images as im
        meta = self.engine.meta
        stride = meta.get("preprocess", {}).get("stride") or max(meta.get("strides", [32]))
        fits = [im.fit_size(image.shape, meta["dynamic_imgsz"], stride) for _, image in items]
        return max(f[0] for f in fits), max(f[1] for f in fits)

    def batch(self, items):
        meta = self.engine.meta
        t0 = time.perf_counter()
        prepared = [self.task.preprocess(meta, image, self.input_size(items)) for _, image in items]
        inputs = [p[0] for p in prepared]
        # A fixed-batch engine needs every slot filled: pad the last batch by repeating its last image.
        inputs += [inputs[-1]] * (self.size - len(inputs)) if self.shape[0] > 0 else []
        x = np.stack(inputs)
        t1 = time.perf_counter()
        outputs = self.engine(x)
        t2 = time.perf_counter()
        for i, (path, image) in enumerate(items):
            drawn = self.task.show(meta, outputs, i, path, image, prepared[i][1], self.names, bool(self.out_dir),
                                   limit=self.show)
            if self.out_dir and drawn is not None:
                save_drawn(drawn, path, self.out_dir)
                self.drawn += 1
        t3 = time.perf_counter()
        self.totals["preprocess"] += t1 - t0
        self.totals["inference"] += t2 - t1
        self.totals["postprocess"] += t3 - t2
        self.count += len(items)


def save_drawn(drawn, path, out_dir):
    from netdefs.tasks import images as im
    name = os.path.basename(path.split(":")[0])
    stem, ext = os.path.splitext(name)
    suffix = f"_{path.split(':')[1]}" if ":" in path else ""
    os.makedirs(out_dir, exist_ok=True)
    im.save_image(drawn, os.path.join(out_dir, f"{stem}{suffix}{ext or '.jpg'}"))


if __name__ == "__main__":
    _common.run(main, "infer.py")
