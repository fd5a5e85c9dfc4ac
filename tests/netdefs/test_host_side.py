"""The host side of an engine, outside the network: what Engine.__call__ does with the arrays it is given, the
letterbox and the mapping of boxes back to the image (checked against the `yolov5` package's own functions on its
sample images and on odd aspect ratios), and the NMS head's thresholds at their boundary (against yolov5's
non_max_suppression)."""
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.helpers.ref_resnet import build_network

import netdefs
from netdefs.tasks import images as im

SHAPE = (2, 3, 4, 5)


@pytest.fixture(scope="module")
def affine_engine():
    """y = 2x + 1 per element (a scale layer): every input element shows in the output where it went in."""
    def define(net):
        x = net.input("images", SHAPE)
        scale = net.network.add_scale(x, net.trt.ScaleMode.UNIFORM, net.array(np.array([1.0])),
                                      net.array(np.array([2.0])), net.empty_weights())
        net.output(net.named(scale, "affine").get_output(0), "y")
    return build_network(define, {})


def _x(seed=0, shape=SHAPE):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def test_float32_input_reference(affine_engine):
    x = _x()
    np.testing.assert_array_equal(affine_engine(x)["y"], 2 * x + 1)


def test_float64_input_is_converted_to_the_engines_dtype(affine_engine):
    """A float64 array's bytes read as float32 are garbage (NaN or huge values): the engine must cast first."""
    x = _x(1)
    out = affine_engine(x.astype(np.float64))["y"]
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, 2 * x + 1)


@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.float16])
def test_other_input_dtypes_are_converted(affine_engine, dtype):
    x = np.arange(np.prod(SHAPE)).reshape(SHAPE).astype(dtype) % 50
    np.testing.assert_array_equal(affine_engine(x)["y"], 2 * x.astype(np.float32) + 1)


def test_non_contiguous_inputs_are_read_in_logical_order(affine_engine):
    big = _x(2, (2, 3, 5, 4))
    views = {"transposed": big.transpose(0, 1, 3, 2), "strided": _x(3, (2, 3, 8, 5))[:, :, ::2],
             "reversed": _x(4)[:, ::-1], "fortran": np.asfortranarray(_x(5))}
    for name, x in views.items():
        assert x.shape == SHAPE and not x.flags.c_contiguous, name
        np.testing.assert_array_equal(affine_engine(x)["y"], 2 * np.ascontiguousarray(x) + 1, err_msg=name)


def test_the_callers_array_is_not_modified(affine_engine):
    x = _x(6)
    keep = x.copy()
    affine_engine(x)
    np.testing.assert_array_equal(x, keep)


@pytest.mark.parametrize("shape", [(2, 3, 5, 4), (1, 3, 4, 5), (2, 3, 4), (2, 3, 4, 5, 1), (3, 4, 5)])
def test_wrong_shapes_are_refused_by_name(affine_engine, shape):
    with pytest.raises(netdefs.UserError, match=r"input 'images': expected shape \(2, 3, 4, 5\), found"):
        affine_engine(np.zeros(shape, np.float32))


def test_wrong_input_names_are_refused(affine_engine):
    with pytest.raises(netdefs.UserError, match="do not match the engine's inputs"):
        affine_engine({"pixel_values": _x()})
    with pytest.raises(netdefs.UserError, match="do not match the engine's inputs"):
        affine_engine({"images": _x(), "extra": _x()})


# ---- letterbox and the boxes mapped back to the image, against yolov5.utils (augmentations.letterbox with
# auto=False, as for a fixed-size engine; general.scale_boxes)
def _sample_images():
    yolov5 = pytest.importorskip("yolov5")
    root = Path(yolov5.__file__).parent / "data" / "images"
    return {p.name: im.read_image(p) for p in (root / "bus.jpg", root / "zidane.jpg")}


def _odd_images():
    """Smooth random pictures (resized noise would make the two resizes disagree) of odd aspect ratios."""
    from PIL import Image
    rng = np.random.default_rng(20)
    return {f"{h}x{w}": np.asarray(Image.fromarray(rng.integers(0, 256, (4, 5, 3), dtype=np.uint8))
                                   .resize((w, h), Image.BICUBIC))
            for h, w in [(37, 500), (500, 37), (333, 333), (101, 99), (7, 640), (640, 641)]}


def _boxes(image_shape, input_shape, n=200, seed=0):
    """Random x1y1x2y2 boxes in letterboxed-input pixels, some reaching into the padding and beyond the input."""
    rng = np.random.default_rng(seed)
    h, w = input_shape
    xy = rng.uniform(-20, [w + 20, h + 20], (n, 2))
    wh = rng.uniform(1, [w / 2, h / 2], (n, 2))
    return np.concatenate([xy, xy + wh], 1).astype(np.float32)


@pytest.mark.parametrize("input_shape", [(640, 640), (384, 640), (256, 192)])
def test_letterbox_and_scale_boxes_match_yolov5(input_shape):
    pytest.importorskip("yolov5")
    from yolov5.utils.augmentations import letterbox
    from yolov5.utils.general import scale_boxes
    for name, image in {**_sample_images(), **_odd_images()}.items():
        boxed, ratio, pad = im.letterbox(image, input_shape)
        ref, ref_ratio, (dw, dh) = letterbox(image, input_shape, auto=False)
        assert boxed.shape == ref.shape == (*input_shape, 3), name
        assert ratio == ref_ratio[0] == ref_ratio[1], name
        assert pad == (int(round(dw - 0.1)), int(round(dh - 0.1))), name
        left, top = pad
        uh, uw = int(round(image.shape[0] * ratio)), int(round(image.shape[1] * ratio))
        # the padding is exact; inside, Pillow's bilinear resize antialiases when it shrinks and OpenCV's does not:
        # the same picture, not the same pixels
        inside = np.zeros(input_shape, bool)
        inside[top:top + uh, left:left + uw] = True
        assert (boxed[~inside] == 114).all() and (ref[~inside] == 114).all(), name
        corr = np.corrcoef(boxed[inside].ravel().astype(np.float64), ref[inside].ravel().astype(np.float64))[0, 1]
        assert corr >= 0.9, (name, corr)
        boxes = _boxes(image.shape[:2], input_shape)
        ours = im.scale_boxes(boxes, ratio, pad, image.shape)
        # the same mapping, given our integer padding
        same = scale_boxes(input_shape, torch.from_numpy(boxes.copy()), image.shape[:2],
                           ratio_pad=((ratio, ratio), pad)).numpy()
        np.testing.assert_allclose(ours, same, rtol=1e-6, atol=1e-3, err_msg=name)
        # detect.py's call (padding from the shapes, fractional; the letterbox rounds the resized size and then the
        # padding, up to 0.25 + 0.6 input pixels): within one input pixel
        detect = scale_boxes(input_shape, torch.from_numpy(boxes.copy()), image.shape[:2]).numpy()
        np.testing.assert_allclose(ours, detect, rtol=0, atol=1 / ratio, err_msg=name)


def test_scale_boxes_inverts_the_letterbox_on_a_drawn_box():
    """A box drawn on the image, letterboxed, found in the input and mapped back lands where it was drawn."""
    image = np.zeros((300, 120, 3), np.uint8)
    image[200:260, 30:90] = 255  # x 30..90, y 200..260
    boxed, ratio, pad = im.letterbox(image, (160, 160))
    ys, xs = np.nonzero(boxed[..., 0] > 128)
    found = np.array([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], np.float32)
    back = im.scale_boxes(found, ratio, pad, image.shape)[0]
    np.testing.assert_allclose(back, [30, 200, 90, 260], atol=1.5 / ratio)


# ---- NMS thresholds at the boundary: yolov5's non_max_suppression keeps `x[..., 4] > conf_thres` and
# `conf > conf_thres` (strictly), and torchvision's nms removes boxes of IoU > iou_thres (strictly).
NC = 3


@pytest.fixture(scope="module")
def nms_engine():
    from netdefs.families import yolov5

    def define(net):
        pred = net.input("pred", (1, 8, 5 + NC))
        yolov5._nms_head(net, pred, "nms", NC, 0.25, 0.5, 8, False)
    return build_network(define, {})


def _pred(rows):
    """rows of (cx, cy, w, h, objectness, class scores) -> (1, 8, 5 + NC) float32, padded with empty rows."""
    out = np.zeros((1, 8, 5 + NC), np.float32)
    for i, r in enumerate(rows):
        out[0, i, :len(r)] = r
    return out


def _yolov5_nms(pred):
    from yolov5.utils.general import non_max_suppression
    return non_max_suppression(torch.from_numpy(pred), 0.25, 0.5, max_det=8)[0].numpy()


def _engine_dets(engine, pred):
    out = engine({"pred": pred})
    n = int(out["num_dets"][0, 0])
    order = np.argsort(-out["scores"][0, :n], kind="stable")
    return np.concatenate([out["boxes"][0, :n][order], out["scores"][0, :n][order, None],
                           out["classes"][0, :n][order, None].astype(np.float32)], 1)


def test_score_exactly_at_the_threshold_is_dropped_as_yolov5_does(nms_engine):
    pytest.importorskip("yolov5")
    above = float(np.nextafter(np.float32(0.25), np.float32(1)))
    pred = _pred([
        (10, 10, 8, 8, 1.0, 0.25, 0, 0),      # conf = 0.25 exactly: dropped
        (40, 10, 8, 8, 0.25, 0, 1.0, 0),      # objectness = 0.25 exactly: dropped
        (70, 10, 8, 8, 1.0, 0, 0, 0.75),      # kept
        (10, 40, 8, 8, 0.5, 0.5, 0, 0),       # 0.5 * 0.5 = 0.25 exactly: dropped
        (40, 40, 8, 8, above, 0, 1.0, 0),     # conf one ulp above 0.25: kept
    ])
    ref = _yolov5_nms(pred)
    ours = _engine_dets(nms_engine, pred)
    assert len(ref) == 2
    np.testing.assert_array_equal(ours, ref)


def test_iou_exactly_at_the_threshold_keeps_both_as_yolov5_does(nms_engine):
    pytest.importorskip("yolov5")
    pred = _pred([
        (5, 5, 10, 10, 0.9, 1.0, 0, 0),       # x 0..10, y 0..10
        (5, 2.5, 10, 5, 0.8, 1.0, 0, 0),      # x 0..10, y 0..5: IoU 50 / 100 = 0.5 exactly: kept
        (30, 5, 10, 10, 0.85, 1.0, 0, 0),     # x 25..35
        (30.5, 5, 10, 10, 0.7, 1.0, 0, 0),    # IoU 95 / 105 with the one above: suppressed
    ])
    ref = _yolov5_nms(pred)
    ours = _engine_dets(nms_engine, pred)
    assert len(ref) == 3
    np.testing.assert_array_equal(ours, ref)
