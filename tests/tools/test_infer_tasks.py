"""tools/infer.py by the engine's task: "classify" (torchvision eval transforms, top-5) and "segment" (resize,
argmax of the bilinearly upsampled logits, class histogram, drawn mask), run as a user would."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from tests.helpers.ref_resnet import one_thread, smp_unet, state_dict_arrays, torchvision_classifier

from netdefs.tasks import images as im

ROOT = Path(__file__).resolve().parents[2]
IMGSZ = 64


def run(tool, *args):
    return subprocess.run([sys.executable, str(ROOT / "tools" / tool), *map(str, args)], capture_output=True,
                          text=True, timeout=600)


def make_image(path, h, w, seed):
    """A smooth random picture (not noise: resizing then matters, as on a photo)."""
    from PIL import Image
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    Image.fromarray(small).resize((w, h), Image.BICUBIC).save(path)
    return path


def build(tmp_path, model, torch_model, *extra):
    from weights import save_safetensors
    weights = tmp_path / f"{model}.safetensors"
    save_safetensors(state_dict_arrays(torch_model), weights)
    engine = tmp_path / f"{model}.engine"
    r = run("build.py", model, "--weights", weights, "-o", engine, "--imgsz", IMGSZ, "--backend", "reference",
            *extra)
    assert r.returncode == 0, r.stderr
    return engine, json.loads(Path(str(engine) + ".json").read_text())


def test_classify_prints_the_top5_of_the_pytorch_model(tmp_path):
    model = torchvision_classifier("resnet18", seed=4, num_classes=20)
    engine, meta = build(tmp_path, "resnet18", model, "--batch", 2)
    assert meta["task"] == "classify" and meta["num_classes"] == 20
    images = tmp_path / "images"
    images.mkdir()
    paths = [make_image(images / f"im{i}.png", h, w, i) for i, (h, w) in enumerate([(90, 120), (150, 100),
                                                                                     (64, 64)])]
    names = tmp_path / "names.txt"
    names.write_text("\n".join(f"class_{i}" for i in range(20)) + "\n")
    r = run("infer.py", engine, images, "--names", names)
    assert r.returncode == 0, r.stderr
    printed = parse_top5(r.stdout)
    assert sorted(printed) == sorted(str(p) for p in paths)
    for path in paths:
        x = im.classify_preprocess(im.read_image(path), (IMGSZ, IMGSZ), meta["preprocess"])
        with torch.no_grad(), one_thread():
            probs = torch.softmax(model(torch.from_numpy(x[None])), 1)[0].numpy()
        top = np.argsort(-probs, kind="stable")[:5]
        got = printed[str(path)]
        assert [c for c, _, _ in got] == top.tolist(), path
        assert [n for _, _, n in got] == [f"class_{c}" for c in top]
        np.testing.assert_allclose([p for _, p, _ in got], probs[top], atol=1e-4)


def parse_top5(stdout):
    out, current = {}, None
    for line in stdout.splitlines():
        if line.endswith(": top-5"):
            current = out.setdefault(line[:-len(": top-5")], [])
        elif current is not None and line.startswith("  "):
            p, c, name = line.split()
            current.append((int(c), float(p), name))
    return out


def test_classify_preprocess_is_torchvisions_eval_transform(tmp_path):
    from PIL import Image
    from torchvision import transforms
    from netdefs.families.resnet import IMAGENET_PREPROCESS as pre
    for i, (h, w) in enumerate([(90, 120), (150, 100), (64, 64), (301, 299)]):
        path = make_image(tmp_path / f"im{i}.png", h, w, i)
        t = transforms.Compose([transforms.Resize(round(IMGSZ * 256 / 224)), transforms.CenterCrop(IMGSZ),
                                transforms.ToTensor(), transforms.Normalize(pre["mean"], pre["std"])])
        ref = t(Image.open(path).convert("RGB")).numpy()
        ours = im.classify_preprocess(im.read_image(path), (IMGSZ, IMGSZ), pre)
        np.testing.assert_allclose(ours, ref, atol=1e-5)


def test_upsample_bilinear_is_torch_interpolate():
    x = np.random.default_rng(0).standard_normal((3, 5, 7)).astype(np.float32)
    for size in [(20, 28), (13, 9), (5, 7), (3, 4)]:
        ref = torch.nn.functional.interpolate(torch.from_numpy(x[None]), size=size, mode="bilinear",
                                              align_corners=False)[0].numpy()
        np.testing.assert_allclose(im.upsample_bilinear(x, size), ref, atol=1e-5)


def test_segment_prints_the_histogram_and_draws_the_mask(tmp_path):
    model = smp_unet("resnet18", seed=6, classes=3)
    engine, meta = build(tmp_path, "unet-resnet18", model)
    assert meta["task"] == "segment"
    path = make_image(tmp_path / "scene.png", 100, 140, 9)
    out = tmp_path / "out"
    r = run("infer.py", engine, path, "--out", out)
    assert r.returncode == 0, r.stderr
    line = next(l for l in r.stdout.splitlines() if l.startswith(str(path)))
    image = im.read_image(path)
    x = im.segment_preprocess(image, (IMGSZ, IMGSZ), meta["preprocess"])
    with torch.no_grad(), one_thread():
        logits = model(torch.from_numpy(x[None]))
    up = torch.nn.functional.interpolate(logits, size=image.shape[:2], mode="bilinear", align_corners=False)
    mask = up[0].argmax(0).numpy()
    expected = ", ".join(f"{c} {100.0 * n / mask.size:.1f}%" for c, n in im.class_histogram(mask))
    assert line == f"{path}: 100x140 mask, classes: {expected}"
    drawn = im.read_image(out / "scene.png")
    assert drawn.shape == image.shape
    np.testing.assert_array_equal(drawn, im.draw_mask(image, mask))


def test_draw_mask_blends_each_class_colour():
    image = np.full((2, 3, 3), 100, np.uint8)
    mask = np.array([[0, 1, 1], [2, 2, 0]])
    drawn = im.draw_mask(image, mask, alpha=0.5)
    assert drawn.shape == image.shape and drawn.dtype == np.uint8
    np.testing.assert_array_equal(drawn[0, 0], drawn[1, 2])  # same class, same colour
    assert not np.array_equal(drawn[0, 1], drawn[1, 0])
    assert im.class_histogram(mask) == [(0, 2), (1, 2), (2, 2)]
