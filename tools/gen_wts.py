#!/usr/bin/env python3
"""Convert a PyTorch checkpoint (any form), a .wts or a safetensors file to a tensorrtx .wts or safetensors file.

    python tools/gen_wts.py yolov5s.pt -o yolov5s.wts
    python tools/gen_wts.py yolov5s.pt -o yolov5s.safetensors --dtype float16
    python tools/gen_wts.py yolov5s.wts -o yolov5s.safetensors        # and back

Checkpoints are read without running code from them, whole pickled models included (YOLOv5's and ultralytics'
last.pt / best.pt, torch.save(model) of torchvision or timm models): every class the pickle names becomes an
inert placeholder and the weights come from the model's pickled parameters and buffers, so neither the training
repository nor its code is needed. --trust-pickle unpickles normally instead (running the file's code) for what
that cannot read; it finds a YOLOv5 repository's `models.*` / `utils.*` in the pip `yolov5` package.
The output is written atomically.
"""
import _common  # noqa: F401,I001  (first: puts the project on sys.path, tools/ last)
import argparse
import os
import sys
import time


PROG = "gen_wts"
BIG = 64 << 20  # inputs from this size on get a progress bar on a terminal


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="gen_wts.py", description=__doc__.split("\n")[0])
    p.add_argument("checkpoint", help=".pt / .pth / .pth.tar / .pkl / .ckpt checkpoint, .wts or .safetensors")
    p.add_argument("-o", "--output", required=True, help="OUT.wts (tensorrtx, float32) or OUT.safetensors")
    p.add_argument("--dtype", choices=("keep", "float32", "float16"), default="keep",
                   help="floating tensors' dtype in a safetensors output (default: as in the checkpoint); "
                        ".wts is always float32")
    p.add_argument("--key", help="the checkpoint entry holding the weights when there are several "
                                 "(ema, model, state_dict ...; default: ema, then model, then state_dict)")
    p.add_argument("--trust-pickle", action="store_true",
                   help="unpickle normally, running code from the file (only for what the default reader, which "
                        "runs nothing, cannot take); the model's code must import")
    p.add_argument("--strip-prefix", default="module.", metavar="PREFIX",
                   help="removed when every name starts with it (default: 'module.', DataParallel's); '' keeps "
                        "names as they are")
    p.add_argument("--allow-nonfinite", action="store_true", help="write NaN / Inf values instead of refusing")
    shown = p.add_mutually_exclusive_group()
    shown.add_argument("--progress", action="store_true", help="always show a progress bar")
    shown.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    return p.parse_args(argv)


class Progress:
    """`label  42%` on stderr, redrawn at most ten times a second; no dependency."""

    def __init__(self, label, enabled):
        self.label, self.enabled, self.last, self.drawn = label, enabled, 0.0, False

    def __call__(self, done, total):
        now = time.monotonic()
        if not self.enabled or (now - self.last < 0.1 and done < total):
            return
        self.last, self.drawn = now, True
        percent = 100 * done // total if total else 100
        bar = "#" * (percent // 4)
        print(f"\r{self.label} [{bar:<25}] {percent:3d}%", end="", file=sys.stderr, flush=True)

    def close(self):
        if self.drawn:
            print(file=sys.stderr, flush=True)
            self.drawn = False


def convert(args, note):
    import numpy as np
    import weights

    output_kind = os.path.splitext(args.output)[1].lower()
    if output_kind not in (".wts", ".safetensors"):
        raise weights.WeightsError(f"{args.output}: the output name must end in .wts or .safetensors")
    if output_kind == ".wts" and args.dtype == "float16":
        raise weights.WeightsError(f"{args.output}: .wts stores float32 only (tensorrtx's format); "
                                   "--dtype float16 needs a .safetensors output")
    kind = weights.detect_format(args.checkpoint)
    size = os.path.getsize(args.checkpoint)
    show = not args.quiet and (args.progress or (sys.stderr.isatty() and size >= BIG))
    if kind == "checkpoint":
        source = weights.load_checkpoint(args.checkpoint, key=args.key, trust_pickle=args.trust_pickle,
                                         strip=args.strip_prefix, allow_nonfinite=args.allow_nonfinite, log=note)
        arrays = source
    else:
        if args.key or args.trust_pickle:
            note(f"--key and --trust-pickle apply to PyTorch checkpoints only: ignored for a {kind} input")
        bar = Progress(f"reading {os.path.basename(args.checkpoint)}", show)
        try:
            source = weights.load(args.checkpoint, allow_nonfinite=args.allow_nonfinite, progress=bar)
        finally:
            bar.close()
        arrays, stripped = weights.strip_prefix(source, args.strip_prefix)
        if stripped:
            note(f"removed the prefix {args.strip_prefix!r} from every name")
    dtype = None if args.dtype == "keep" else np.dtype(args.dtype)
    metadata = None  # .wts has no place for it
    if output_kind == ".safetensors":
        floats = {(dtype or arrays[n].dtype).name for n in arrays if arrays[n].dtype.kind == "f"}
        metadata = dict(source.metadata, source=os.path.basename(args.checkpoint), source_sha256=source.sha256,
                        converted_by="trt-netdefs tools/gen_wts.py", dtype=",".join(sorted(floats)))
    bar = Progress(f"writing {os.path.basename(args.output)}", show)
    try:
        weights.save(arrays, args.output, metadata=metadata, dtype=dtype, progress=bar,
                     allow_nonfinite=args.allow_nonfinite)
    finally:
        bar.close()
    values = sum(int(arrays[n].size) for n in arrays)
    stored = (metadata["dtype"] or "no floats") if metadata else "float32"
    taken = f"{source.metadata['key']!r} of " if source.metadata.get("key") else ""
    note(f"wrote {args.output}: {len(arrays)} tensors, {values:,} values, {stored} (from {taken}{args.checkpoint})")


def main(argv=None):
    args = parse_args(argv)
    note = (lambda message: None) if args.quiet else (lambda message: print(f"{PROG}: {message}", file=sys.stderr))
    from weights import WeightsError
    try:
        convert(args, note)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; {args.output} was not written", file=sys.stderr)
        return 130
    except WeightsError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # e.g. the disk is full
        print(f"{PROG}: error: {e.filename or args.output}: {e.strerror or e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
