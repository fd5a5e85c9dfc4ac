"""segmentation-models-pytorch reference models (smp 0.6), offline with seeded random weights: Unet with a ResNet
encoder and FPN over timm's PoolFormer (`tu-poolformer_s12`). BatchNorm statistics and GroupNorm affines are
randomised (fresh models have BN mean 0 / var 1 and GN weight 1 / bias 0, which hide folding bugs)."""
import functools

import torch

from tests.helpers.refmodels import randomise  # also sets the offline environment and disables TF32


def _randomise(model, seed):
    randomise(model, seed)
    g = torch.Generator().manual_seed(seed + 1000)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.GroupNorm) and m.affine:
                m.weight.copy_(1 + 0.2 * torch.randn(m.weight.shape, generator=g))
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))
    return model.eval()


@functools.lru_cache(maxsize=None)
def unet_model(encoder="resnet18", classes=3, seed=0):
    """smp.Unet(encoder, encoder_weights=None, classes=classes) with seeded random weights, in eval mode (cached:
    tests only run it)."""
    import segmentation_models_pytorch as smp
    torch.manual_seed(seed)
    return _randomise(smp.Unet(encoder, encoder_weights=None, classes=classes), seed)


@functools.lru_cache(maxsize=None)
def fpn_model(encoder="tu-poolformer_s12", classes=3, seed=0):
    """smp.FPN(encoder, encoder_weights=None, classes=classes) with seeded random weights, in eval mode (cached)."""
    import segmentation_models_pytorch as smp
    torch.manual_seed(seed)
    return _randomise(smp.FPN(encoder, encoder_weights=None, classes=classes), seed)


def build_with_probes(model, weights, probes, imgsz=64, batch=2, precision="fp32"):
    """`model` built on reftrt with the tensors named in `probes` (the state_dict-named points a forward hook sees)
    marked as debug tensors, as tools/compare.py does; returns x -> {output or probe name: array}."""
    import reftrt
    from netdefs.runtime.build import build_definition, define
    d = define(model, weights, backend=reftrt, precision=precision, batch=batch, imgsz=imgsz, quiet=True)
    engine = build_definition(d, debug_tensors=list(probes), progress=False, quiet=True)
    return lambda x: engine(x, debug=True)


def hooked_forward(model, x, probes):
    """model(x) and the outputs of the submodules named in `probes` (cloned: smp and torchvision use in-place
    ReLUs)."""
    seen = {}
    handles = [model.get_submodule(p).register_forward_hook(
        lambda m, i, o, p=p: seen.__setitem__(p, o.detach().clone())) for p in probes]
    try:
        with torch.no_grad():
            out = model(torch.from_numpy(x))
    finally:
        for h in handles:
            h.remove()
    return out.numpy(), {k: v.numpy() for k, v in seen.items()}


def one_torch_thread():
    """Generator for a module-scoped fixture: torch (the reference models and reftrt) on one intra-op thread, then
    the previous count. On this project's loaded 2-CPU machines two threads contend and the tests run ~3x slower."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
