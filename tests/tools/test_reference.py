"""netdefs/reference.py, the upstream models tools/compare.py and tools/accuracy.py compare against: configured from
the published configurations (never from the netdefs' own tables), equal to the test suite's references."""
import numpy as np
import torch

from tests.helpers.ref_segformer import PUBLISHED, segformer_model
from tests.helpers.refmodels import state_dict_arrays, yolov5_v50_model

from netdefs.analysis import reference


def test_segformer_configs_agree_with_the_tests_transcription():
    """Two transcriptions of the nvidia/mit-b0 ... b5 configs (here and in tests/helpers/ref_segformer.py)."""
    assert sorted(reference.SEGFORMER_PUBLISHED) == sorted(PUBLISHED)
    for variant, config in reference.SEGFORMER_PUBLISHED.items():
        for key, value in config.items():
            assert PUBLISHED[variant][key] == value, (variant, key)


def _same_outputs(a, b, x):
    with torch.no_grad():
        ya, yb = a(torch.from_numpy(x)), b(torch.from_numpy(x))
    ya, yb = getattr(ya, "logits", ya), getattr(yb, "logits", yb)
    ya, yb = (ya[0], yb[0]) if isinstance(ya, (tuple, list)) else (ya, yb)
    np.testing.assert_array_equal(ya.numpy(), yb.numpy())


def test_segformer_reference_is_the_tests_model():
    model = segformer_model("segformer-b0", seed=2, num_labels=5)
    ref = reference.reference_model("segformer-b0", state_dict_arrays(model))
    assert ref.config.num_attention_heads == [1, 2, 5, 8] and ref.config.sr_ratios == [8, 4, 2, 1]
    _same_outputs(ref, model, np.random.default_rng(0).standard_normal((1, 3, 64, 64)).astype(np.float32))


def test_yolov5_v50_reference_is_the_published_yaml():
    model = yolov5_v50_model(seed=4)
    ref = reference.reference_model("yolov5n-v5.0", state_dict_arrays(model))  # strict: names and shapes
    assert [type(m).__name__ for m in ref.model] == [type(m).__name__ for m in model.model]
    assert type(ref.model[0]).__name__ == "Focus" and type(ref.model[8]).__name__ == "SPP"
    _same_outputs(ref, model, np.random.default_rng(1).random((1, 3, 64, 64), dtype=np.float32))
