#!/usr/bin/env python3
"""Weights I/O speed and memory, as ratios (issue 3). Prints a markdown table.

    python benchmarks/bench_weights.py                   # 100M float32 parameters, ~3 GB of temporary files
    python benchmarks/bench_weights.py --params 200000   # a quick check that it runs

Every time is the best of `--repeat` runs (3). Wall-clock and CPU times are both reported: on a shared machine
the CPU time is the steadier of the two.

- `.wts` write / read: ours against tensorrtx's gen_wts.py loop (`struct.pack('>f', v).hex()` per value) and the
  obvious Python reader (`int(x, 16)` per value). The baselines take 0.3 to 1 us per value, so by default they are
  timed on a 2M-value sample and scaled linearly to the full size (said in the table). Files go to /dev/shm (RAM)
  when there is one, so that both sides are measured on the code, not on the disk: a 900 MB `.wts` written
  durably (ours fsyncs) takes 5 s on a 180 MB/s disk whatever the code; `--dir` puts them elsewhere.
- safetensors load: `weights.load` plus touching every page of every tensor (everything in memory, zero-copy),
  against `open(path, 'rb').read()` of the same file, page cache warm for both.
- peak memory of `tools/gen_wts.py` converting a `.pt` to safetensors and to `.wts`, and `.wts` to safetensors,
  in a child process: the peak resident set during the conversion minus the resident set before it (so that
  importing torch, ~0.6 GB, is not counted), against the weights' size.
"""
import argparse
import gc
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import weights  # noqa: E402


# ---------------------------------------------------------------- the baselines: tensorrtx's way
def tensorrtx_write(state_dict, path):
    """tensorrtx's gen_wts.py writing loop, verbatim."""
    with open(path, "w") as f:
        f.write("{}\n".format(len(state_dict.keys())))
        for k, v in state_dict.items():
            vr = v.reshape(-1)
            f.write("{} {} ".format(k, len(vr)))
            for vv in vr:
                f.write(" ")
                f.write(struct.pack(">f", float(vv)).hex())
            f.write("\n")


def tensorrtx_read(path):
    """The obvious Python reader of the format, one value at a time as tensorrtx's C++ loader reads them."""
    out = {}
    with open(path) as f:
        count = int(f.readline())
        for _ in range(count):
            parts = f.readline().split()
            name, size = parts[0], int(parts[1])
            out[name] = np.array([int(x, 16) for x in parts[2:2 + size]], np.uint32).view(np.float32)
    return out


# ---------------------------------------------------------------- inputs
def synthetic_state_dict(params, seed=0):
    """`params` float32 values in tensors shaped like a CNN's (3x3 convs, 1x1 convs, BN vectors)."""
    rng = np.random.default_rng(seed)
    shapes = [(256, 256, 3, 3), (256,), (256,), (256,), (256,), (512, 256, 1, 1), (512,), (1024, 512, 3, 3)]
    sd, total, i = {}, 0, 0
    while total < params:
        shape = shapes[i % len(shapes)]
        size = int(np.prod(shape))
        if total + size > params:
            shape, size = (params - total,), params - total
        sd[f"model.{i // len(shapes)}.layer{i % len(shapes)}.weight"] = rng.standard_normal(shape, np.float32)
        total += size
        i += 1
    return sd


def sample_of(state_dict, values):
    """The first tensors of `state_dict`, about `values` values in all (the last one cut, flat)."""
    sample, total = {}, 0
    for name, a in state_dict.items():
        if total >= values:
            break
        take = min(a.size, values - total)
        sample[name] = a if take == a.size else a.reshape(-1)[:take]
        total += take
    return sample, total


def best_of(repeat, f):
    """(wall-clock seconds, CPU seconds of this process), each the best of `repeat` runs."""
    walls, cpus = [], []
    for _ in range(repeat):
        gc.collect()
        wall, cpu = time.perf_counter(), time.process_time()
        f()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus)


def scaled(times, factor):
    return times[0] * factor, times[1] * factor


def touch_every_page(w):
    """Bring every byte of every tensor into memory: one read per page of the mapping."""
    for name in w:
        a = w[name]
        if a.size:
            a.reshape(-1).view(np.uint8)[::4096].sum()


# ---------------------------------------------------------------- memory, in a child process
def _status(key):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key + ":"))


def memory_child(directory):
    """Runs in a child: makes the .pt, then converts it with gen_wts.main, measuring each conversion's peak."""
    import torch
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    import gen_wts
    source = weights.load(os.path.join(directory, "model.safetensors"))
    torch.save({name: torch.from_numpy(np.array(source[name])) for name in source}, os.path.join(directory,
                                                                                                "model.pt"))
    del source
    results = {}
    for label, src, dst in (("pt_to_safetensors", "model.pt", "out.safetensors"), ("pt_to_wts", "model.pt", "out.wts"),
                            ("wts_to_safetensors", "model.wts", "out2.safetensors")):
        gc.collect()
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets the peak resident set (VmHWM) to the current one (Linux >= 4.0)
        before = _status("VmRSS")
        start = time.perf_counter()
        code = gen_wts.main([os.path.join(directory, src), "-o", os.path.join(directory, dst), "-q"])
        seconds = time.perf_counter() - start
        results[label] = {"peak_bytes": _status("VmHWM") - before, "seconds": seconds, "exit": code}
        os.remove(os.path.join(directory, dst))
    print(json.dumps(results))


def measure_memory(directory):
    r = subprocess.run([sys.executable, os.path.abspath(__file__), "--memory-child", directory],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"memory measurement failed: {r.stderr.strip()[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- the benchmark
def run(params, baseline_sample, repeat, directory):
    results = {"params": params, "weights_bytes": 4 * params, "directory": directory,
               "load_average": os.getloadavg()[0], "cpus": os.cpu_count()}
    sd = synthetic_state_dict(params)
    wts_path, st_path = os.path.join(directory, "model.wts"), os.path.join(directory, "model.safetensors")

    results["ours_write_s"] = best_of(repeat, lambda: weights.save_wts(sd, wts_path))
    sample, sampled = sample_of(sd, min(params, baseline_sample))
    sample_path = os.path.join(directory, "sample.wts")
    results["baseline_write_s"] = scaled(best_of(repeat, lambda: tensorrtx_write(sample, sample_path)),
                                         params / sampled)
    results["baseline_sampled_values"] = sampled

    results["ours_read_s"] = best_of(repeat, lambda: weights.read_wts(wts_path))
    results["baseline_read_s"] = scaled(best_of(repeat, lambda: tensorrtx_read(sample_path)), params / sampled)
    results["wts_bytes"] = os.path.getsize(wts_path)

    weights.save_safetensors(sd, st_path)
    del sd
    gc.collect()

    def read_bytes():
        with open(st_path, "rb") as f:
            f.read()
    results["raw_read_s"] = best_of(repeat, read_bytes)
    results["st_load_touch_s"] = best_of(repeat, lambda: touch_every_page(weights.load(st_path)))
    results["st_load_lazy_s"] = best_of(repeat, lambda: weights.load(st_path))
    try:
        from safetensors.numpy import load_file
        results["st_package_load_s"] = best_of(repeat, lambda: load_file(st_path))
    except ImportError:
        pass
    results["memory"] = measure_memory(directory)
    return results


def table(r):
    sampled = r["baseline_sampled_values"]
    how = f"timed on {sampled / 1e6:g}M values, scaled" if sampled < r["params"] else "timed on all values"
    size = r["weights_bytes"]

    def speed(label, ours, base):
        return (label, f"{ours[0]:.2f} s ({ours[1]:.2f} s CPU)", f"{base[0]:.1f} s ({base[1]:.1f} s CPU; {how})",
                f"**{base[0] / ours[0]:.0f}x** faster ({base[1] / ours[1]:.0f}x in CPU time)", "≥ 20x")
    rows = [speed("`.wts` write", r["ours_write_s"], r["baseline_write_s"]),
            speed("`.wts` read", r["ours_read_s"], r["baseline_read_s"]),
            ("safetensors load + touch every page", f"{r['st_load_touch_s'][0]:.3f} s",
             f"{r['raw_read_s'][0]:.3f} s (`open().read()` of the file)",
             f"**{r['st_load_touch_s'][0] / r['raw_read_s'][0]:.2f}x** the read time", "≤ 1.2x"),
            ("safetensors load, lazy (header + views)", f"{r['st_load_lazy_s'][0] * 1e3:.2f} ms", "", "", "")]
    if "st_package_load_s" in r:
        rows.append(("`safetensors.numpy.load_file` (copies)", f"{r['st_package_load_s'][0]:.3f} s", "",
                     f"{r['st_package_load_s'][0] / r['raw_read_s'][0]:.2f}x the read time", ""))
    for label, key in (("peak memory, `.pt` → safetensors", "pt_to_safetensors"),
                       ("peak memory, `.pt` → `.wts`", "pt_to_wts"),
                       ("peak memory, `.wts` → safetensors", "wts_to_safetensors")):
        m = r["memory"][key]
        rows.append((label, f"{m['peak_bytes'] / 2**20:.0f} MiB (in {m['seconds']:.1f} s)",
                     f"{size / 2**20:.0f} MiB of weights", f"**{m['peak_bytes'] / size:.2f}x** the weights",
                     "≤ 2x"))
    lines = [f"{r['params'] / 1e6:g}M float32 parameters ({size / 2**20:.0f} MiB; `.wts` "
             f"{r['wts_bytes'] / 2**20:.0f} MiB), files in {os.path.dirname(r['directory'])}, {r['cpus']} CPUs, "
             f"load average {r['load_average']:.1f} at the start", "",
             "| measurement | ours | baseline | ratio | goal |", "|---|---|---|---|---|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--params", type=int, default=100_000_000, help="float32 parameters (default 100M)")
    p.add_argument("--baseline-sample", type=int, default=2_000_000,
                   help="values the per-value baselines are timed on, then scaled (default 2M)")
    p.add_argument("--repeat", type=int, default=3, help="runs of each measurement (the best is kept)")
    p.add_argument("--dir", default="/dev/shm" if os.path.isdir("/dev/shm") else None,
                   help="where the temporary files go (default: /dev/shm if there is one, else the system's "
                        "temporary directory)")
    p.add_argument("--json", help="also write the measurements to this file")
    p.add_argument("--memory-child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.memory_child:
        return memory_child(args.memory_child)
    directory = tempfile.mkdtemp(prefix="bench-weights-", dir=args.dir)
    try:
        results = run(args.params, args.baseline_sample, args.repeat, directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    print(table(results))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
