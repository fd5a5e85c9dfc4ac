"""WeightStore: lookups by state_dict name, checked against the shape the network needs."""
import math
import warnings

import numpy as np
import pytest

import weights
from weights import (MissingWeightsError, NonFiniteError, ShapeMismatchError, UnusedWeightsError,
                     UnusedWeightsWarning, WeightStore)


def sd():
    return {"model.0.conv.weight": np.arange(32 * 3 * 6 * 6, dtype=np.float32).reshape(32, 3, 6, 6),
            "model.0.bn.weight": np.ones(32, np.float32),
            "model.0.bn.num_batches_tracked": np.array(5, np.int64),
            "model.24.m.0.weight": np.zeros((75, 128, 1, 1), np.float32)}


def yolov5_hint(name, expected, found):
    """The kind of hint a network definition gives: which class count the detection weights have."""
    if ".m." in name and name.endswith(".weight"):
        rows = math.prod(found) // math.prod(expected[1:])
        return (f"the weights have {rows // 3 - 5} classes ({rows} = 3x(5+{rows // 3 - 5})), "
                f"the network was asked for {expected[0] // 3 - 5}")
    return None


def test_get_checks_shape_and_converts_dtype():
    store = WeightStore(sd())
    w = store.get("model.0.conv.weight", (32, 3, 6, 6))
    assert w.dtype == np.float32 and w.flags.c_contiguous
    h = store.get("model.0.bn.weight", [32], dtype=np.float16)
    assert h.dtype == np.float16
    assert store.get("model.0.bn.num_batches_tracked", None, dtype=None).dtype == np.int64
    assert store.has("model.0.bn.weight") and not store.has("nope")
    assert store.names("model.0.") == ["model.0.conv.weight", "model.0.bn.weight", "model.0.bn.num_batches_tracked"]
    assert store.shape("model.24.m.0.weight") == (75, 128, 1, 1)


def test_flat_wts_tensors_are_reshaped(tmp_path):
    weights.save_wts(sd(), tmp_path / "x.wts")
    store = WeightStore(weights.load(tmp_path / "x.wts"))
    assert store.shape("model.0.conv.weight") == (32 * 3 * 6 * 6,)
    w = store.get("model.0.conv.weight", (32, 3, 6, 6))
    np.testing.assert_array_equal(w, sd()["model.0.conv.weight"])
    with pytest.raises(ShapeMismatchError) as e:
        store.get("model.0.bn.weight", (16,))
    assert str(e.value) == f"{tmp_path / 'x.wts'}: tensor 'model.0.bn.weight': expected shape (16,), found (32,)"
    with pytest.raises(ShapeMismatchError) as e:
        store.get("model.0.conv.weight", (16, 3, 6, 6))
    assert "expected shape (16, 3, 6, 6) (1728 values), found 3456 values" in str(e.value)


def test_shape_mismatch_names_the_variant_that_fits(tmp_path):
    store = WeightStore(sd(), variant_hints=yolov5_hint, source="yolov5s.wts")
    with pytest.raises(ShapeMismatchError) as e:
        store.get("model.24.m.0.weight", (255, 128, 1, 1))
    assert str(e.value) == ("yolov5s.wts: tensor 'model.24.m.0.weight': expected shape (255, 128, 1, 1), found "
                            "(75, 128, 1, 1): the weights have 20 classes (75 = 3x(5+20)), the network was asked "
                            "for 80")
    weights.save_wts(sd(), tmp_path / "x.wts")  # flat: the hint still works from the count
    store = WeightStore(weights.load(tmp_path / "x.wts"), variant_hints=yolov5_hint)
    with pytest.raises(ShapeMismatchError, match=r"found 9600 values: the weights have 20 classes"):
        store.get("model.24.m.0.weight", (255, 128, 1, 1))
    # a hint for one lookup comes first
    with pytest.raises(ShapeMismatchError, match=r"\(32,\): n vs s"):
        store.get("model.0.bn.weight", (16,), hint=lambda expected, found: "n vs s")


def test_missing_weights_raise_at_once_and_suggest_names():
    store = WeightStore({"module.conv.weight": np.ones((2, 1, 1, 1), np.float32)})
    with pytest.raises(MissingWeightsError) as e:
        store.get("conv.weight", (2, 1, 1, 1))
    assert e.value.names == ["conv.weight"]
    assert str(e.value) == ("weights: tensor 'conv.weight': missing from the weights (the network needs shape "
                            "(2, 1, 1, 1)); similar names in the weights: module.conv.weight")
    with pytest.raises(MissingWeightsError, match="1 weights the network needs are missing: conv.weight"):
        store.finish()  # a caller that swallowed the error still cannot finish


def test_unused_weights_warn_by_default_and_fail_when_strict():
    store = WeightStore(sd())
    store.get("model.0.conv.weight", (32, 3, 6, 6))
    store.mark_used("model.0.bn.num_batches_tracked", "not.there")
    with pytest.warns(UnusedWeightsWarning, match=r"2 of 4 weights were not used by the network: model.0.bn.weight, "
                                                  r"model.24.m.0.weight \(strict makes this an error\)"):
        assert store.finish() == ["model.0.bn.weight", "model.24.m.0.weight"]
    strict = WeightStore(sd(), strict=True, source="s.wts")
    strict.mark_used(*sd())
    strict.finish()
    strict = WeightStore(sd(), strict=True, source="s.wts")
    with pytest.raises(UnusedWeightsError) as e:
        strict.finish()
    assert len(e.value.names) == 4 and str(e.value).startswith("s.wts: 4 of 4 weights were not used")


def test_all_used_finishes_quietly():
    store = WeightStore({"a": np.ones(1)})
    store.get("a", (1,))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert store.finish() == []


def test_nonfinite_and_float16_overflow_are_refused():
    store = WeightStore({"nan": np.array([0, np.nan], np.float32), "big": np.array([1e5], np.float32)})
    with pytest.raises(NonFiniteError, match=r"tensor 'nan': value 2 of 2 is nan"):
        store.get("nan", (2,))
    assert store.get("big", (1,))[0] == 1e5
    with pytest.raises(NonFiniteError, match=r"tensor 'big': value 1 of 1 \(100000.0\) does not fit in float16"):
        store.get("big", (1,), dtype=np.float16)
