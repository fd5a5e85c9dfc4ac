"""No import circles in the project's packages.

A circle works or breaks depending on which module happens to be imported first, and function-level imports only
hide it. (a) The static graph of intra-project imports, module-level and function-level alike, has no cycle.
(b) Every module imports in a fresh interpreter (one, which forgets the project's modules before each): each one
first (its parent packages as bare stubs unless it reads them, so that a package's __init__ cannot fix the order),
and all of them in dependency order.
"""
import ast
import functools
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ["reftrt", "weights", "plugins", "netdefs"]


def discover():
    """{module name: (path, is_package)} for every module of PACKAGES."""
    modules = {}
    for package in PACKAGES:
        for folder, dirs, files in os.walk(os.path.join(ROOT, package)):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__" and not d.startswith("."))
            if "__init__.py" not in files:
                dirs[:] = []
                continue
            prefix = os.path.relpath(folder, ROOT).replace(os.sep, ".")
            for name in sorted(files):
                if name.endswith(".py"):
                    is_package = name == "__init__.py"
                    modules[prefix if is_package else f"{prefix}.{name[:-3]}"] = (os.path.join(folder, name),
                                                                                  is_package)
    return modules


def imports(module, path, is_package, modules):
    """[(imported project module, line)] for every import statement in the module, at any depth."""
    package = module if is_package else module.rpartition(".")[0]
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module
            # `from package import name` imports the submodule when there is one, else reads the package.
            targets = [f"{source}.{a.name}" if f"{source}.{a.name}" in modules else source for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:  # `import a.b.c` of a project package imports a.b.c
                target = target.rpartition(".")[0]
            if target and target != module:
                found.append((target, node.lineno))
    return found


@functools.lru_cache(maxsize=None)
def graph():
    modules = discover()
    edges = {m: {} for m in modules}
    for module, (path, is_package) in modules.items():
        for target, line in imports(module, path, is_package, modules):
            edges[module].setdefault(target, f"{os.path.relpath(path, ROOT)}:{line}")
    return modules, edges


def find_cycle(edges, within=None):
    """The shortest cycle through a module of `within` (default: any module) as [m0, m1, ..., m0], or None."""
    for start in sorted(within if within is not None else edges):
        parent, todo = {}, [start]
        while todo:
            m = todo.pop(0)
            for n in sorted(edges[m]):
                if n == start:
                    path = [m]
                    while path[-1] != start:
                        path.append(parent[path[-1]])
                    return [start] + path[::-1][1:] + [start]
                if n not in parent:
                    parent[n] = m
                    todo.append(n)
    return None


def dependency_order(edges):
    """Modules with their imports before them (reverse topological order of the import graph)."""
    order, done = [], set()

    def visit(m):
        done.add(m)
        for n in sorted(edges[m]):
            if n not in done:
                visit(n)
        order.append(m)

    for m in sorted(edges):
        if m not in done:
            visit(m)
    return order


def test_graph_sees_function_level_and_relative_imports(tmp_path):
    # The checker itself: a cycle hidden in a function, through `from . import name` of a submodule.
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from . import b\n")
    (pkg / "b.py").write_text("def f():\n    from .a import x\n")
    modules = {"pkg": (str(pkg / "__init__.py"), True), "pkg.a": (str(pkg / "a.py"), False),
               "pkg.b": (str(pkg / "b.py"), False)}
    edges = {m: {t: line for t, line in imports(m, p, ip, modules)} for m, (p, ip) in modules.items()}
    assert edges == {"pkg": {}, "pkg.a": {"pkg.b": 1}, "pkg.b": {"pkg.a": 2}}
    assert find_cycle(edges) == ["pkg.a", "pkg.b", "pkg.a"]


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycles(package):
    modules, edges = graph()
    mine = [m for m in modules if m == package or m.startswith(package + ".")]
    assert mine
    cycle = find_cycle(edges, mine)
    if cycle:
        steps = "\n".join(f"  {a} -> {b}  ({edges[a][b]})" for a, b in zip(cycle, cycle[1:]))
        pytest.fail(f"import cycle:\n{steps}")


# Run in a fresh interpreter: for each module, forget the project's modules, stub the parent packages it does not
# read (a bare module with the package's __path__, so that submodules resolve but __init__ does not run), and
# import it; then import every module in dependency order. A ModuleNotFoundError for something outside the project
# (triton on a machine without it), or raised on purpose by the module or a parent (reftrt.plugin under the 10.3
# API), is a skip (and the modules of a package that refuses are not imported behind its back); anything else is a
# failure.
_CHILD = r"""
import importlib, importlib.machinery, json, sys, traceback, types
packages, packages_here, plan, order, project = json.loads(sys.argv[1])

def forget():
    for name in list(sys.modules):
        if name.split(".")[0] in packages:
            del sys.modules[name]

def attempt(module):  # None if it imports, "skip" if it may not here, else the traceback
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name not in project or module == e.name or module.startswith(e.name + "."):
            return "skip"
        return traceback.format_exc(limit=-3)
    except BaseException:
        return traceback.format_exc(limit=-3)
    return None

failures, refused = {}, set()
for package in packages_here:  # a package whose __init__ refuses this interpreter (a gate) refuses its modules
    forget()
    if attempt(package) == "skip":
        refused.add(package)
for module, stubs in plan:
    if any(module == p or module.startswith(p + ".") for p in refused):
        continue
    forget()
    for name, path in stubs:
        stub = types.ModuleType(name)
        stub.__path__ = [path]
        stub.__spec__ = importlib.machinery.ModuleSpec(name, None, is_package=True)
        stub.__spec__.submodule_search_locations = [path]
        sys.modules[name] = stub
    error = attempt(module)
    if error not in (None, "skip"):
        failures[f"{module} first"] = error
forget()
for module in order:
    error = attempt(module)
    if error not in (None, "skip"):
        failures[f"{module} in dependency order"] = error
print(json.dumps(failures))
"""


def reachable(edges, start):
    seen, todo = set(), [start]
    while todo:
        for n in edges[todo.pop()]:
            if n not in seen:
                seen.add(n)
                todo.append(n)
    return seen


def test_every_module_imports_alone_in_a_fresh_interpreter():
    modules, edges = graph()
    plan = []
    for module in sorted(modules):
        needed = reachable(edges, module)
        parts = module.split(".")
        parents = [".".join(parts[:i]) for i in range(1, len(parts))]
        stubs = [(p, os.path.dirname(modules[p][0])) for p in parents if p not in needed]
        plan.append((module, stubs))
    packages_here = sorted(m for m, (_, is_package) in modules.items() if is_package)
    argument = json.dumps([PACKAGES, packages_here, plan, dependency_order(edges), sorted(modules)])
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run([sys.executable, "-c", _CHILD, argument], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    failures = json.loads(done.stdout.strip().splitlines()[-1])
    assert not failures, "\n".join(f"{k}:\n{v}" for k, v in failures.items())
