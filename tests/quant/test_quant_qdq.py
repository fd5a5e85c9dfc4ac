"""Explicit INT8 quantization: Q/DQ exactness against a numpy fake-quant reference, Q/DQ placement (which layers get
quantizers, sensitive heads excluded, fallback patterns), the calibration methods on hand-computed distributions,
the calibration cache, the 10.3 API, and the metrics of the accuracy report."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import reftrt as trt
from netdefs.runtime.calibrate import TensorStats, amax_entropy, amax_mse, amax_percentile, calibrate, compute_amax
from netdefs.layers.net import Net
from netdefs.layers.ops import conv2d
from netdefs import Engine, UserError, build, define
from netdefs.analysis.metrics import average_precision, map50, segmentation_agreement, top1_agreement
from netdefs.layers.quant import Quantization, QuantError, fake_quant, parse_fallback, qdq, read_cache
from weights import WeightStore

ROOT = Path(__file__).resolve().parents[2]


def _engine(define_fn, weights, precision, quant):
    builder = trt.Builder(trt.Logger(trt.Logger.ERROR))
    network = builder.create_network(0)
    net = Net(trt, network, WeightStore(weights), precision, quant)
    define_fn(net)
    plan = builder.build_serialized_network(network, builder.create_builder_config())
    assert plan is not None
    return Engine(plan, {}, "reference", trt=trt), net


# ---------------------------------------------------------------- exactness
def test_qdq_rounds_half_to_even_and_saturates():
    x = np.array([0.5, 1.5, 2.5, -0.5, -2.5, 3.49, 126.5, 127.5, 200.0, -127.5, -128.5, -300.0], np.float32)

    def define_fn(net):
        inp = net.input("x", x.shape)
        net.output(qdq(net, inp, "q", 127.0), "y")  # scale 1: the quantized value itself

    engine, _ = _engine(define_fn, {}, "int8", Quantization({}, remainder="fp32"))
    y = engine(x)["y"]
    np.testing.assert_array_equal(y, [0, 2, 2, -0, -2, 3, 126, 127, 127, -128, -128, -128])
    np.testing.assert_array_equal(y, fake_quant(x, 127.0))


@pytest.mark.parametrize("remainder,tol", [("fp32", 1e-5), ("fp16", 2e-3)])
def test_conv_with_qdq_equals_numpy_fake_quant(remainder, tol):
    """conv(fq(x, amax), fq(w, per-channel amax along axis 0)) + b, computed in float64 from numpy's fake
    quantization, equals the reftrt Q/DQ network (float32 remainder: to float32 rounding)."""
    rng = np.random.default_rng(17)
    x = rng.standard_normal((2, 5, 9, 9)).astype(np.float32) * 1.5
    w = (rng.standard_normal((6, 5, 3, 3)) * rng.uniform(0.1, 2, (6, 1, 1, 1))).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)
    amax = 2.0  # clips part of x: saturation is exercised
    quant = Quantization({"c.input_quantizer": amax}, remainder=remainder)

    def define_fn(net):
        net.output(conv2d(net, net.input("x", x.shape), "c", 6, 3, 1, 1), "y")

    engine, net = _engine(define_fn, {"c.weight": w, "c.bias": b}, "int8", quant)
    assert net.quantizers == {"c.input_quantizer": "x.half" if remainder == "fp16" else "x"}
    xq = fake_quant(x, amax)
    if remainder == "fp16":  # the Q input is the float16 cast of x
        xq = fake_quant(x.astype(np.float16).astype(np.float32), amax)
    w_amax = np.abs(w).reshape(6, -1).max(1)
    wq = fake_quant(w, w_amax, axis=0)
    ref = torch.nn.functional.conv2d(torch.from_numpy(xq).double(), torch.from_numpy(wq).double(),
                                     torch.from_numpy(b).double(), padding=1).numpy()
    y = engine(x)["y"]
    assert np.abs(y - ref).max() <= tol * np.abs(ref).max()
    # and it is not the unquantized convolution
    plain = torch.nn.functional.conv2d(torch.from_numpy(x).double(), torch.from_numpy(w).double(),
                                       torch.from_numpy(b).double(), padding=1).numpy()
    assert np.abs(y - plain).max() > 10 * tol * np.abs(ref).max()


# ---------------------------------------------------------------- placement
def _collect(model, weights, fallback=(), **options):
    d = define(model, weights, backend=trt, quiet=True, quant=Quantization(fallback=fallback, collect=True),
               **options)
    return d.net.quantizers


def _int8(model, weights, fallback=(), remainder="fp16", **options):
    names = _collect(model, weights, fallback, **options)
    quant = Quantization({q: 1.0 + i % 3 for i, q in enumerate(names)}, fallback, remainder)
    return define(model, weights, backend=trt, precision="int8", quiet=True, quant=quant, **options)


def _layers(d):
    return {d.network.get_layer(i).name: d.network.get_layer(i) for i in range(d.network.num_layers)}


@pytest.fixture(scope="module")
def resnet18_weights():
    from tests.helpers.ref_resnet import state_dict_arrays, torchvision_classifier
    return state_dict_arrays(torchvision_classifier("resnet18", seed=2, num_classes=5))


@pytest.fixture(scope="module")
def yolov5n_weights():
    from tests.helpers.refmodels import state_dict_arrays, yolov5_model
    return state_dict_arrays(yolov5_model("yolov5n", seed=4))


def test_resnet_placement(resnet18_weights):
    """Every conv and the fc get input + weight quantizers, residual adds a residual quantizer; nothing else."""
    d = _int8("resnet18", resnet18_weights, imgsz=32)
    quantizers = d.net.quantizers
    convs = [k[:-len(".weight")] for k in resnet18_weights if k.endswith(".weight") and resnet18_weights[k].ndim == 4]
    assert len(convs) == 20
    expected = {f"{c}.input_quantizer" for c in convs + ["fc"]}
    expected |= {f"layer{i}.{j}.residual_quantizer" for i in range(1, 5) for j in range(2)}
    assert set(quantizers) == expected
    assert quantizers["layer1.0.conv1.input_quantizer"] == "maxpool"
    assert quantizers["layer2.0.residual_quantizer"] == "layer2.0.downsample.1"
    layers = _layers(d)
    Q, DQ = trt.LayerType.QUANTIZE, trt.LayerType.DEQUANTIZE
    for c in convs + ["fc"]:
        assert layers[f"{c}.input_quantizer.quantize"].type == Q
        assert layers[f"{c}.weight_quantizer.dequantize"].type == DQ
        assert layers[f"{c}.weight_quantizer.quantize"].axis == (0 if c != "fc" else 0)
        # the dequantized activation is float16 (the remainder), the quantized one INT8
        assert layers[f"{c}.input_quantizer.quantize"].get_output(0).dtype == trt.DataType.INT8
        assert layers[f"{c}.input_quantizer.dequantize"].get_output(0).dtype == trt.DataType.HALF
    conv = layers["layer3.1.conv2"]
    assert conv.get_input(1).name == "layer3.1.conv2.weight_quantizer.dequantize"
    assert conv.get_input(0).name == "layer3.1.conv2.input_quantizer.dequantize"
    assert conv.kernel.size == 0  # the kernel comes from input 1
    n_qdq = sum(1 for layer in layers.values() if layer.type in (Q, DQ))
    assert n_qdq == 2 * (2 * len(convs + ["fc"]) + 8)


def test_yolov5_detect_head_stays_out_of_int8_and_fallbacks_are_honoured(yolov5n_weights):
    q = _collect("yolov5n", yolov5n_weights, imgsz=64)
    assert q and not any(k.startswith("model.24.") for k in q)
    assert "model.23.cv3.conv.input_quantizer" in q and "model.0.conv.input_quantizer" in q
    # user patterns: a block to fp16 (kept out), the head back to int8 (the last match wins)
    q2 = _collect("yolov5n", yolov5n_weights, parse_fallback(["model.2.*=fp16", "model.24.m.0=int8"]), imgsz=64)
    assert not any(k.startswith("model.2.") for k in q2)
    assert "model.24.m.0.input_quantizer" in q2 and "model.24.m.1.input_quantizer" not in q2
    # an fp32 fallback inside the fp16 remainder: float32 between two casts
    d = _int8("yolov5n", yolov5n_weights, parse_fallback(["model.0.conv=fp32"]), imgsz=64, head="raw")
    layers = _layers(d)
    assert "model.0.conv.input_quantizer" not in d.net.quantizers
    assert layers["model.0.conv"].get_input(0).dtype == trt.DataType.FLOAT
    assert layers["model.0.conv.half"].get_output(0).dtype == trt.DataType.HALF
    assert layers["model.1.conv"].get_input(0).dtype == trt.DataType.HALF


def test_fallback_pattern_errors():
    assert parse_fallback(["model.24.*=fp16", "*.fc=fp32"]) == [("model.24.*", "fp16"), ("*.fc", "fp32")]
    for bad in ["model.24.*", "model.24.*=int4", "=fp16"]:
        with pytest.raises(QuantError, match="PATTERN=fp16"):
            parse_fallback([bad])


def test_int8_without_ranges_is_a_user_error(resnet18_weights):
    with pytest.raises(UserError, match="int8 needs a calibration"):
        define("resnet18", resnet18_weights, backend=trt, precision="int8", quiet=True, imgsz=32)
    with pytest.raises(QuantError, match="has no range for conv1.input_quantizer"):
        define("resnet18", resnet18_weights, backend=trt, precision="int8", quiet=True, imgsz=32,
               quant=Quantization({}))


# ---------------------------------------------------------------- calibration methods
def _stats(values, chunks=1):
    s = TensorStats()
    for part in np.array_split(np.asarray(values, np.float32), chunks):
        s.add(part)
    return s


def test_max_is_the_absolute_max_over_batches():
    rng = np.random.default_rng(0)
    a = rng.standard_normal(1000)
    a[37] = -9.25
    s = _stats(a, chunks=4)
    assert compute_amax(s, "max") == pytest.approx(9.25)
    assert s.hist.sum() == 1000  # every value is in the (grown) histogram


def test_percentile_on_a_known_histogram():
    edges = np.linspace(0, 10, 11)  # bins of width 1
    hist = np.array([50, 30, 10, 5, 3, 1, 1, 0, 0, 0])  # 100 values
    assert amax_percentile(hist, edges, 90) == 3.0  # cdf reaches 0.90 in bin 2 -> its upper edge
    assert amax_percentile(hist, edges, 95) == 4.0
    assert amax_percentile(hist, edges, 99.5) == 7.0


def test_histogram_grows_with_the_same_bin_width():
    s = TensorStats(bins=4)
    s.add([0.0, 1.0, 2.0, 4.0])  # width 1
    s.add([7.5])
    assert list(s.edges) == [0, 1, 2, 3, 4, 5, 6, 7, 8]
    assert list(s.hist) == [1, 1, 1, 1, 0, 0, 0, 1]


def test_entropy_and_mse_clip_heavy_tails_and_keep_uniform_ranges():
    rng = np.random.default_rng(1)
    laplace = rng.laplace(0, 1, 200_000)  # max about ln(200000) = 12
    heavy = laplace.copy()
    heavy[:20] = 60.0  # a few far outliers
    s = _stats(heavy)
    for method in ("entropy", "percentile"):
        amax = compute_amax(s, method)
        assert 3.0 < amax < 0.5 * s.amax, (method, amax, s.amax)
    # mse keeps far outliers (clipping them costs more than coarse steps) but clips the Laplace tail itself:
    # the optimum for 8 bits is about 10 b (Banner et al., ACIQ), below the sample max
    assert compute_amax(s, "mse") > 0.9 * s.amax
    pure = _stats(laplace)
    assert 6.0 < compute_amax(pure, "mse") < 0.95 * pure.amax
    assert compute_amax(pure, "entropy") < 0.95 * pure.amax
    # uniform data has no tail to clip: entropy and mse keep (nearly) the whole range
    u = _stats(rng.uniform(-4, 4, 200_000))
    assert compute_amax(u, "entropy") >= 0.9 * u.amax
    assert compute_amax(u, "mse") >= 0.9 * u.amax


def test_entropy_matches_brute_force_kl():
    """amax_entropy's vectorised merge equals a direct transcription of the algorithm on a small histogram."""
    rng = np.random.default_rng(5)
    hist = np.concatenate([rng.integers(0, 1000, 200), rng.integers(0, 3, 200)]).astype(np.float64)
    hist[rng.integers(0, 400, 30)] = 0
    edges = np.linspace(0, 4, 401)

    def brute():
        bins = hist.copy()
        bins[0] = bins[1]
        best, best_i = np.inf, None
        for i in range(128, 401):
            space = np.linspace(0, i, 129)
            dig = np.digitize(np.arange(i), space) - 1
            dig[bins[:i] == 0] = -1
            q = np.zeros(i)
            for g in range(128):
                members = np.nonzero(dig == g)[0]
                if len(members):
                    q[members] = bins[members].sum() / len(members)
            p = bins[:i].copy()
            p[-1] += bins[i:].sum()
            p, q = p / p.sum(), q / q.sum()
            m = p > 0
            kl = np.inf if np.any(q[m] == 0) else np.sum(p[m] * np.log(p[m] / q[m]))
            if kl <= best:
                best, best_i = kl, i
        return edges[best_i]

    assert amax_entropy(hist, edges) == pytest.approx(brute())


def test_mse_on_a_two_point_distribution():
    """|x| in {0.05 (many), 1.0 (few)}: clipping 1.0 costs more than coarse steps for 0.05, so amax stays 1."""
    edges = np.linspace(0, 1, 2049)
    hist = np.zeros(2048)
    hist[102] = 10_000
    hist[2047] = 100
    assert amax_mse(hist, edges) == pytest.approx(1.0)


# ---------------------------------------------------------------- cache, CLI, 10.3
def _images():
    yolov5 = pytest.importorskip("yolov5")
    root = Path(yolov5.__file__).parent / "data" / "images"
    return [str(root / "bus.jpg"), str(root / "zidane.jpg")]


def test_cache_round_trip_gives_the_identical_engine(tmp_path, resnet18_weights):
    cache = tmp_path / "calib.json"
    q1 = calibrate("resnet18", resnet18_weights, _images(), method="percentile", cache=str(cache), imgsz=32,
                   progress=False)
    amax, data = read_cache(cache, "resnet18")
    assert data["method"] == "percentile" and data["batches"] == 2 and len(data["images_sha256"]) == 64
    assert amax == pytest.approx(q1.amax) and len(amax) == 29
    q2 = calibrate("resnet18", resnet18_weights, None, cache=str(cache), imgsz=32, progress=False)  # no images
    x = np.random.default_rng(9).standard_normal((1, 3, 32, 32)).astype(np.float32)
    outs = [build("resnet18", resnet18_weights, backend="reference", precision="int8", quant=q, imgsz=32,
                  quiet=True)(x)["logits"] for q in (q1, q2)]
    np.testing.assert_array_equal(outs[0], outs[1])
    with pytest.raises(QuantError, match=f"{cache}: the calibration cache is for resnet18, not resnet34"):
        calibrate("resnet34", resnet18_weights, None, cache=str(cache), progress=False)
    with pytest.raises(QuantError, match="imgsz"):
        calibrate("resnet18", resnet18_weights, None, cache=str(cache), imgsz=64, progress=False)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(QuantError, match=f"{bad}: not a calibration cache"):
        read_cache(bad, "resnet18")


def _tool(*args, cwd=None):
    return subprocess.run([sys.executable, str(ROOT / "tools" / "build.py"), *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=600)


@pytest.mark.parametrize("args,message", [
    (["--precision", "int8"], "--precision int8 needs calibration images"),
    (["--precision", "int8", "--calib-cache", "nope.json"], "nope.json does not exist"),
    (["--calib", "."], "need --precision int8"),
    (["--precision", "int8", "--calib", ".", "--fallback", "model.2"], "PATTERN=fp16"),
    (["--precision", "int8", "--calib", "missing_dir"], "missing_dir"),
])
def test_build_int8_user_errors_are_one_line(tmp_path, args, message):
    r = _tool("yolov5n", "--imgsz", 64, "--backend", "reference", "-o", tmp_path / "x.engine", *args, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert message in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "x.engine").exists()


def test_build_cli_int8_then_rebuild_from_cache(tmp_path, yolov5n_weights):
    from weights import save_safetensors
    w = tmp_path / "w.safetensors"
    save_safetensors(yolov5n_weights, w)
    images = tmp_path / "calib"
    images.mkdir()
    for p in _images():
        os.symlink(p, images / os.path.basename(p))
    cache = tmp_path / "c.json"
    base = ["yolov5n", "--weights", w, "--imgsz", 64, "--backend", "reference", "--precision", "int8",
            "--head", "raw"]
    r = _tool(*base, "--calib", images, "--calib-method", "max", "--calib-cache", cache, "-o", tmp_path / "a.engine")
    assert r.returncode == 0, r.stderr
    assert "calibrating: batch 2/2" in r.stderr and cache.exists()
    r = _tool(*base, "--calib-cache", cache, "-o", tmp_path / "b.engine")
    assert r.returncode == 0, r.stderr
    assert "not recalibrating" in r.stderr and "calibrating: batch" not in r.stderr
    import netdefs
    a, b = netdefs.load(tmp_path / "a.engine"), netdefs.load(tmp_path / "b.engine")
    assert a.meta["precision"] == "int8" and a.meta["int8"]["remainder"] == "fp16"
    x = np.random.default_rng(1).random((1, 3, 64, 64), dtype=np.float32)
    np.testing.assert_array_equal(a(x)["raw0"], b(x)["raw0"])
    r = _tool("yolov5s", "--imgsz", 64, "--backend", "reference", "--precision", "int8", "--calib-cache", cache,
              "-o", tmp_path / "c.engine")
    assert r.returncode == 2 and "the calibration cache is for yolov5n, not yolov5s" in r.stderr


def test_int8_builds_identically_on_the_tensorrt_10_3_api(tmp_path, resnet18_weights):
    """10.x: STRONGLY_TYPED network flag and the three-argument add_quantize / add_dequantize; same outputs."""
    from weights import save_safetensors
    save_safetensors(resnet18_weights, tmp_path / "w.safetensors")
    x = np.random.default_rng(6).standard_normal((1, 3, 32, 32)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    q = calibrate("resnet18", resnet18_weights, _images(), method="max", cache=str(tmp_path / "c.json"), imgsz=32,
                  progress=False)
    script = (
        "import sys, numpy as np, reftrt\n"
        "assert reftrt.__version__.startswith('10.3')\n"
        "from netdefs import build\n"
        "from netdefs.runtime.calibrate import calibrate\n"
        "d = sys.argv[1]\n"
        "q = calibrate('resnet18', d + '/w.safetensors', None, cache=d + '/c.json', imgsz=32, progress=False)\n"
        "e = build('resnet18', d + '/w.safetensors', backend='reference', precision='int8', quant=q, imgsz=32,\n"
        "          quiet=True)\n"
        "assert e.trt.__version__.startswith('10.3')\n"
        "np.save(d + '/y.npy', e(np.load(d + '/x.npy'))['logits'])\n")
    env = dict(os.environ, REFTRT_TRT_VERSION="10.3")
    r = subprocess.run([sys.executable, "-c", script, str(tmp_path)], env=env, capture_output=True, text=True,
                       cwd=str(ROOT))
    assert r.returncode == 0, r.stderr[-2000:]
    y11 = build("resnet18", resnet18_weights, backend="reference", precision="int8", quant=q, imgsz=32,
                quiet=True)(x)["logits"]
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), y11)


# ---------------------------------------------------------------- metrics
def test_average_precision_hand_computed():
    # 2 truths; detections by score: TP, FP, TP -> precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1
    # envelope: recall 0..0.5 at precision 1, 0.5..1 at 2/3 -> AP = 0.5 + 0.5 * 2/3
    truth = (np.array([[0, 0, 10, 10], [20, 20, 30, 30]]), np.ones(2), np.zeros(2))
    dets = (np.array([[0, 0, 10, 10], [50, 50, 60, 60], [21, 21, 30, 30]]), np.array([0.9, 0.8, 0.7]),
            np.zeros(3))
    assert map50([dets], [truth]) == pytest.approx(0.5 + 0.5 * 2 / 3)
    assert average_precision(np.array([0.5, 0.5, 1.0]), np.array([1.0, 0.5, 2 / 3])) == pytest.approx(5 / 6)
    # a box of the wrong class or below IoU 0.5 is a false positive; a second class without detections has AP 0
    truth2 = (np.array([[0, 0, 10, 10], [0, 0, 10, 10]]), np.ones(2), np.array([0, 1]))
    dets2 = (np.array([[0, 0, 10, 10], [6, 6, 16, 16]]), np.array([0.9, 0.8]), np.array([0, 0]))
    assert map50([dets2], [truth2]) == pytest.approx(0.5)
    assert map50([dets], [(np.zeros((0, 4)), np.zeros(0), np.zeros(0))]) is None


def test_top1_and_segmentation_agreement():
    a = np.array([[1, 2, 0], [3, 0, 0], [0, 0, 1]])
    b = np.array([[0, 5, 0], [0, 9, 0], [0, 0, 1]])
    assert top1_agreement(a, b) == pytest.approx(2 / 3)
    pixel, miou = segmentation_agreement(np.array([[0, 0], [1, 1]]), np.array([[0, 1], [1, 1]]), 3)
    assert pixel == 0.75 and miou == pytest.approx((1 / 2 + 2 / 3) / 2)
