"""Check the Triton kernel of `trt_netdefs::bilinear_resize` against its PyTorch reference on a CUDA GPU.

    python plugins/check_gpu.py [--cases 40] [--seed 0]

For random sizes, scale factors, align_corners / antialias and float32 / float16 inputs it runs the Triton kernel
(plugins/_bilinear_triton.py, with the tables of plugins/bilinear.py) and compares it with `bilinear.reference`
(float32: max abs error <= 1e-5 relative to the input's range; float16: <= 2e-3, the output's rounding), then
reports the achieved memory bandwidth of a few large resizes: (bytes of the input + bytes of the output) / time,
in GB/s (the input counted once: with antialias, neighbouring outputs re-read it through the cache).

Without a CUDA GPU, or without torch / triton, it prints "skipped: ..." and exits 0.

`--interpret` runs the same kernel on the CPU through Triton's interpreter (TRITON_INTERPRET=1; needs triton, no
GPU): it checks the kernel's indexing and arithmetic where no GPU is available (small sizes, no bandwidth).
"""
import argparse
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# Device nodes of an NVIDIA driver (desktop / server, Jetson, WSL): without any, there is no CUDA GPU, and the
# check says so without importing torch (seconds).
_DRIVER_NODES = ("/dev/nvidiactl", "/dev/nvhost-ctrl", "/dev/nvhost-ctrl-gpu", "/dev/dxg")


def _skip_reason():
    if sys.platform.startswith("linux") and not any(os.path.exists(p) for p in _DRIVER_NODES):
        return "no CUDA GPU"
    try:
        import torch
    except ImportError:
        return "no torch"
    if not torch.cuda.is_available():
        return "no CUDA GPU"
    try:
        import triton  # noqa: F401
    except ImportError:
        return "no Triton (pip install triton)"
    return None


def _random_case(rng, limit=96):
    h, w = rng.randint(1, limit), rng.randint(1, limit)
    align_corners = rng.random() < 0.25
    antialias = rng.random() < 0.5
    if rng.random() < 0.5:
        return (h, w), dict(size=(rng.randint(1, limit + limit // 4), rng.randint(1, limit + limit // 4)),
                            scale_factor=None,
                            align_corners=align_corners, antialias=antialias)
    while True:
        s = (rng.uniform(0.1, 3.0), rng.uniform(0.1, 3.0))
        if int(h * s[0]) >= 1 and int(w * s[1]) >= 1:
            return (h, w), dict(size=None, scale_factor=s, align_corners=align_corners, antialias=antialias)


def check(cases, seed, device="cuda", limit=96):
    import torch
    from plugins import bilinear
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    worst = {torch.float32: 0.0, torch.float16: 0.0}
    failures = 0
    for k in range(cases):
        (h, w), kw = _random_case(rng, limit)
        dtype = torch.float16 if k % 3 == 2 else torch.float32
        n, c = rng.randint(1, 2), rng.randint(1, 5)
        x = torch.randn((n, c, h, w), generator=gen).to(dtype)
        out_hw, scales = bilinear._resolve(h, w, kw["size"], kw["scale_factor"])
        ref = bilinear._reference(x.float(), out_hw, scales, kw["align_corners"], kw["antialias"])
        xg = x.to(device)
        y = torch.empty((n, c) + tuple(out_hw), dtype=dtype, device=device)
        bilinear.resize_gpu(xg, y, out_hw, scales, kw["align_corners"], kw["antialias"])
        if device == "cuda":
            torch.cuda.synchronize()
        err = (y.float().cpu() - ref).abs().max().item() / max(x.float().abs().max().item(), 1e-6)
        bound = 1e-5 if dtype == torch.float32 else 2e-3
        worst[dtype] = max(worst[dtype], err)
        status = "ok" if err <= bound else "FAIL"
        failures += status == "FAIL"
        print(f"{status:4} {str(dtype)[6:]:8} {n}x{c}x{h}x{w} -> {out_hw[0]}x{out_hw[1]} "
              f"size={kw['size']} scale_factor={kw['scale_factor'] and tuple(round(v, 4) for v in kw['scale_factor'])}"
              f" align_corners={kw['align_corners']} antialias={kw['antialias']}: rel err {err:.2e} (<= {bound:g})")
    print(f"worst relative error: float32 {worst[torch.float32]:.2e}, float16 {worst[torch.float16]:.2e}")
    return failures


def bandwidth():
    import torch
    from plugins import bilinear
    print("bandwidth (bytes read + written / time):")
    rows = [((8, 64, 512, 512), dict(size=(128, 128), scale_factor=None, align_corners=False, antialias=True)),
            ((8, 64, 128, 128), dict(size=None, scale_factor=(1.7, 1.7), align_corners=False, antialias=False)),
            ((8, 19, 128, 128), dict(size=(512, 512), scale_factor=None, align_corners=False, antialias=False)),
            ((1, 3, 1080, 1920), dict(size=(224, 224), scale_factor=None, align_corners=False, antialias=True))]
    for shape, kw in rows:
        for dtype in (torch.float32, torch.float16):
            x = torch.randn(shape, device="cuda").to(dtype)
            out_hw, scales = bilinear._resolve(shape[2], shape[3], kw["size"], kw["scale_factor"])
            y = torch.empty(shape[:2] + tuple(out_hw), dtype=dtype, device="cuda")
            run = lambda: bilinear.resize_gpu(x, y, out_hw, scales, kw["align_corners"], kw["antialias"])  # noqa
            for _ in range(3):
                run()
            torch.cuda.synchronize()
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            reps = 20
            start.record()
            for _ in range(reps):
                run()
            end.record()
            torch.cuda.synchronize()
            seconds = start.elapsed_time(end) / 1e3 / reps
            moved = x.numel() * x.element_size() + y.numel() * y.element_size()
            print(f"  {str(dtype)[6:]:8} {'x'.join(map(str, shape))} -> {out_hw[0]}x{out_hw[1]} "
                  f"antialias={kw['antialias']}: {seconds * 1e6:9.1f} us, {moved / seconds / 1e9:8.1f} GB/s")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-bandwidth", action="store_true")
    parser.add_argument("--interpret", action="store_true",
                        help="run the kernel on the CPU with Triton's interpreter (no GPU needed)")
    args = parser.parse_args(argv)
    if args.interpret:
        os.environ["TRITON_INTERPRET"] = "1"  # read when the kernel is decorated: before plugins._bilinear_triton
        try:
            import torch  # noqa: F401
            import triton  # noqa: F401
        except ImportError as e:
            print(f"skipped: {e.name} is not installed")
            return 0
        print("device: CPU, Triton interpreter")
        failures = check(args.cases, args.seed, device="cpu", limit=16)
        print(f"{failures} of {args.cases} cases FAILED" if failures else f"all {args.cases} cases ok")
        return 1 if failures else 0
    reason = _skip_reason()
    if reason:
        print(f"skipped: {reason}: the Triton kernel of trt_netdefs::bilinear_resize needs a CUDA GPU and triton")
        return 0
    import torch
    print(f"device: {torch.cuda.get_device_name()}")
    failures = check(args.cases, args.seed)
    if not args.no_bandwidth:
        bandwidth()
    if failures:
        print(f"{failures} of {args.cases} cases FAILED")
        return 1
    print(f"all {args.cases} cases ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
