#!/usr/bin/env python3
"""The real TensorRT Python API without a GPU: API manifests, and the bindings over stub libraries.

TensorRT's bindings wheel on PyPI (``tensorrt-cu12-bindings``, about 1 MB) holds only the pybind11
extension.  To load, it needs libnvinfer, libnvinfer_plugin and libnvonnxparser, yet it calls
into them only when a Builder, Runtime, Refitter, parser or plugin registry is created.  So we
give the loader stub libraries of those names that define the few factory symbols the extension
imports (each returns NULL).  The module then imports, and its classes, docstrings, enums and
pure value types (Dims, Weights, Permutation, Logger, DataType) are the real ones.  Anything that
reaches libnvinfer fails or crashes: this is for introspection and value-type checks only.

    python tools/trt_manifest.py manifest 11.4.0.106 -o tests/data/trt_api/trt-11.4.0.106.json
    python tools/trt_manifest.py stub 11.4.0.106    # prints DIR; PYTHONPATH=DIR python -c 'import tensorrt'

In Python, ``stubbed_tensorrt("11.4.0.106")`` returns the real module, imported under a private
name (never ``tensorrt``, so nothing is shadowed); several versions can live in one process.

The prepared bindings are cached in ``$TRT_NETDEFS_CACHE`` (default ``~/.cache/trt-netdefs``)
under ``bindings/<version>/<interpreter>-<machine>/`` (the extension is built per CPython
version).  Needs pip with access to PyPI (first use only), gcc, nm and objdump.
"""
import argparse
import ctypes
import importlib.util
import inspect
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "tensorrt"  # the prepared package's directory name: manifests name types tensorrt.tensorrt.X
STUB_LIBS = re.compile(r"nvinfer|nvonnxparser|nvparsers")
# Symbols we are willing to stub: TensorRT's C factory functions and nvinfer/parser C++ symbols.
# Anything else left undefined must come from a real system library.
STUB_SYMBOLS = re.compile(r"^(create|get|init)\w*$|^_ZN\d+nv(infer|onnxparser|caffeparser|uffparser)\w*$")


class ManifestError(Exception):
    """A user-facing failure; the message is one line."""


class DownloadError(ManifestError):
    """pip could not fetch the bindings wheel (offline, no such version, no wheel for this Python)."""


def wheel_project(version):
    # TensorRT 8 published "tensorrt-bindings"; 9 and later one wheel per CUDA major.
    return "tensorrt-bindings" if int(version.split(".")[0]) <= 8 else "tensorrt-cu12-bindings"


def cache_dir(version):
    if not re.fullmatch(r"\d+(\.\d+)+", version):
        raise ManifestError(f"{version!r} is no TensorRT version (expected e.g. 11.4.0.106)")
    root = Path(os.environ.get("TRT_NETDEFS_CACHE") or Path.home() / ".cache" / "trt-netdefs")
    return root / "bindings" / version / f"{sys.implementation.cache_tag}-{platform.machine()}"


def _run(cmd, what, error=ManifestError, **kw):
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, **kw)
    except FileNotFoundError:
        raise error(f"{what}: {cmd[0]} not found on PATH") from None
    if res.returncode:
        lines = [l for l in res.stderr.splitlines() if l.strip()]
        errors = [l for l in lines if l.startswith("ERROR")] or lines or [f"exit status {res.returncode}"]
        raise error(f"{what}: {errors[-1].removeprefix('ERROR:').strip()}")
    return res.stdout


def _stub_symbols(extension):
    """The undefined symbols of `extension` that the stub libraries must define."""
    syms = set()
    for line in _run(["nm", "-D", "--undefined-only", str(extension)], f"nm {extension.name}").splitlines():
        kind, sym = (line.split() + ["", ""])[:2]
        # Weak ("w") ones may stay unresolved; versioned ones (gettext@GLIBC_2.2.5) are the system's.
        if kind == "U" and "@" not in sym and STUB_SYMBOLS.match(sym):
            syms.add(sym)
    return sorted(syms)


def _build_stubs(pkg, extension):
    needed = re.findall(r"NEEDED\s+(\S+)", _run(["objdump", "-p", str(extension)], f"objdump {extension.name}"))
    libs = [lib for lib in needed if STUB_LIBS.search(lib)]
    src = pkg / "_stubs.c"
    src.write_text("".join(f"void *{s}(void) {{ return 0; }}\n" for s in _stub_symbols(extension)))
    for lib in libs:
        # Placed beside the extension, whose RPATH has $ORIGIN, so a plain `import tensorrt` finds
        # them too; the soname lets an earlier ctypes preload satisfy the extension's NEEDED entry.
        _run(["gcc", "-shared", "-fPIC", f"-Wl,-soname,{lib}", "-o", str(pkg / lib), str(src)], f"gcc {lib}")
    src.unlink()
    (pkg / "_stub_libs.txt").write_text("".join(lib + "\n" for lib in libs))


def prepare(version):
    """Download and prepare the bindings of `version` once; return the directory holding `tensorrt/`."""
    final = cache_dir(version)
    if (final / PACKAGE / "_stub_libs.txt").is_file():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
    try:
        _run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
              "--dest", str(work / "wheel"), f"{wheel_project(version)}=={version}"],
             f"cannot download {wheel_project(version)}=={version}", DownloadError)
        wheels = list((work / "wheel").glob("*.whl"))
        if len(wheels) != 1:
            raise ManifestError(f"expected one wheel for TensorRT {version}, pip gave {len(wheels)}")
        site = work / "site"
        with zipfile.ZipFile(wheels[0]) as whl:
            whl.extractall(site)
        packages = [d for d in site.iterdir() if d.is_dir() and d.name.startswith("tensorrt")
                    and not d.name.endswith(".dist-info")]
        if len(packages) != 1:
            raise ManifestError(f"{wheels[0].name}: expected one tensorrt* package, found {len(packages)}")
        pkg = packages[0].rename(site / PACKAGE)
        extensions = list(pkg.glob("tensorrt*.so"))
        if len(extensions) != 1:
            raise ManifestError(f"{wheels[0].name}: expected one tensorrt*.so, found {len(extensions)}")
        _build_stubs(pkg, extensions[0])
        shutil.rmtree(work / "wheel")
        try:
            site.rename(final)
        except OSError:
            if not (final / PACKAGE / "_stub_libs.txt").is_file():  # not a concurrent preparer
                raise
        return final
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if not final.exists():
            try:
                final.parent.rmdir()  # leave no empty bindings/<version>/ behind a failed download
            except OSError:
                pass


def load(site, module_name):
    """Import the prepared package in `site` as `module_name` (no sys.path change)."""
    pkg = Path(site) / PACKAGE
    # Preloading with RTLD_GLOBAL makes the loader reuse these (by soname) for the extension's
    # NEEDED entries, whatever its RPATH and LD_LIBRARY_PATH say.
    for lib in (pkg / "_stub_libs.txt").read_text().split():
        ctypes.CDLL(str(pkg / lib), mode=ctypes.RTLD_GLOBAL)
    spec = importlib.util.spec_from_file_location(module_name, pkg / "__init__.py",
                                                  submodule_search_locations=[str(pkg)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        for name in [n for n in sys.modules if n == module_name or n.startswith(module_name + ".")]:
            del sys.modules[name]
        raise
    return module


def stubbed_tensorrt(version):
    """The real `tensorrt` module of `version` over stub libraries, under a private module name."""
    name = "_trt_netdefs_real_tensorrt_" + re.sub(r"\W", "_", version)
    if name in sys.modules:
        return sys.modules[name]
    return load(prepare(version), name)


def _signature_lines(name, doc):
    # pybind11 writes "name(args) -> ret" first, and "N. name(args) -> ret" per overload.
    overload = re.compile(r"^\d+\. " + re.escape(name) + r"\(")
    return [l.strip() for l in doc.splitlines() if l.strip().startswith(name + "(") or overload.match(l.strip())]


def _describe_class(cls):
    methods, props = {}, {}
    for name, value in sorted(vars(cls).items()):
        if name.startswith("__") and name not in ("__init__", "__getitem__", "__len__"):
            continue
        if isinstance(value, property):
            props[name] = {"doc": (value.__doc__ or "").strip(), "settable": value.fset is not None}
        elif callable(value) or isinstance(value, (staticmethod, classmethod)):
            doc = getattr(value, "__doc__", "") or ""
            methods[name] = {"signatures": _signature_lines(name, doc), "doc": doc.strip()}
    return {"bases": [b.__name__ for b in cls.__mro__[1:] if b is not object],
            "members": sorted(k for k in dir(cls) if not k.startswith("_")),
            "doc": (cls.__doc__ or "").strip(), "methods": methods, "properties": props}


def describe(trt):
    """The manifest of a loaded tensorrt module (the schema of tests/data/trt_api/*.json)."""
    out = {"version": trt.__version__, "classes": {}, "enums": {}, "functions": {}}
    for name, obj in sorted(vars(trt).items()):
        if name.startswith("_") or inspect.ismodule(obj):
            continue
        if isinstance(obj, type) and hasattr(obj, "__members__"):
            out["enums"][name] = {k: int(v) for k, v in obj.__members__.items()}
        elif isinstance(obj, type):
            out["classes"][name] = _describe_class(obj)
        elif callable(obj):
            out["functions"][name] = (getattr(obj, "__doc__", "") or "").strip()
    return out


def manifest_text(version):
    site = prepare(version)
    # A fresh interpreter, so the module can be named `tensorrt` as the manifests spell it.
    text = _run([sys.executable, os.path.abspath(__file__), "_describe", str(site)],
                f"describing TensorRT {version}")
    found = json.loads(text)["version"]
    if found != version:
        raise ManifestError(f"asked for TensorRT {version}, the wheel says {found}")
    return text


def write_atomic(path, text):
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or ".")
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp's 0600 would stick to the checked-in manifests
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def main(argv=None):
    parser = argparse.ArgumentParser(prog="trt_manifest.py", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="{manifest,stub}")
    p = sub.add_parser("manifest", help="write the API manifest of a TensorRT version as JSON")
    p.add_argument("version", help="exact bindings version, e.g. 11.4.0.106 or 10.3.0")
    p.add_argument("-o", "--output", required=True, help="output .json")
    p = sub.add_parser("stub", help="prepare the stubbed bindings and print the directory to put on PYTHONPATH")
    p.add_argument("version")
    p = sub.add_parser("_describe")  # internal: runs in the child interpreter of `manifest`
    p.add_argument("site")
    args = parser.parse_args(argv)
    try:
        if args.command == "_describe":
            print(json.dumps(describe(load(args.site, PACKAGE)), indent=1, sort_keys=True))
        elif args.command == "stub":
            print(prepare(args.version))
        else:
            if not Path(args.output).resolve().parent.is_dir():
                raise ManifestError(f"{args.output}: directory does not exist")
            text = manifest_text(args.version)
            write_atomic(args.output, text)
            m = json.loads(text)
            print(f"TensorRT {m['version']}: {len(m['classes'])} classes, {len(m['enums'])} enums, "
                  f"{len(m['functions'])} functions -> {args.output}", file=sys.stderr)
    except ManifestError as e:
        print(f"trt_manifest.py: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
