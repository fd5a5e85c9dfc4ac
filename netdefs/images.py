"""Image I/O, YOLOv5's letterbox preprocessing, and drawing detections. numpy + Pillow (OpenCV for video)."""
import os

import numpy as np

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
VIDEO_EXTS = {".mp4", ".avi", ".mov", ".mkv", ".webm"}


def _pil():
    try:
        from PIL import Image, ImageDraw
    except ImportError:
        raise ImportError("reading and drawing images needs Pillow: pip install pillow") from None
    return Image, ImageDraw


def read_image(path):
    """RGB uint8 (h, w, 3)."""
    Image, _ = _pil()
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def list_sources(source):
    """Image files of a file or directory, or a video file, as a list of paths."""
    if os.path.isdir(source):
        files = sorted(os.path.join(source, f) for f in os.listdir(source)
                       if os.path.splitext(f)[1].lower() in IMAGE_EXTS)
        if not files:
            raise FileNotFoundError(f"{source}: no images ({', '.join(sorted(IMAGE_EXTS))})")
        return files
    if not os.path.exists(source):
        raise FileNotFoundError(f"{source}: no such file or directory")
    return [source]


def video_frames(path):
    try:
        import cv2
    except ImportError:
        raise ImportError("reading video needs OpenCV: pip install opencv-python-headless") from None
    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        raise FileNotFoundError(f"{path}: cannot open the video")
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
    """Boxes in letterboxed input pixels -> original image pixels, clipped."""
    boxes = boxes.astype(np.float32).copy()
    boxes[:, [0, 2]] = (boxes[:, [0, 2]] - pad[0]) / ratio
    boxes[:, [1, 3]] = (boxes[:, [1, 3]] - pad[1]) / ratio
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
        label = f"{names[int(cls)] if names else int(cls)} {score:.2f}"
        draw.rectangle([float(v) for v in box], outline=colour, width=2)
        draw.text((float(box[0]) + 2, float(box[1]) + 1), label, fill=colour)
    return np.asarray(im)


def save_image(image, path):
    Image, _ = _pil()
    from .engine import atomic_write
    import io
    buf = io.BytesIO()
    fmt = {".png": "PNG", ".bmp": "BMP"}.get(os.path.splitext(path)[1].lower(), "JPEG")
    Image.fromarray(image).save(buf, format=fmt)
    atomic_write(path, buf.getvalue())
