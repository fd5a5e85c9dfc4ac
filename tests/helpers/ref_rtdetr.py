"""ultralytics' RTDETRDetectionModel built from its own yaml (never from our tables), with seeded random weights and
randomised BatchNorm statistics (tests/helpers/refmodels.py), in eval mode."""
import contextlib
import io
from pathlib import Path

import torch

from tests.helpers.refmodels import randomise


def rtdetr_yaml(name):
    import ultralytics
    return Path(ultralytics.__file__).parent / "cfg" / "models" / "rt-detr" / f"{name}.yaml"


def rtdetr_model(name="rtdetr-l", seed=0, nc=None):
    from ultralytics.nn.tasks import RTDETRDetectionModel
    torch.manual_seed(seed)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        model = RTDETRDetectionModel(str(rtdetr_yaml(name)), nc=nc, verbose=False)
    return randomise(model.float(), seed)


def reference_outputs(model, x):
    """(dec_bboxes, dec_scores logits) of the last decoder layer, and the eval head's (B, nq, 6) top-k output."""
    with torch.no_grad():
        y, (dec_bboxes, dec_scores, *_rest) = model(torch.as_tensor(x))
    return dec_bboxes[-1].numpy(), dec_scores[-1].numpy(), y.numpy()
