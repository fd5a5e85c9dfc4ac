"""The first hour of a new user (issue 12): the quick start's image path, class names that travel with the engine,
output a person can read, the README's Python example, and a build path that needs no torch (the Jetson)."""
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(tool, *args, cwd=None, env=None):
    return subprocess.run([sys.executable, str(ROOT / "tools" / tool), *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=600, env=env)


def bus_jpg():
    import importlib.util
    spec = importlib.util.find_spec("yolov5")
    if spec is None:
        pytest.skip("yolov5 is not installed (it ships bus.jpg)")
    return Path(spec.origin).parent / "data" / "images" / "bus.jpg"


def sidecar(engine):
    return json.loads(Path(f"{engine}.json").read_text())


# ---------------------------------------------------------------- quickstart.sh
def test_quickstart_finds_bus_jpg_whatever_the_package_prints(tmp_path):
    """The demo's image path comes from the package's location, without importing it: a package that prints a
    banner (and a warning) when imported does not end up in the path."""
    pkg = tmp_path / "site" / "yolov5"
    (pkg / "data" / "images").mkdir(parents=True)
    (pkg / "__init__.py").write_text("import sys, warnings\nprint('BANNER: welcome!')\n"
                                     "warnings.warn('pkg_resources is deprecated')\nprint('x', file=sys.stderr)\n")
    script = (ROOT / "quickstart.sh").read_text()
    function = re.search(r"^bus_jpg\(\) \{\n.*?^\}\n", script, re.S | re.M).group(0)
    env = dict(os.environ, PY=sys.executable, PYTHONPATH=str(tmp_path / "site"))
    r = subprocess.run(["bash", "-c", f'PY="$PY"\n{function}\nbus_jpg'], capture_output=True, text=True, env=env,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"{pkg / 'data' / 'images' / 'bus.jpg'}\n" and r.stderr == ""


def test_ci_runs_the_demo_then_the_tests_from_a_fresh_venv():
    lines = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line and not line.startswith("#")]
    assert lines.index('rm -rf "$VENV"') < lines.index("./quickstart.sh demo") < \
        lines.index("exec ./quickstart.sh test")


# ---------------------------------------------------------------- class names travel with the engine
@pytest.mark.parametrize("model, count, first", [("yolov5n", 80, "person"), ("resnet18", 1000, "tench")])
def test_standard_names_go_into_the_sidecar(tmp_path, model, count, first):
    engine = tmp_path / f"{model}.engine"
    r = run("build.py", model, "--imgsz", 64, "--backend", "reference", "-o", engine, "--quiet")
    assert r.returncode == 0, r.stderr
    meta = sidecar(engine)
    assert len(meta["names"]) == count == meta["num_classes"] and meta["names"][0] == first


def test_names_from_the_weights_metadata(tmp_path):
    """Weights converted from a YOLO checkpoint carry its names (safetensors metadata "names", a JSON string of
    {index: name}); the engine's sidecar keeps them and infer prints them."""
    from tests.helpers.refmodels import state_dict_arrays, yolov5_model
    from weights import save_safetensors
    names = {str(i): f"thing{i}" for i in range(80)}
    path = tmp_path / "w.safetensors"
    save_safetensors(state_dict_arrays(yolov5_model("yolov5n", seed=2)), path, metadata={"names": json.dumps(names)})
    engine = tmp_path / "y.engine"
    r = run("build.py", "yolov5n", "--weights", path, "--imgsz", 64, "--backend", "reference", "-o", engine,
            "--score-threshold", 0.01, "--quiet")
    assert r.returncode == 0, r.stderr
    assert sidecar(engine)["names"] == [f"thing{i}" for i in range(80)]
    r = run("infer.py", engine, bus_jpg(), "--show", 3)
    assert r.returncode == 0, r.stderr
    rows = [line.split() for line in r.stdout.splitlines() if line.startswith("  ") and "[" in line]
    assert rows and all(row[0].startswith("thing") for row in rows)


def test_build_names_file_overrides_and_is_checked(tmp_path):
    names = tmp_path / "names.txt"
    names.write_text("".join(f"label{i}\n" for i in range(80)))
    engine = tmp_path / "y.engine"
    r = run("build.py", "yolov5n", "--imgsz", 64, "--backend", "reference", "-o", engine, "--names", names,
            "--quiet")
    assert r.returncode == 0, r.stderr
    assert sidecar(engine)["names"][79] == "label79"
    names.write_text("a\nb\n")
    r = run("build.py", "yolov5n", "--imgsz", 64, "--backend", "reference", "-o", tmp_path / "z.engine",
            "--names", names)
    assert r.returncode == 2 and f"{names}: 2 class names, but the model has 80 classes" in r.stderr
    assert not (tmp_path / "z.engine").exists()


# ---------------------------------------------------------------- output a person can read
def test_infer_prints_a_bounded_summary_and_says_where_it_drew(tmp_path):
    engine = tmp_path / "y.engine"
    r = run("build.py", "yolov5n", "--imgsz", 64, "--backend", "reference", "-o", engine, "--score-threshold", 0,
            "--max-det", 50)
    assert r.returncode == 0, r.stderr
    assert "its detections are meaningless" in r.stderr
    out = tmp_path / "out"
    r = run("infer.py", engine, bus_jpg(), "--out", out, "--show", 4)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    count = int(re.match(r".*bus\.jpg: (\d+) detections$", lines[0]).group(1))
    assert count > 4 and lines[5] == f"  ... and {count - 4} more"  # 4 rows shown, the rest counted
    assert f"drew 1 images into {out}/" in r.stderr and (out / "bus.jpg").is_file()
    assert "its detections are meaningless" in r.stderr


def test_a_classifier_draws_nothing_and_makes_no_folder(tmp_path):
    engine = tmp_path / "r.engine"
    r = run("build.py", "resnet18", "--imgsz", 64, "--backend", "reference", "-o", engine, "--quiet")
    assert r.returncode == 0, r.stderr
    assert "its top-5 classes are meaningless" in r.stderr
    r = run("infer.py", engine, bus_jpg(), "--out", tmp_path / "out")
    assert r.returncode == 0, r.stderr
    assert "classify engines draw nothing" in r.stderr and not (tmp_path / "out").exists()
    assert len([line for line in r.stdout.splitlines() if line.startswith("  ")]) == 5


# ---------------------------------------------------------------- the README's Python example
def test_the_readme_python_example_runs(tmp_path):
    """The README's "From Python" block, run as written, but at imgsz 64 (640 takes minutes on reftrt) with
    seeded random yolov5s weights in yolov5s.wts and bus.jpg in the working directory."""
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"From Python:\n\n```python\n(.*?)```", readme, re.S).group(1)
    assert "imgsz=640" in block
    from tests.helpers.refmodels import state_dict_arrays, yolov5_model
    from weights import save_wts
    save_wts(state_dict_arrays(yolov5_model("yolov5s", seed=0)), tmp_path / "yolov5s.wts")
    shutil.copy(bus_jpg(), tmp_path / "bus.jpg")
    code = block.replace("imgsz=640", "imgsz=64").replace('backend="auto"', 'backend="reference"')
    r = subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(ROOT)!r})\n{code}\n"
                        "print('loaded', engine.meta['model'], engine.meta['imgsz'])"],
                       capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "bus.jpg:" in r.stdout and "loaded yolov5s [64, 64]" in r.stdout
    assert (tmp_path / "yolov5s.engine").is_file() and (tmp_path / "yolov5s.engine.json").is_file()


# ---------------------------------------------------------------- the Jetson's build path needs no torch
BLOCK_TORCH = textwrap.dedent("""
    import importlib.abc, sys
    class NoTorch(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("torch", "torchvision"):
                raise ImportError(f"{name} is blocked: the build path must not need torch")
    sys.meta_path.insert(0, NoTorch())
    sys.path.insert(0, ROOT)
""")


def test_the_build_path_imports_without_torch(tmp_path):
    """What a Jetson without torch imports to build an engine: netdefs, its families, layers, tasks and runtime,
    and weights, which loads .wts and safetensors files. With `import torch` made to fail, all of it imports and
    the weights load. (reftrt, the CPU stand-in for TensorRT, runs on torch: it is not imported here.)"""
    import numpy as np
    from weights import save_safetensors, save_wts
    arrays = {"a.weight": np.arange(6, dtype=np.float32).reshape(2, 3), "a.bias": np.ones(2, np.float32)}
    save_wts(arrays, tmp_path / "w.wts")
    save_safetensors(arrays, tmp_path / "w.safetensors")
    code = BLOCK_TORCH.replace("ROOT", repr(str(ROOT))) + textwrap.dedent(f"""
        import pkgutil
        import netdefs, netdefs.families, netdefs.layers, netdefs.runtime.build, netdefs.runtime.engine
        import netdefs.runtime.calibrate, netdefs.runtime.demo, netdefs.tasks, weights
        for package in (netdefs.families, netdefs.layers, netdefs.tasks):
            for info in pkgutil.iter_modules(package.__path__):
                __import__(f"{{package.__name__}}.{{info.name}}")
        for f in ("w.wts", "w.safetensors"):
            w = weights.load({str(tmp_path)!r} + "/" + f)
            assert w["a.weight"].reshape(2, 3)[1, 2] == 5, f
        try:
            import torch
        except ImportError:
            print("torch blocked; imported", len([m for m in sys.modules if m.startswith("netdefs.")]), "modules")
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "torch blocked; imported" in r.stdout


CALLER_BLOCK = textwrap.dedent("""
    import builtins, importlib, sys
    sys.path.insert(0, ROOT)
    PROJECT = ("netdefs", "weights", "plugins")
    def _from_project(globals_):
        return (globals_ or {}).get("__name__", "").split(".")[0] in PROJECT
    _import = builtins.__import__
    def guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
        if level == 0 and name.split(".")[0] in ("torch", "torchvision") and _from_project(globals):
            raise ImportError(f"{globals['__name__']} imports {name}: the build path must not need torch")
        return _import(name, globals, locals, fromlist, level)
    builtins.__import__ = guarded_import
    _import_module = importlib.import_module
    def guarded_import_module(name, package=None):
        if name.split(".")[0] in ("torch", "torchvision") and _from_project(sys._getframe(1).f_globals):
            raise ImportError(f"{name} imported by the project: the build path must not need torch")
        return _import_module(name, package)
    importlib.import_module = guarded_import_module
""")


@pytest.mark.parametrize("model, options", [("yolov5n", {"head": "nms"}), ("resnet18", {}),
                                            ("unet-resnet18", {})])
def test_define_and_build_call_no_torch_from_the_project(model, options):
    """`define` and `build` of real networks from demo weights, with every `import torch` made by netdefs, weights
    or plugins code failing. The network API is reftrt's (TensorRT cannot be installed here), and reftrt itself
    runs on torch, so torch is loaded: what this proves is that no project code asks for it on the way, i.e. that
    with TensorRT in reftrt's place the build needs no torch."""
    code = CALLER_BLOCK.replace("ROOT", repr(str(ROOT))) + textwrap.dedent(f"""
        import netdefs
        from netdefs.runtime.demo import DemoWeights
        engine = netdefs.build({model!r}, DemoWeights(), backend="reference", imgsz=64, quiet=True, **{options!r})
        print("built", engine.meta["model"], engine.outputs)
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert f"built {model}" in r.stdout


def test_the_torch_guard_can_fail():
    """The guard of the test above does catch a project module that imports torch."""
    code = CALLER_BLOCK.replace("ROOT", repr(str(ROOT))) + textwrap.dedent("""
        import types
        module = types.ModuleType("netdefs.fake")
        exec("import torch", module.__dict__)
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "netdefs.fake imports torch" in r.stderr
