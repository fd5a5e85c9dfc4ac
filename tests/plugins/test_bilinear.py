"""plugins/bilinear.py (`trt_netdefs::bilinear_resize`) and netdefs.layers.ops.interpolate on reftrt.

- the torch reference (plugins.bilinear.reference: tables + gathers, not F.interpolate) equals F.interpolate within
  1e-5 on many seeded random sizes / scale factors, for (a) antialias=True and (b) scale_factor with a non-integer
  output size (and the plain cases around them);
- for each variant, TensorRT's native Resize (reftrt) differs from F.interpolate, the plugin inside a built network
  (build -> serialize -> deserialize -> run, through reftrt.plugin) does not;
- interpolate() emits the native Resize where it is exact (one Resize layer, no plugin) and the plugin otherwise,
  and its networks equal F.interpolate on random draws (nearest included: Gather where Resize is not exact);
- plugins/check_gpu.py skips cleanly without a CUDA GPU.
"""
import os
import random
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import reftrt as trt
import reftrt.plugin as trtp
from netdefs.layers.net import Net
from netdefs.layers.ops import interpolate
from plugins import bilinear

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IM, CT = trt.InterpolationMode, trt.ResizeCoordinateTransformation


def _pytorch_aa_bug(h, out_hw, antialias):
    """PyTorch 2.14's CPU antialias kernel with an output width of 1 and a resized height reads only the first input
    row (test_reference_output_width_one_is_the_transposed_result); those draws are left out of the comparisons."""
    return antialias and out_hw[1] == 1 and out_hw[0] != h


def _draw(rng, variant):
    """(h, w, kwargs) of one random F.interpolate call of `variant`: "antialias" (downscaling at least one axis) or
    "scale_factor" (align_corners=False, an output size that is not an integer multiple)."""
    while True:
        h, w = rng.randint(1, 48), rng.randint(1, 48)
        if variant == "antialias":
            ac = rng.random() < 0.25
            if rng.random() < 0.5:
                kw = dict(size=(rng.randint(1, max(1, h)), rng.randint(1, 60)), scale_factor=None)
            else:
                kw = dict(size=None, scale_factor=(rng.uniform(0.05, 1.0), rng.uniform(0.05, 2.5)))
            kw.update(align_corners=ac, antialias=True)
        else:
            kw = dict(size=None, scale_factor=(rng.uniform(0.2, 3.5), rng.uniform(0.2, 3.5)), align_corners=False,
                      antialias=rng.random() < 0.3)
        out_hw, _ = bilinear._resolve(h, w, kw["size"], kw["scale_factor"])
        if min(out_hw) < 1 or _pytorch_aa_bug(h, out_hw, kw["antialias"]):
            continue
        if variant == "antialias" and not (out_hw[0] < h or out_hw[1] < w):
            continue
        if variant == "scale_factor" and all(o == i * s for o, i, s in zip(out_hw, (h, w), kw["scale_factor"])):
            continue
        return h, w, kw


def _torch(x, kw):
    return F.interpolate(x, size=kw["size"], scale_factor=kw["scale_factor"], mode="bilinear",
                         align_corners=kw["align_corners"], antialias=kw["antialias"])


# ---- the reference ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("variant", ["antialias", "scale_factor"])
def test_reference_equals_interpolate(variant):
    rng = random.Random(10 if variant == "antialias" else 11)
    gen = torch.Generator().manual_seed(12)
    worst = 0.0
    for _ in range(150):
        h, w, kw = _draw(rng, variant)
        x = torch.randn((2, 3, h, w), generator=gen)
        ref = _torch(x, kw)
        got = bilinear.reference(x, **kw)
        assert got.shape == ref.shape and got.dtype == ref.dtype
        worst = max(worst, (got - ref).abs().max().item())
    assert worst <= 1e-5, worst


def test_reference_equals_interpolate_plain_cases():
    """Sizes given, align_corners both ways, antialias upscaling: the reference is PyTorch's bilinear throughout."""
    rng = random.Random(13)
    gen = torch.Generator().manual_seed(14)
    for _ in range(80):
        h, w = rng.randint(1, 40), rng.randint(1, 40)
        kw = dict(size=(rng.randint(1, 60), rng.randint(1, 60)), scale_factor=None,
                  align_corners=rng.random() < 0.5, antialias=rng.random() < 0.5)
        if _pytorch_aa_bug(h, kw["size"], kw["antialias"]):
            continue
        x = torch.randn((1, 2, h, w), generator=gen)
        torch.testing.assert_close(bilinear.reference(x, **kw), _torch(x, kw), rtol=0, atol=1e-5)


def test_reference_same_size_axis_is_copied():
    # PyTorch's CPU kernels copy an axis whose size does not change, whatever the scale factor (1.12 here).
    x = torch.randn(1, 2, 6, 6, generator=torch.Generator().manual_seed(15))
    kw = dict(size=None, scale_factor=(1.76, 1.12), align_corners=False)
    for aa in (False, True):
        ref = F.interpolate(x, mode="bilinear", antialias=aa, **kw)
        assert ref.shape[-1] == 6
        torch.testing.assert_close(bilinear.reference(x, antialias=aa, **kw), ref, rtol=0, atol=1e-5)


def test_reference_output_width_one_is_the_transposed_result():
    x = torch.randn(1, 2, 8, 5, generator=torch.Generator().manual_seed(16))
    got = bilinear.reference(x, size=(3, 1), antialias=True)
    transposed = F.interpolate(x.transpose(-1, -2), size=(1, 3), mode="bilinear", antialias=True).transpose(-1, -2)
    torch.testing.assert_close(got, transposed, rtol=0, atol=1e-5)
    # PyTorch 2.14 on the CPU: only the first input row contributes (a bug; if it is fixed, drop _pytorch_aa_bug).
    direct = F.interpolate(x, size=(3, 1), mode="bilinear", antialias=True)
    assert (direct - transposed).abs().max() > 0.05


def test_tables_pad_with_zero_weights_and_valid_indices():
    (iy, wy), (ix, wx) = bilinear.tables((20, 7), (3, 9), antialias=True)
    assert iy.dtype == np.int32 and wy.dtype == np.float32 and iy.shape == wy.shape and iy.shape[0] == 3
    assert iy.min() >= 0 and iy.max() <= 19 and ix.min() >= 0 and ix.max() <= 6
    np.testing.assert_allclose(wy.sum(1), 1, rtol=1e-6)
    np.testing.assert_allclose(wx.sum(1), 1, rtol=1e-6)
    assert wy.shape[1] == 15  # ceil(20 / 3) * 2 + 1 taps: every input row contributes
    (iy, wy), _ = bilinear.tables((5, 5), (5, 5), scales=(1.1, None))
    np.testing.assert_array_equal(iy[:, 0], np.arange(5))  # an unchanged axis is the identity


# ---- networks: native Resize vs the plugin (build -> serialize -> deserialize -> run) ---------------------------

def _run_network(define, feeds, profiles=None):
    """Build with `define(network) -> [outputs]`, serialize, deserialize and run on numpy inputs; {name: array}."""
    logger = trt.Logger(trt.Logger.ERROR)
    builder = trt.Builder(logger)
    network = builder.create_network()
    outputs = define(network)
    for t in outputs:
        network.mark_output(t)
    config = builder.create_builder_config()
    for shapes in profiles or []:
        profile = builder.create_optimization_profile()
        for name, (lo, opt, hi) in shapes.items():
            profile.set_shape(name, lo, opt, hi)
        config.add_optimization_profile(profile)
    plan = builder.build_serialized_network(network, config)
    assert plan is not None
    engine = trt.Runtime(logger).deserialize_cuda_engine(bytes(plan))
    context = engine.create_execution_context()
    feeds = {k: np.ascontiguousarray(v) for k, v in feeds.items()}
    for name, array in feeds.items():
        assert context.set_input_shape(name, array.shape)
        context.set_tensor_address(name, array.ctypes.data)
    result = {}
    for t in outputs:
        result[t.name] = np.zeros(tuple(context.get_tensor_shape(t.name)), trt.nptype(engine.get_tensor_dtype(t.name)))
        context.set_tensor_address(t.name, result[t.name].ctypes.data)
    assert context.execute_async_v3(0)
    return result, network


def _native(x, out_hw, align_corners=False):
    def define(network):
        t = network.add_input("x", trt.float32, x.shape)
        layer = network.add_resize(t)
        layer.resize_mode = IM.LINEAR
        layer.coordinate_transformation = CT.ALIGN_CORNERS if align_corners else CT.HALF_PIXEL
        layer.shape = tuple(x.shape[:2]) + tuple(out_hw)
        layer.get_output(0).name = "y"
        return [layer.get_output(0)]
    return _run_network(define, {"x": x})[0]["y"]


def _plugin(x, out_hw, scales=(None, None), align_corners=False, antialias=False, dtype=trt.float32):
    op = bilinear.register(trtp)

    def define(network):
        t = network.add_input("x", dtype, (-1,) + x.shape[1:])
        layer = network.add_plugin(op(t, out_h=out_hw[0], out_w=out_hw[1], scale_h=float(scales[0] or 0.0),
                                      scale_w=float(scales[1] or 0.0), align_corners=align_corners,
                                      antialias=antialias))
        assert layer.type == trt.LayerType.PLUGIN_V3
        y = layer.get_output(0)
        assert y.shape == (-1, x.shape[1]) + tuple(out_hw) and y.dtype == dtype
        y.name = "y"
        return [y]
    profile = {"x": ((1,) + x.shape[1:], x.shape, (4,) + x.shape[1:])}
    return _run_network(define, {"x": x}, [profile])[0]["y"]


def test_variant_a_antialias_native_differs_plugin_does_not():
    x = np.random.default_rng(20).standard_normal((2, 3, 37, 29)).astype(np.float32)
    out_hw = (9, 12)
    ref = F.interpolate(torch.from_numpy(x), size=out_hw, mode="bilinear", antialias=True).numpy()
    assert np.abs(_native(x, out_hw) - ref).max() > 0.1
    got = _plugin(x, out_hw, antialias=True)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-5)


def test_variant_b_scale_factor_native_differs_plugin_does_not():
    x = np.random.default_rng(21).standard_normal((2, 3, 13, 11)).astype(np.float32)
    scales = (1.7, 2.45)
    ref = F.interpolate(torch.from_numpy(x), scale_factor=scales, mode="bilinear").numpy()
    out_hw = ref.shape[-2:]
    assert out_hw == (22, 26)  # floor(13 * 1.7), floor(11 * 2.45): not the scale factors
    assert np.abs(_native(x, out_hw) - ref).max() > 0.05
    got = _plugin(x, out_hw, scales=scales)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-5)


@pytest.mark.parametrize("variant", ["antialias", "scale_factor"])
def test_plugin_network_equals_interpolate_on_random_draws(variant):
    rng = random.Random(22 if variant == "antialias" else 23)
    gen = torch.Generator().manual_seed(24)
    for _ in range(12):
        h, w, kw = _draw(rng, variant)
        x = torch.randn((rng.randint(1, 3), 2, h, w), generator=gen)
        ref = _torch(x, kw)
        out_hw, scales = bilinear._resolve(h, w, kw["size"], kw["scale_factor"])
        got = _plugin(x.numpy(), out_hw, scales, kw["align_corners"], kw["antialias"])
        np.testing.assert_allclose(got, ref.numpy(), rtol=0, atol=1e-5)


def test_plugin_fp16():
    x = np.random.default_rng(25).standard_normal((1, 4, 30, 22)).astype(np.float16)
    got = _plugin(x, (7, 9), antialias=True, dtype=trt.float16)
    assert got.dtype == np.float16
    ref = F.interpolate(torch.from_numpy(x.astype(np.float32)), size=(7, 9), mode="bilinear", antialias=True)
    # float16 input and output, float32 arithmetic: within the output's rounding (values |y| < 4: ulp/2 <= 2e-3)
    np.testing.assert_allclose(got.astype(np.float32), ref.numpy(), rtol=0, atol=2e-3)


# ---- netdefs.layers.ops.interpolate: native where exact, the plugin otherwise ----------------------------------------

def _interp_network(x, precision="fp32", dynamic_batch=False, dynamic_hw=False, **kw):
    """Run interpolate(net, x, "up", **kw) in a network; (output, layer types by name)."""
    types = {}

    def define(network):
        net = Net(trt, network, None, precision)
        shape = ((-1,) + x.shape[1:]) if dynamic_batch else x.shape
        if dynamic_hw:
            shape = tuple(shape[:2]) + (-1, -1)
        t = net.input("x", shape)
        y = interpolate(net, t, "up", **kw)
        out = net.output(y, "y")
        types.update({network.get_layer(i).name: network.get_layer(i).type for i in range(network.num_layers)})
        return [out]
    lo, hi = list(x.shape), list(x.shape)
    if dynamic_batch:
        lo[0], hi[0] = 1, 4
    if dynamic_hw:
        lo[2:], hi[2:] = [1, 1], [64, 64]
    profiles = [{"x": (tuple(lo), x.shape, tuple(hi))}] if dynamic_batch or dynamic_hw else None
    out, _ = _run_network(define, {"x": x}, profiles)
    return out["y"], types


def _kinds(types):
    kinds = set(types.values())
    return (trt.LayerType.RESIZE in kinds, trt.LayerType.PLUGIN_V3 in kinds, trt.LayerType.GATHER in kinds)


@pytest.mark.parametrize("kw, expected", [
    (dict(size=(17, 23), mode="bilinear"), "native"),
    (dict(size=(5, 3), mode="bilinear", align_corners=True), "native"),
    (dict(scale_factor=2, mode="bilinear"), "native"),
    (dict(scale_factor=2.5, mode="bilinear"), "native"),  # 10 * 2.5 = 25, 8 * 2.5 = 20: 1 / 2.5 is the size ratio
    (dict(scale_factor=1.7, mode="bilinear", align_corners=True), "native"),  # align_corners ignores the scale
    (dict(size=(20, 16), mode="bilinear", antialias=True), "native"),  # upscaling: antialias changes nothing
    (dict(scale_factor=(1.0, 1.3), mode="bilinear"), "plugin"),  # floor(8 * 1.3) = 10, 8 / 10 != 1 / 1.3
    (dict(scale_factor=1.7, mode="bilinear"), "plugin"),
    (dict(size=(4, 3), mode="bilinear", antialias=True), "plugin"),
    (dict(size=(20, 16), mode="bilinear", antialias=True, align_corners=True), "plugin"),
    (dict(scale_factor=2, mode="nearest"), "native"),
    (dict(size=(7, 13), mode="nearest"), "native"),
    (dict(scale_factor=1.7, mode="nearest"), "gather"),  # floor(o / 1.7) != floor(o * 10 / 17)
])
def test_interpolate_chooses_native_where_exact(kw, expected):
    x = np.random.default_rng(30).standard_normal((2, 3, 10, 8)).astype(np.float32)
    got, types = _interp_network(x, **kw)
    resize, plugin, gather = _kinds(types)
    assert (resize, plugin, gather) == {"native": (True, False, False), "plugin": (False, True, False),
                                        "gather": (False, False, True)}[expected], types
    assert types["up"] == {"native": trt.LayerType.RESIZE, "plugin": trt.LayerType.PLUGIN_V3,
                           "gather": trt.LayerType.GATHER}[expected]
    torch_kw = {k: v for k, v in kw.items() if k != "mode"}
    ref = F.interpolate(torch.from_numpy(x), mode=kw["mode"], **torch_kw).numpy()
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-5)


def test_interpolate_random_draws_equal_pytorch():
    rng = random.Random(31)
    gen = torch.Generator().manual_seed(32)
    seen = set()
    for k in range(40):
        h, w = rng.randint(1, 24), rng.randint(1, 24)
        mode = "nearest" if k % 4 == 3 else "bilinear"
        kw = dict(mode=mode)
        if rng.random() < 0.5:
            kw["size"] = (rng.randint(1, 30), rng.randint(1, 30))
        else:
            kw["scale_factor"] = (rng.choice([2, 3, rng.uniform(0.3, 3.0)]), rng.choice([2, rng.uniform(0.3, 3.0)]))
        if mode == "bilinear":
            kw["align_corners"] = rng.random() < 0.3
            kw["antialias"] = rng.random() < 0.4
        out_hw, _ = bilinear._resolve(h, w, kw.get("size"), kw.get("scale_factor"))
        if min(out_hw) < 1 or _pytorch_aa_bug(h, out_hw, kw.get("antialias", False)):
            continue
        x = torch.randn((2, 3, h, w), generator=gen)
        got, types = _interp_network(x.numpy(), dynamic_batch=k % 5 == 0, **kw)
        seen.add(_kinds(types))
        ref = F.interpolate(x, **kw).numpy()
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-5, err_msg=str((h, w, kw, types)))
    assert {(True, False, False), (False, True, False), (False, False, True)} <= seen


def test_interpolate_dynamic_batch_native_uses_a_shape_tensor():
    x = np.random.default_rng(33).standard_normal((3, 2, 6, 5)).astype(np.float32)
    got, types = _interp_network(x, dynamic_batch=True, size=(9, 7), mode="bilinear")
    assert types["up"] == trt.LayerType.RESIZE and "up.size" in types
    ref = F.interpolate(torch.from_numpy(x), size=(9, 7), mode="bilinear").numpy()
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-5)


@pytest.mark.parametrize("kw, kind", [
    (dict(size=(9, 7), mode="bilinear"), trt.LayerType.RESIZE),
    (dict(size=(9, 7), mode="nearest"), trt.LayerType.RESIZE),
    (dict(scale_factor=3, mode="bilinear"), trt.LayerType.RESIZE),
    (dict(scale_factor=(2, 3), mode="nearest"), trt.LayerType.RESIZE),
    (dict(size=(4, 3), mode="bilinear", antialias=True), trt.LayerType.PLUGIN_V3),  # tables made at run time
])
def test_interpolate_dynamic_hw(kw, kind):
    x = np.random.default_rng(35).standard_normal((2, 3, 11, 6)).astype(np.float32)
    got, types = _interp_network(x, dynamic_batch=True, dynamic_hw=True, **kw)
    assert types["up"] == kind
    torch_kw = {k: v for k, v in kw.items() if k != "mode"}
    ref = F.interpolate(torch.from_numpy(x), mode=kw["mode"], **torch_kw).numpy()
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-5)


def test_interpolate_dynamic_hw_fractional_scale_factor_is_refused():
    network = trt.Builder(trt.Logger(trt.Logger.ERROR)).create_network()
    net = Net(trt, network, None)
    x = net.input("x", (1, 3, -1, -1))
    with pytest.raises(NotImplementedError, match="integer scale factors"):
        interpolate(net, x, "up", scale_factor=1.5, mode="bilinear")


def test_interpolate_fp16_plugin():
    x = np.random.default_rng(34).standard_normal((1, 3, 24, 18)).astype(np.float32)
    got, types = _interp_network(x, precision="fp16", size=(5, 7), mode="bilinear", antialias=True)
    assert types["up"] == trt.LayerType.PLUGIN_V3
    ref = F.interpolate(torch.from_numpy(x), size=(5, 7), mode="bilinear", antialias=True).numpy()
    np.testing.assert_allclose(got, ref, rtol=0, atol=4e-3)  # float16 input rounding + output rounding


def test_interpolate_without_tensorrt_plugin_says_so():
    """TensorRT 10.3 (JetPack 6) has no tensorrt.plugin: exact cases still build, the others raise clearly."""
    code = (
        "import reftrt as trt, numpy as np\n"
        "from netdefs.layers.net import Net\n"
        "from netdefs.layers.ops import interpolate\n"
        "net = Net(trt, trt.Builder(trt.Logger(trt.Logger.ERROR)).create_network(), None)\n"
        "x = net.input('x', (1, 3, 10, 8))\n"
        "interpolate(net, x, 'a', size=(20, 16), mode='bilinear')\n"
        "try:\n"
        "    interpolate(net, x, 'b', size=(4, 3), mode='bilinear', antialias=True)\n"
        "except NotImplementedError as e:\n"
        "    print('RAISED', e)\n")
    env = dict(os.environ, REFTRT_TRT_VERSION="10.3", PYTHONPATH=ROOT)
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "RAISED b:" in done.stdout and "TensorRT >= 10.6" in done.stdout and "10.3" in done.stdout


def test_check_gpu_skip_reason_through_torch(monkeypatch):
    sys.path.insert(0, os.path.join(ROOT, "plugins"))
    try:
        import check_gpu
    finally:
        sys.path.pop(0)
    monkeypatch.setattr(check_gpu, "_DRIVER_NODES", ("/",))  # as if a driver were there: torch decides
    assert check_gpu._skip_reason() == ("no CUDA GPU" if not torch.cuda.is_available() else None)


def test_triton_kernel_in_the_interpreter():
    """The Triton kernel itself, on the CPU through Triton's interpreter (TRITON_INTERPRET=1), against the
    reference: float32 and float16, random sizes, scale factors, align_corners and antialias."""
    pytest.importorskip("triton")
    done = subprocess.run([sys.executable, os.path.join(ROOT, "plugins", "check_gpu.py"), "--interpret",
                           "--cases", "5", "--seed", "3"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "all 5 cases ok" in done.stdout and "float16" in done.stdout


def test_check_gpu_skips_without_cuda():
    done = subprocess.run([sys.executable, os.path.join(ROOT, "plugins", "check_gpu.py")], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "skipped: no CUDA GPU" in done.stdout
