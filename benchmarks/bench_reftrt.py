"""reftrt vs PyTorch eager on the CPU: a ResNet-50-sized conv network.

Goal: running a ResNet-50-sized conv network through reftrt on the CPU takes at most 1.1x the time of the same
PyTorch model in eager mode.

The PyTorch side is torchvision's resnet50 (weights=None, eval, with randomised BatchNorm statistics and affine
parameters, so BN is not an identity), run under `torch.inference_mode()`. The reftrt side is the same network
written with the TensorRT API, as a netdef would write it:

    convolution (add_convolution_nd, no bias) + BatchNorm as IScaleLayer CHANNEL (scale = gamma / sqrt(var + eps),
    shift = beta - mean * scale; `--bn fold` folds it into the convolution's kernel and bias instead),
    ReLU as IActivationLayer, max pool as IPoolingLayer, the residual add as IElementWiseLayer SUM,
    global average pool as IReduceLayer AVG over H, W, and the classifier as IMatrixMultiplyLayer (x @ W^T, W a
    constant with MatrixOperation.TRANSPOSE) + IElementWiseLayer SUM with the bias.

It is built once with a dynamic batch (profile 1..max batch), serialized, deserialized, and run with
`execute_async_v3` on host buffers. Both sides run in one process with the same `torch.set_num_threads`, each
repetition timing PyTorch then reftrt (interleaved, so machine noise hits both); the medians and their ratio are
reported. Outputs are compared first (fp32, TF32 off): max |reftrt - torch| / max |torch| <= 1e-4.

    python benchmarks/bench_reftrt.py [--model resnet50] [--batch 1 8] [--size 224] [--reps 10] [--threads N]
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import reftrt as trt  # noqa: E402

GOAL = 1.1
TOLERANCE = 1e-4


def torch_model(name, seed):
    import torchvision
    torch.manual_seed(seed)
    model = getattr(torchvision.models, name)(weights=None).eval()
    generator = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                n = m.num_features
                m.running_mean.copy_(torch.randn(n, generator=generator) * 0.1)
                m.running_var.copy_(torch.rand(n, generator=generator) * 0.5 + 0.75)
                m.weight.copy_(torch.rand(n, generator=generator) * 0.5 + 0.75)
                m.bias.copy_(torch.randn(n, generator=generator) * 0.1)
    return model


def _np(t):
    return np.ascontiguousarray(t.detach().cpu().numpy().astype(np.float32))


class _Builder:
    """Writes a torchvision ResNet with the TensorRT network API."""

    def __init__(self, network, bn_mode):
        self.network, self.bn_mode = network, bn_mode

    def conv_bn(self, x, conv, bn, relu):
        w = conv.weight.detach().double()
        bias = None
        scale = (bn.weight.detach().double() / torch.sqrt(bn.running_var.double() + bn.eps))
        shift = bn.bias.detach().double() - bn.running_mean.double() * scale
        if self.bn_mode == "fold":
            w = w * scale.reshape(-1, 1, 1, 1)
            bias = _np(shift)
        layer = self.network.add_convolution_nd(x, conv.out_channels, conv.kernel_size, _np(w), bias)
        layer.stride_nd = conv.stride
        layer.padding_nd = conv.padding
        layer.num_groups = conv.groups
        y = layer.get_output(0)
        if self.bn_mode == "scale":
            y = self.network.add_scale(y, trt.ScaleMode.CHANNEL, _np(shift), _np(scale)).get_output(0)
        if relu:
            y = self.network.add_activation(y, trt.ActivationType.RELU).get_output(0)
        return y

    def block(self, x, block):
        if hasattr(block, "conv3"):  # Bottleneck
            y = self.conv_bn(x, block.conv1, block.bn1, True)
            y = self.conv_bn(y, block.conv2, block.bn2, True)
            y = self.conv_bn(y, block.conv3, block.bn3, False)
        else:  # BasicBlock
            y = self.conv_bn(x, block.conv1, block.bn1, True)
            y = self.conv_bn(y, block.conv2, block.bn2, False)
        identity = x
        if block.downsample is not None:
            identity = self.conv_bn(x, block.downsample[0], block.downsample[1], False)
        s = self.network.add_elementwise(y, identity, trt.ElementWiseOperation.SUM).get_output(0)
        return self.network.add_activation(s, trt.ActivationType.RELU).get_output(0)

    def resnet(self, model, x):
        net = self.network
        y = self.conv_bn(x, model.conv1, model.bn1, True)
        pool = net.add_pooling_nd(y, trt.PoolingType.MAX, model.maxpool.kernel_size if isinstance(
            model.maxpool.kernel_size, tuple) else (model.maxpool.kernel_size,) * 2)
        pool.stride_nd = (model.maxpool.stride,) * 2
        pool.padding_nd = (model.maxpool.padding,) * 2
        y = pool.get_output(0)
        for stage in (model.layer1, model.layer2, model.layer3, model.layer4):
            for block in stage:
                y = self.block(y, block)
        y = net.add_reduce(y, trt.ReduceOperation.AVG, (1 << 2) | (1 << 3), False).get_output(0)
        fc_w = net.add_constant(tuple(model.fc.weight.shape), _np(model.fc.weight)).get_output(0)
        y = net.add_matrix_multiply(y, trt.MatrixOperation.NONE, fc_w, trt.MatrixOperation.TRANSPOSE).get_output(0)
        fc_b = net.add_constant((1, model.fc.out_features), _np(model.fc.bias).reshape(1, -1)).get_output(0)
        return net.add_elementwise(y, fc_b, trt.ElementWiseOperation.SUM).get_output(0)


def build_engine(model, size, max_batch, bn_mode):
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network()
    x = network.add_input("images", trt.float32, (-1, 3, size, size))
    y = _Builder(network, bn_mode).resnet(model, x)
    y.name = "logits"
    network.mark_output(y)
    config = builder.create_builder_config()
    profile = builder.create_optimization_profile()
    profile.set_shape("images", (1, 3, size, size), (max_batch, 3, size, size), (max_batch, 3, size, size))
    config.add_optimization_profile(profile)
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise SystemExit("bench_reftrt: the reftrt network failed to build (see the log above)")
    engine = trt.Runtime(logger).deserialize_cuda_engine(plan)
    return engine, network.num_layers


class ReftrtRunner:
    def __init__(self, engine, batch, size, num_classes):
        self.context = engine.create_execution_context()
        self.input = np.zeros((batch, 3, size, size), np.float32)
        self.output = np.zeros((batch, num_classes), np.float32)
        assert self.context.set_input_shape("images", self.input.shape)
        self.context.set_tensor_address("images", self.input.ctypes.data)
        self.context.set_tensor_address("logits", self.output.ctypes.data)

    def __call__(self, images):
        self.input[...] = images
        if not self.context.execute_async_v3(0):
            raise SystemExit("bench_reftrt: reftrt execution failed")
        return self.output


def run(model_name="resnet50", batches=(1, 8), size=224, reps=10, threads=None, bn_mode="scale", seed=0,
        warmup=2, out=sys.stdout):
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    if threads:
        torch.set_num_threads(threads)
    threads = torch.get_num_threads()
    model = torch_model(model_name, seed)
    start = time.perf_counter()
    engine, num_layers = build_engine(model, size, max(batches), bn_mode)
    build_s = time.perf_counter() - start
    rows = []
    rng = np.random.default_rng(seed)
    for batch in batches:
        images = rng.standard_normal((batch, 3, size, size)).astype(np.float32)
        runner = ReftrtRunner(engine, batch, size, model.fc.out_features)
        with torch.inference_mode():
            reference = model(torch.from_numpy(images)).numpy()
        got = runner(images)
        error = float(np.abs(got - reference).max() / max(np.abs(reference).max(), 1e-30))
        if not error <= TOLERANCE:
            raise SystemExit(f"bench_reftrt: {model_name} batch {batch}: reftrt and PyTorch differ, max relative "
                             f"error {error:.3g} > {TOLERANCE}")
        x = torch.from_numpy(images)
        wall = {"torch": [], "reftrt": []}
        cpu = {"torch": [], "reftrt": []}
        for i in range(warmup + reps):
            for side in ("torch", "reftrt"):
                w0, c0 = time.perf_counter(), time.process_time()
                if side == "torch":
                    with torch.inference_mode():
                        model(x)
                else:
                    runner(images)
                if i >= warmup:
                    wall[side].append(time.perf_counter() - w0)
                    cpu[side].append(time.process_time() - c0)
        t_torch, t_reftrt = statistics.median(wall["torch"]), statistics.median(wall["reftrt"])
        rows.append({"model": model_name, "batch": batch, "size": size, "threads": threads, "bn": bn_mode,
                     "torch_ms": t_torch * 1e3, "reftrt_ms": t_reftrt * 1e3, "ratio": t_reftrt / t_torch,
                     "cpu_ratio": statistics.median(cpu["reftrt"]) / max(statistics.median(cpu["torch"]), 1e-9),
                     "max_rel_err": error, "reps": reps})
    print(f"{model_name} {size}x{size}: reftrt network of {num_layers} layers (BN as "
          f"{'IScaleLayer' if bn_mode == 'scale' else 'folded conv weights'}), built in {build_s:.1f}s; "
          f"torch {torch.__version__}, {threads} threads, median of {reps} runs", file=out)
    header = (f"{'batch':>5}  {'PyTorch eager ms':>16}  {'reftrt ms':>10}  {'ratio':>6}  {'goal':>5}  "
              f"{'CPU-time ratio':>14}  {'max rel err':>11}")
    print(header, file=out)
    print("-" * len(header), file=out)
    for r in rows:
        verdict = "ok" if r["ratio"] <= GOAL else "SLOW"
        print(f"{r['batch']:>5}  {r['torch_ms']:>16.2f}  {r['reftrt_ms']:>10.2f}  {r['ratio']:>6.3f}  "
              f"{verdict:>5}  {r['cpu_ratio']:>14.3f}  {r['max_rel_err']:>11.2e}", file=out)
    print(f"ratio: median wall-clock time of reftrt / PyTorch (goal <= {GOAL}); CPU-time ratio: the same with the "
          f"process CPU time, less sensitive to other load on the machine", file=out)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="resnet50", help="torchvision ResNet (resnet18/34/50/101/152)")
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--bn", choices=("scale", "fold"), default="scale",
                        help="BatchNorm as an IScaleLayer (default) or folded into the convolution")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not args.model.startswith("resnet"):
        parser.error("--model must be a torchvision ResNet")
    rows = run(args.model, args.batch, args.size, args.reps, args.threads, args.bn, args.seed, args.warmup)
    return 0 if all(r["ratio"] <= GOAL for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
