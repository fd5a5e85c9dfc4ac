"""The TensorRT Cookbook's MNIST network (cookbook/04-Feature/EngineInspector), as a netdef for the tests: the
layers of shared/real_engines/mnist-h100-trt10.16-fp16.inspector.log, named like the PyTorch module they stand for.

conv1 5x5 (32) + relu, max pool 2, conv2 5x5 (64) + relu, max pool 2, flatten, fc1 (1024) + relu, fc2 (10) -> y;
softmax, argmax -> z (int64). Test-only: not a registry family.
"""
from netdefs.layers.net import Net
from netdefs.layers.ops import activation, cast, conv2d, flatten, linear, pool, reshape, softmax, topk
from netdefs.runtime.demo import DemoWeights


def define(trt, batch=1):
    network = trt.Builder(trt.Logger(trt.Logger.ERROR)).create_network()
    net = Net(trt, network, DemoWeights())
    x = net.input("x", (batch, 1, 28, 28))
    y = activation(net, conv2d(net, x, "conv1", 32, 5, p=2), "relu1", "relu")
    y = pool(net, y, "pool1", "max", 2, 2)
    y = activation(net, conv2d(net, y, "conv2", 64, 5, p=2), "relu2", "relu")
    y = pool(net, y, "pool2", "max", 2, 2)
    y = flatten(net, y, "flatten")
    y = activation(net, linear(net, y, "fc1", 1024), "relu3", "relu")
    logits = linear(net, y, "fc2", 10)
    net.output(logits, "y")
    _, index = topk(net, softmax(net, logits, "softmax", axis=1), "argmax", 1, axis=1)
    z = cast(net, reshape(net, index, "argmax.squeeze", (batch,)), "argmax.int64", "int64")
    z.name = "z"
    network.mark_output(z)
    return net
