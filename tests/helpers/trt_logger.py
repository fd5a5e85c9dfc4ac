"""A logger for reftrt tests: records TensorRT's messages to assert on errors and warnings."""
import reftrt as trt


class Recorder(trt.ILogger):
    def __init__(self):
        trt.ILogger.__init__(self)
        self.messages = []

    def log(self, severity, msg):
        self.messages.append((severity, msg))

    def errors(self):
        return [m for s, m in self.messages if s in (trt.ILogger.ERROR, trt.ILogger.INTERNAL_ERROR)]

    def warnings(self):
        return [m for s, m in self.messages if s == trt.ILogger.WARNING]
