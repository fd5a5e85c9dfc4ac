"""Image I/O (an unreadable image is a one-line UserError naming it), YOLOv5's letterbox preprocessing, and
drawing. numpy + Pillow (OpenCV for video)."""
import io
import os
import sys

import numpy as np

from ..errors import UserError
from .names import label as class_label

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
VIDEO_EXTS = {".mp4", ".avi", ".mov", ".mkv", ".webm"}


def _pil():
    try:
        from PIL import Image, ImageDraw
    except ImportError:
        raise ImportError("reading and drawing images needs Pillow: pip install pillow") from None
    return Image, ImageDraw


def read_image(path):
    """RGB uint8 (h, w, 3); UserError naming the file when it cannot be read as an image."""
    Image, _ = _pil()
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except Image.DecompressionBombError as e:  # Pillow's guard against images that would fill the memory
        raise UserError(f"{path}: too large to read safely ({e})") from None
    except (Image.UnidentifiedImageError, ImportError):
        # ImportError: ultralytics, once imported (by the yolov5 reference models), patches Image.open to retry an
        # unidentified file with the pi-heif plugin, and fails with ModuleNotFoundError when it is not installed.
        raise UserError(f"{path}: not an image Pillow can read") from None
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UserError(f"{path}: is a directory, not an image") from None
    except (OSError, SyntaxError, ValueError) as e:  # Pillow's damaged/truncated-file errors
        raise UserError(f"{path}: damaged or truncated image ({clip(str(e), 200)})") from None


def read_images(paths, skip_bad):
    """(path, image) per path; with `skip_bad` (the paths came from a folder or a list) an unreadable image is
    skipped with a warning naming it, so one bad file does not stop a run over many."""
    for path in paths:
        try:
            image = read_image(path)
        except UserError as e:
            if not skip_bad:
                raise
            print(f"warning: skipped {e}", file=sys.stderr)
            continue
        yield path, image


def clip(text, limit=200):
    """`text`, cut to `limit` characters: error messages echo user input and stay one readable line."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + "..."


def list_sources(source):
    """Image files of a file or directory, or a video file, as a list of paths."""
    if os.path.isdir(source):
        files = sorted(os.path.join(source, f) for f in os.listdir(source)
                       if os.path.splitext(f)[1].lower() in IMAGE_EXTS)
        if not files:
            raise UserError(f"{source}: no images ({', '.join(sorted(IMAGE_EXTS))})")
        return files
    if not os.path.exists(source):
        raise UserError(f"{source}: no such file or directory")
    return [source]


def video_frames(path):
    try:
        import cv2
    except ImportError:
        raise ImportError("reading video needs OpenCV: pip install opencv-python-headless") from None
    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        raise UserError(f"{path}: cannot open the video")
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                return
            yield frame[:, :, ::-1].copy()
    finally:
        cap.release()


def letterbox(image, new_shape, color=114):
    """YOLOv5's letterbox (utils/augmentations.py) for a fixed input size: scale to fit, pad to `new_shape`.

    Returns the padded image, the scale ratio and the (left, top) padding, to map boxes back.
    """
    Image, _ = _pil()
    h, w = image.shape[:2]
    nh, nw = new_shape
    r = min(nh / h, nw / w)
    uw, uh = int(round(w * r)), int(round(h * r))
    dw, dh = (nw - uw) / 2, (nh - uh) / 2
    if (uw, uh) != (w, h):
        image = np.asarray(Image.fromarray(image).resize((uw, uh), Image.BILINEAR))
    top, bottom = int(round(dh - 0.1)), int(round(dh + 0.1))
    left, right = int(round(dw - 0.1)), int(round(dw + 0.1))
    out = np.full((uh + top + bottom, uw + left + right, 3), color, dtype=np.uint8)
    out[top:top + uh, left:left + uw] = image
    return out, r, (left, top)


def to_input(images):
    """RGB uint8 (h, w, 3) list -> float32 (n, 3, h, w) in [0, 1], as YOLOv5 feeds its model."""
    batch = np.stack([im.transpose(2, 0, 1) for im in images]).astype(np.float32)
    return batch / np.float32(255)


def scale_boxes(boxes, ratio, pad, shape):
    """Boxes in letterboxed input pixels -> original image pixels, clipped; `ratio` one scale, or (x, y) scales of
    an image stretched to the input."""
    rx, ry = ratio if isinstance(ratio, tuple) else (ratio, ratio)
    boxes = boxes.astype(np.float32).copy()
    boxes[:, [0, 2]] = (boxes[:, [0, 2]] - pad[0]) / rx
    boxes[:, [1, 3]] = (boxes[:, [1, 3]] - pad[1]) / ry
    boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, shape[1])
    boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, shape[0])
    return boxes


def _colour(i):
    rng = np.random.default_rng(i * 7919 + 1)
    return tuple(int(c) for c in rng.integers(64, 256, 3))


def draw_detections(image, boxes, scores, classes, names=None):
    Image, ImageDraw = _pil()
    im = Image.fromarray(image)
    draw = ImageDraw.Draw(im)
    for box, score, cls in zip(boxes, scores, classes):
        colour = _colour(int(cls))
        label = f"{class_label(cls, names)} {score:.2f}"
        draw.rectangle([float(v) for v in box], outline=colour, width=2)
        draw.text((float(box[0]) + 2, float(box[1]) + 1), label, fill=colour)
    return np.asarray(im)


def save_image(image, path):
    Image, _ = _pil()
    from weights.atomic import atomic_write
    buf = io.BytesIO()
    fmt = {".png": "PNG", ".bmp": "BMP"}.get(os.path.splitext(path)[1].lower(), "JPEG")
    Image.fromarray(image).save(buf, format=fmt)
    atomic_write(path, buf.getvalue())


# ---- classification and segmentation (torchvision / smp preprocessing; the network does not normalise)
def resize(image, size):
    """RGB uint8 (h, w, 3) -> (H, W) = `size`, bilinear with Pillow's antialiasing (what torchvision's Resize does
    on a PIL image)."""
    Image, _ = _pil()
    h, w = size
    if image.shape[:2] == (h, w):
        return image
    return np.asarray(Image.fromarray(image).resize((int(w), int(h)), Image.BILINEAR))


def resize_shorter(image, shorter):
    """torchvision Resize(int): the shorter side to `shorter`, the longer one to int(shorter · long / short)."""
    h, w = image.shape[:2]
    if h <= w:
        return resize(image, (shorter, int(shorter * w / h)))
    return resize(image, (int(shorter * h / w), shorter))


def center_crop(image, size):
    """torchvision CenterCrop for an image at least `size` (h, w): offsets int(round((H - h) / 2))."""
    h, w = size
    H, W = image.shape[:2]
    if H < h or W < w:
        raise UserError(f"center_crop: image {H}x{W} is smaller than the crop {h}x{w}")
    top, left = int(round((H - h) / 2.0)), int(round((W - w) / 2.0))
    return image[top:top + h, left:left + w]


def normalize(image, mean, std, scale=1 / 255):
    """RGB uint8 (h, w, 3) -> float32 (3, h, w): (x · scale − mean) / std, per channel."""
    x = image.astype(np.float32) * np.float32(scale)
    x = (x - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1))


def classify_preprocess(image, imgsz, preprocess):
    """torchvision's eval transforms for an engine of input size `imgsz` (h, w): resize the shorter side to
    round(min(imgsz) · resize_ratio) (256/224), centre crop `imgsz`, normalise with the metadata's mean / std."""
    h, w = imgsz
    ratio = preprocess.get("resize_ratio", 256 / 224)
    image = center_crop(resize_shorter(image, int(round(min(h, w) * ratio))), (h, w))
    return normalize(image, preprocess["mean"], preprocess["std"], preprocess.get("scale", 1 / 255))


def segment_preprocess(image, imgsz, preprocess):
    """Plain resize to the engine's input size (no letterbox), then normalise with the metadata's mean / std."""
    return normalize(resize(image, imgsz), preprocess["mean"], preprocess["std"], preprocess.get("scale", 1 / 255))


def softmax(logits, axis=-1):
    z = np.asarray(logits, np.float64)
    z = np.exp(z - z.max(axis=axis, keepdims=True))
    return z / z.sum(axis=axis, keepdims=True)


def topk(probs, k=5):
    """Indices and values of the k largest entries of a 1-D array, largest first (ties: lower index first)."""
    order = np.argsort(-np.asarray(probs), kind="stable")[:k]
    return order, np.asarray(probs)[order]


def _bilinear_weights(n_out, n_in):
    """Source indices and weights of bilinear resampling with half-pixel centres (align_corners=False)."""
    src = np.clip((np.arange(n_out, dtype=np.float64) + 0.5) * (n_in / n_out) - 0.5, 0, n_in - 1)
    lo = np.floor(src).astype(np.int64)
    hi = np.minimum(lo + 1, n_in - 1)
    return lo, hi, (src - lo).astype(np.float32)


def upsample_bilinear(x, size):
    """(C, h, w) -> (C, H, W), as F.interpolate(mode="bilinear", align_corners=False) without antialiasing."""
    H, W = size
    y0, y1, fy = _bilinear_weights(H, x.shape[1])
    x0, x1, fx = _bilinear_weights(W, x.shape[2])
    x = np.asarray(x, np.float32)
    rows = x[:, y0] * (1 - fy)[None, :, None] + x[:, y1] * fy[None, :, None]
    return rows[:, :, x0] * (1 - fx) + rows[:, :, x1] * fx


def segment_mask(logits, size):
    """Class per pixel of the image: argmax over the (C, h, w) logits upsampled bilinearly to `size` (H, W)."""
    return upsample_bilinear(logits, size).argmax(0)


def class_histogram(mask):
    """[(class, pixels)] of a mask, most pixels first."""
    classes, counts = np.unique(mask, return_counts=True)
    order = np.argsort(-counts, kind="stable")
    return [(int(classes[i]), int(counts[i])) for i in order]


def draw_mask(image, mask, alpha=0.5):
    """The image with each class's colour blended over its pixels (class 0 too: every class is coloured)."""
    palette = np.array([_colour(i) for i in range(int(mask.max()) + 1)], np.float32)
    blended = image.astype(np.float32) * (1 - alpha) + palette[mask] * alpha
    return blended.round().clip(0, 255).astype(np.uint8)


# ---- instance masks (YOLO -seg: mask coefficients and prototypes)
PROTO_STRIDE = 4  # YOLOv5-seg's and ultralytics' prototypes are at 1/4 of the input (P3/8 upsampled twice)


def instance_masks(coeffs, protos, boxes, input_hw, threshold=0.5):
    """Masks (n, H, W) bool in letterboxed input pixels, as ultralytics' process_mask with upsampling: each
    detection's coefficients (n, c) combine the prototypes (c, h, w), bilinear upsampling to the input `input_hw`,
    sigmoid above `threshold`, zero outside the detection's x1y1x2y2 box (input pixels). The logits are upsampled,
    not the probabilities, so that edge pixels fall on the same side of the threshold as ultralytics'."""
    c, h, w = protos.shape
    if len(coeffs) == 0:
        return np.zeros((0,) + tuple(input_hw), bool)
    logits = (np.asarray(coeffs, np.float32) @ np.asarray(protos, np.float32).reshape(c, -1)).reshape(-1, h, w)
    masks = upsample_bilinear(logits, input_hw)
    threshold = np.log(threshold / (1 - threshold))  # sigmoid(x) > t  <=>  x > logit(t)
    rows = np.arange(input_hw[0], dtype=np.float32)[None, :, None]
    cols = np.arange(input_hw[1], dtype=np.float32)[None, None, :]
    b = np.asarray(boxes, np.float32)[:, :, None, None]
    inside = (cols >= b[:, 0]) & (cols < b[:, 2]) & (rows >= b[:, 1]) & (rows < b[:, 3])
    return (masks > threshold) & inside


def masks_to_image(masks, ratio, pad, shape):
    """Input-pixel masks (n, H, W) -> the original image's (n, h, w): the letterbox padding cut off, then the
    unpadded part resized (nearest) to the image."""
    h, w = shape[:2]
    uh, uw = int(round(h * ratio)), int(round(w * ratio))
    left, top = pad
    inner = masks[:, top:top + uh, left:left + uw]
    ys = np.minimum(((np.arange(h) + 0.5) * inner.shape[1] / h).astype(np.int64), inner.shape[1] - 1)
    xs = np.minimum(((np.arange(w) + 0.5) * inner.shape[2] / w).astype(np.int64), inner.shape[2] - 1)
    return inner[:, ys][:, :, xs]


def draw_instance_masks(image, masks, classes, alpha=0.5):
    """The image with each detection's mask blended in its class colour (the later drawn over the earlier)."""
    out = image.astype(np.float32)
    for mask, cls in zip(masks, classes):
        out[mask] = out[mask] * (1 - alpha) + np.array(_colour(int(cls)), np.float32) * alpha
    return out.round().clip(0, 255).astype(np.uint8)


def fit_size(shape, sizes, stride):
    """The input (H, W) for an image of `shape` on an engine with a dynamic image size: the image scaled to fit the
    profile's OPT size (as a fixed engine of that size would), padded to the smallest stride multiple that holds it,
    kept within MIN .. MAX. `sizes` = [[h, w] min, opt, max]."""
    (lo_h, lo_w), (opt_h, opt_w), (hi_h, hi_w) = sizes
    h, w = shape[:2]
    r = min(opt_h / h, opt_w / w)
    uh, uw = int(round(h * r)), int(round(w * r))
    fit = lambda n, lo, hi: min(max(-(-n // stride) * stride, lo), hi)  # noqa: E731
    return fit(uh, lo_h, hi_h), fit(uw, lo_w, hi_w)
