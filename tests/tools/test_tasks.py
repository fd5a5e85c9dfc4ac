"""netdefs/tasks: the one home of what differs per task (preprocessing, random input, printed and drawn results,
agreement, standard class names), and the one-line errors of unreadable images and class-name files."""
import json
import struct
import zlib

import numpy as np
import pytest

from netdefs import tasks
from netdefs.errors import UserError
from netdefs.tasks import images as im
from netdefs.tasks import names

PRE = {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "resize_ratio": 256 / 224}


def picture(h, w, seed):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def png_header_only(w, h):
    """A PNG whose header claims w x h pixels (no pixel data): enough for Pillow's decompression-bomb check."""
    def chunk(tag, body):
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def test_registry_names_every_task_and_refuses_others():
    assert sorted(tasks.TASKS) == ["classify", "detect", "obb", "pose", "segment"]
    assert all(tasks.get(name).name == name for name in tasks.TASKS)
    with pytest.raises(UserError, match=r"unknown task 'depth' \(known: detect, classify, segment, pose, obb\)"):
        tasks.get("depth")
    with pytest.raises(UserError, match="unknown task"):
        tasks.get(["x" * 1000])  # a sidecar's wrong type: still one bounded line


def test_preprocess_is_the_tasks_own():
    image = picture(90, 120, 0)
    x, (ratio, pad) = tasks.get("detect").preprocess({}, image, (64, 64))
    boxed, r, p = im.letterbox(image, (64, 64))
    np.testing.assert_array_equal(x, boxed.transpose(2, 0, 1).astype(np.float32) / 255)
    assert (ratio, pad) == (r, p) and x.dtype == np.float32
    x, state = tasks.get("classify").preprocess({"preprocess": PRE}, image, (64, 64))
    np.testing.assert_array_equal(x, im.classify_preprocess(image, (64, 64), PRE))
    assert state is None and x.shape == (3, 64, 64)
    x, _ = tasks.get("segment").preprocess({"preprocess": PRE}, image, (32, 64))
    np.testing.assert_array_equal(x, im.segment_preprocess(image, (32, 64), PRE))


def test_random_input_ranges():
    shape = (2, 3, 16, 16)
    x = tasks.get("detect").random_input({}, shape, np.random.default_rng(0))
    assert x.dtype == np.float32 and x.shape == shape and 0 <= x.min() and x.max() < 1  # pixels / 255
    y = tasks.get("classify").random_input({}, shape, np.random.default_rng(0))
    assert y.min() < -1 and y.max() > 1 and abs(float(y.mean())) < 0.2  # normalised images
    np.testing.assert_array_equal(y, tasks.get("segment").random_input({}, shape, np.random.default_rng(0)))


def nms_outputs(n, max_det=300):
    rng = np.random.default_rng(n)
    boxes = np.sort(rng.uniform(0, 64, (1, max_det, 4)).astype(np.float32), axis=-1)
    scores = np.sort(rng.uniform(0.3, 1, (1, max_det)).astype(np.float32))[:, ::-1].copy()
    return {"num_dets": np.array([[n]], np.int32), "boxes": boxes, "scores": scores,
            "classes": rng.integers(0, 80, (1, max_det)).astype(np.int32)}


def test_detect_show_prints_the_best_n_and_counts_the_rest(capsys):
    task = tasks.get("detect")
    image = picture(64, 64, 1)
    _, state = task.preprocess({}, image, (64, 64))
    drawn = task.show({}, nms_outputs(37), 0, "a.jpg", image, state, names.COCO, draw=True, limit=5)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "a.jpg: 37 detections" and lines[-1] == "  ... and 32 more" and len(lines) == 7
    assert all(line.split()[0] in " ".join(names.COCO) for line in lines[1:6])
    assert drawn.shape == image.shape and not np.array_equal(drawn, image)
    assert task.show({}, nms_outputs(3), 0, "b.jpg", image, state, None, draw=False, limit=5) is None
    assert capsys.readouterr().out.count("\n") == 4  # the header and 3 detections, no "more" line


def test_classify_draws_nothing_and_segment_bounds_its_histogram(capsys):
    logits = np.zeros((1, 1000), np.float32)
    logits[0, [1, 2]] = [5, 4]
    meta = {"outputs": ["logits"]}
    assert tasks.get("classify").show(meta, {"logits": logits}, 0, "c.png", None, None, names.IMAGENET,
                                      draw=True) is None
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "c.png: top-5" and lines[1].split()[2:] == ["goldfish"] and len(lines) == 6
    assert not tasks.get("classify").draws and tasks.get("segment").draws
    seg = np.random.default_rng(0).standard_normal((1, 12, 8, 8)).astype(np.float32)
    tasks.get("segment").show(meta, {"logits": seg}, 0, "s.png", picture(16, 16, 2), None, None, draw=False,
                              limit=3)
    line = capsys.readouterr().out.strip()
    assert line.startswith("s.png: 16x16 mask, classes: ") and line.count("%") == 3
    assert line.endswith("more") and ", ... and " in line


def test_standard_names_only_for_the_matching_class_count():
    assert len(names.COCO) == 80 and names.COCO[0] == "person" and names.COCO[79] == "toothbrush"
    assert len(names.IMAGENET) == 1000 and names.IMAGENET[0] == "tench" and len(set(names.IMAGENET)) == 1000
    assert tasks.get("detect").default_names(80) == names.COCO
    assert tasks.get("detect").default_names(20) is None
    assert tasks.get("classify").default_names(1000) == names.IMAGENET
    assert tasks.get("classify").default_names(80) is None and tasks.get("segment").default_names(150) is None


@pytest.mark.parametrize("value, expected", [
    (json.dumps(["cat", "dog"]), ["cat", "dog"]),
    (json.dumps({"1": "dog", "0": "cat"}), ["cat", "dog"]),  # YOLO's model.names, as gen_wts stores it
    (["cat", "dog"], ["cat", "dog"]),
    ({0: "cat", 1: "dog"}, ["cat", "dog"]),
])
def test_names_from_weights_metadata(value, expected):
    assert names.from_metadata({"names": value}) == expected


@pytest.mark.parametrize("value, message", [
    ('{"0": "cat", "2": "dog"}', "indices must be 0..1 without gaps"),
    ("not json", "not a JSON list or mapping"),
    ("[]", "non-empty list"),
    ('[["nested"]]', "must be a string"),
    ('{"a": "cat"}', "integer indices"),
])
def test_bad_names_metadata_is_one_line(value, message):
    with pytest.raises(UserError, match=message):
        names.from_metadata({"names": value})
    assert names.from_metadata({}) is None and names.from_metadata(None) is None


def test_names_files(tmp_path):
    (tmp_path / "n.txt").write_text("cat\n dog \n\n\n")
    (tmp_path / "n.json").write_text('["cat", "dog"]')
    (tmp_path / "n.yaml").write_text("path: x\nnames:\n  0: cat\n  1: dog\n")
    for f in ("n.txt", "n.json", "n.yaml"):
        assert names.read_file(tmp_path / f) == ["cat", "dog"], f
    assert names.check_count(["a", "b"], 2, "f") == ["a", "b"]
    with pytest.raises(UserError, match="f: 2 class names, but the model has 3 classes"):
        names.check_count(["a", "b"], 3, "f")
    with pytest.raises(UserError, match="is a directory"):
        names.read_file(tmp_path)
    (tmp_path / "bad.json").write_text("[1,")
    with pytest.raises(UserError, match="bad.json: invalid JSON"):
        names.read_file(tmp_path / "bad.json")
    (tmp_path / "bin.txt").write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(UserError, match="not a text file"):
        names.read_file(tmp_path / "bin.txt")
    assert names.label(3, ["a"]) == "3" and names.label(0, ["a"]) == "a" and names.label(-1, ["a"]) == "-1"


def test_unreadable_images_are_one_line_errors(tmp_path):
    from PIL import Image
    Image.fromarray(picture(40, 50, 3)).save(tmp_path / "ok.png")
    data = (tmp_path / "ok.png").read_bytes()
    (tmp_path / "truncated.png").write_bytes(data[:len(data) // 2])
    (tmp_path / "text.jpg").write_text("not an image")
    (tmp_path / "huge.png").write_bytes(png_header_only(20000, 20000))
    assert im.read_image(tmp_path / "ok.png").shape == (40, 50, 3)
    for name, message in [("truncated.png", "damaged or truncated image"), ("text.jpg", "not an image"),
                          ("huge.png", "too large to read safely"), ("missing.png", "no such file")]:
        with pytest.raises(UserError) as e:
            im.read_image(tmp_path / name)
        assert str(e.value).startswith(f"{tmp_path / name}: {message}") and "\n" not in str(e.value)


def test_a_bad_image_among_many_is_skipped_with_a_warning(tmp_path, capsys):
    from PIL import Image
    Image.fromarray(picture(8, 8, 4)).save(tmp_path / "a.png")
    (tmp_path / "b.png").write_text("junk")
    read = list(im.read_images([tmp_path / "a.png", tmp_path / "b.png"], skip_bad=True))
    assert [p for p, _ in read] == [tmp_path / "a.png"]
    assert f"warning: skipped {tmp_path / 'b.png'}: not an image" in capsys.readouterr().err
    with pytest.raises(UserError, match="b.png: not an image"):
        list(im.read_images([tmp_path / "b.png"], skip_bad=False))


def test_agreement_columns_are_what_agreement_returns():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((4, 10)).astype(np.float32)
    meta = {"outputs": ["logits"], "num_classes": 10}
    got = tasks.get("classify").agreement(meta, None, None, {"logits": logits}, {"logits": logits})
    assert got == {"top1_agreement": 1.0} and set(tasks.get("classify").columns) <= set(got)
    seg = rng.standard_normal((2, 10, 4, 4)).astype(np.float32)
    got = tasks.get("segment").agreement(meta, None, None, {"logits": seg}, {"logits": seg})
    assert got["pixel_agreement"] == 1.0 and got["miou"] == 1.0
    outs = [nms_outputs(5)]
    got = tasks.get("detect").agreement(meta, outs, outs, None, None)
    assert got["map50"] == pytest.approx(1.0) and got["detections"] == 5
    assert set(tasks.get("detect").columns) <= set(got)


def pose_obb_outputs():
    """One image's NMS outputs of a pose and of an OBB engine, two detections each, in input (letterboxed) pixels."""
    kpts = np.zeros((1, 3, 17, 3), np.float32)
    kpts[0, :2, :, 0] = np.linspace(20, 60, 17)
    kpts[0, :2, :, 1] = 40
    kpts[0, :2, :, 2] = 0.9
    kpts[0, 1, :, :2] += 5
    kpts[0, 0, 3, 2] = 0.1  # one hidden keypoint
    pose = {"num_dets": np.array([[2]]), "boxes": np.array([[[10, 10, 70, 90], [15, 15, 75, 95], [0, 0, 0, 0]]],
                                                             np.float32),
            "scores": np.array([[0.9, 0.6, 0]], np.float32), "classes": np.array([[0, 0, -1]]), "keypoints": kpts}
    obb = {"num_dets": np.array([[2]]),
           "boxes": np.array([[[40, 40, 30, 10, 0.5], [20, 60, 8, 8, 1.2], [0, 0, 0, 0, 0]]], np.float32),
           "scores": np.array([[0.8, 0.4, 0]], np.float32), "classes": np.array([[1, 14, -1]])}
    return pose, obb


def test_pose_and_obb_tasks_print_draw_and_agree(capsys):
    """Letterboxed as detection; pose prints each person's visible keypoints and draws the skeleton, OBB prints
    centre, sides and angle with DOTA names (15 classes) and draws rotated outlines; agreement with themselves is
    perfect."""
    pose_task, obb_task = tasks.get("pose"), tasks.get("obb")
    image = picture(100, 100, 3)
    x, state = pose_task.preprocess({}, image, (128, 128))
    np.testing.assert_array_equal(x, tasks.get("detect").preprocess({}, image, (128, 128))[0])
    pose, obb = pose_obb_outputs()
    drawn = pose_task.show({}, pose, 0, "p.jpg", image, state, ["person"], True)
    printed = capsys.readouterr().out
    assert "p.jpg: 2 detections" in printed and "16/17 keypoints visible" in printed
    assert "left_shoulder" in printed and drawn.shape == image.shape and (drawn != image).any()
    names = obb_task.default_names(15)
    assert names[1] == "ship" and obb_task.default_names(80) is None
    drawn = obb_task.show({}, obb, 0, "o.jpg", image, state, names, True, limit=1)
    printed = capsys.readouterr().out
    assert "ship" in printed and "angle" in printed and "... and 1 more" in printed
    assert drawn.shape == image.shape and (drawn != image).any()
    assert obb_task.show({}, obb, 0, "o.jpg", image, state, names, False) is None
    got = pose_task.agreement({}, [pose], [pose], None, None)
    assert got["oks"] == pytest.approx(1.0) and set(pose_task.columns) <= set(got)
    got = obb_task.agreement({}, [obb], [obb], None, None)
    assert got["map50"] == 1.0 and set(obb_task.columns) <= set(got)
