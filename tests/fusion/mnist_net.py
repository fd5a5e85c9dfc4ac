"""The TensorRT Cookbook's MNIST network (cookbook/04-Feature/EngineInspector), as a netdef for the tests: the
layers of shared/real_engines/mnist-h100-trt10.16-fp16.inspector.log, named like the PyTorch module they stand for.

conv1 5x5 (32) + relu, max pool 2, conv2 5x5 (64) + relu, max pool 2, flatten, fc1 (1024) + relu, fc2 (10) -> y;
softmax, argmax -> z (int64). Test-only: not a registry family.
"""
from netdefs.common import Net, act, conv2d, flatten, linear, maxpool
from netdefs.demo import DemoWeights


def define(trt, batch=1):
    network = trt.Builder(trt.Logger(trt.Logger.ERROR)).create_network()
    net = Net(trt, network, DemoWeights())
    x = net.input("x", (batch, 1, 28, 28))
    y = act(net, conv2d(net, x, "conv1", 32, 5, p=2), "relu1", "relu")
    y = maxpool(net, y, "pool1", 2, 2)
    y = act(net, conv2d(net, y, "conv2", 64, 5, p=2), "relu2", "relu")
    y = maxpool(net, y, "pool2", 2, 2)
    y = flatten(net, y, "flatten")
    y = act(net, linear(net, y, "fc1", 1024), "relu3", "relu")
    logits = linear(net, y, "fc2", 10)
    net.output(logits, "y")
    softmax = network.add_softmax(logits)
    softmax.axes = 1 << 1
    top = network.add_topk(net.named(softmax, "softmax").get_output(0), trt.TopKOperation.MAX, 1, 1 << 1)
    index = net.named(top, "argmax").get_output(1)
    squeeze = network.add_shuffle(index)
    squeeze.reshape_dims = (batch,)
    z = net.named(network.add_cast(net.named(squeeze, "argmax.squeeze").get_output(0), trt.DataType.INT64),
                  "argmax.int64").get_output(0)
    z.name = "z"
    network.mark_output(z)
    return net
