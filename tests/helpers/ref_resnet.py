"""torchvision classifiers (ResNet, MobileNet) and smp's ResNet encoder with seeded random weights, and a builder
for network definitions with extra outputs ("taps") at named tensors, to compare with PyTorch forward hooks."""
import contextlib

import numpy as np
import torch

from tests.helpers.refmodels import randomise, state_dict_arrays  # noqa: F401  (sets the offline environment)


def torchvision_classifier(name, seed=0, num_classes=1000):
    import torchvision
    torch.manual_seed(seed)
    return randomise(getattr(torchvision.models, name)(weights=None, num_classes=num_classes), seed)


def smp_unet(encoder="resnet18", seed=0, classes=2):
    import segmentation_models_pytorch as smp
    torch.manual_seed(seed)
    return randomise(smp.Unet(encoder, encoder_weights=None, classes=classes), seed)


@contextlib.contextmanager
def one_thread():
    """torch on one thread: on this shared, loaded 2-core machine, torch's thread pool spins against other
    processes and a 0.07 s forward takes 4-5 s (measured); restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def hooked(model, x, names):
    """model(x) and the outputs of the submodules `names` (the last call of each), as numpy arrays."""
    seen, handles = {}, []
    modules = dict(model.named_modules())
    for n in names:
        handles.append(modules[n].register_forward_hook(
            lambda m, i, o, n=n: seen.__setitem__(n, o.detach().numpy().copy())))
    with torch.no_grad(), one_thread():
        out = model(torch.from_numpy(x))
    for h in handles:
        h.remove()
    return out, seen


def build_network(define, weights, taps=(), precision="fp32", dynamic=None):
    """Build on reftrt: `define(net)` adds the network (and marks its outputs); every tensor named in `taps` is
    marked as an extra output of that name; `dynamic` {input name: (min, opt, max)} is the optimization profile of
    inputs with -1 dimensions. Returns an Engine."""
    import reftrt as trt
    from netdefs.layers.net import Net
    from netdefs.runtime.backend import Logger
    from netdefs.runtime.engine import Engine
    from weights import WeightStore
    log = Logger(trt).logger
    builder = trt.Builder(log)
    network = builder.create_network(0)
    net = Net(trt, network, WeightStore(weights), precision)
    define(net)
    tensors = {}
    for i in range(network.num_layers):
        layer = network.get_layer(i)
        for j in range(layer.num_outputs):
            tensors[layer.get_output(j).name] = layer.get_output(j)
    for name in taps:
        network.mark_output(tensors[name])
    config = builder.create_builder_config()
    if dynamic:
        profile = builder.create_optimization_profile()
        for name, shapes in dynamic.items():
            profile.set_shape(name, *shapes)
        config.add_optimization_profile(profile)
    plan = builder.build_serialized_network(network, config)
    assert plan is not None, log.errors
    return Engine(plan, {}, "reference", trt=trt)


def rel_err(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-12))
