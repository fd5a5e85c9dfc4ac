"""ILogger, the stock Logger, and `log`, the one way reftrt reports a message to a user's logger."""
import sys
import time

from ._enums import Severity


def _severity_arg(value, what):
    if not isinstance(value, Severity):
        raise TypeError(f"{what}: expected trt.ILogger.Severity, got {type(value).__name__} {value!r}")
    return value


class ILogger:
    """Base for user loggers: subclass it and override `log(severity, msg)`."""

    Severity = Severity
    INTERNAL_ERROR, ERROR, WARNING, INFO, VERBOSE = (Severity.INTERNAL_ERROR, Severity.ERROR, Severity.WARNING,
                                                     Severity.INFO, Severity.VERBOSE)

    def __init__(self):
        pass

    def log(self, severity, msg):
        # Pure virtual in TensorRT: its bindings report the missing override and carry on.
        print('[ERROR] Exception caught in log(): Tried to call pure virtual function "ILogger::log"',
              file=sys.stderr, flush=True)


class Logger(ILogger):
    """The stock logger: prints messages at or above `min_severity` to stdout, formatted like TensorRT's."""

    _TAGS = {0: "F", 1: "E", 2: "W", 3: "I", 4: "V"}

    def __init__(self, min_severity=Severity.WARNING):
        super().__init__()
        self._min_severity = _severity_arg(min_severity, "Logger()")

    @property
    def min_severity(self):
        return self._min_severity

    @min_severity.setter
    def min_severity(self, value):
        self._min_severity = _severity_arg(value, "Logger.min_severity")

    def log(self, severity, msg):
        _severity_arg(severity, "Logger.log")
        if isinstance(msg, bytes):
            msg = msg.decode()
        elif not isinstance(msg, str):
            raise TypeError(f"Logger.log: expected a str message, got {type(msg).__name__}")
        if int(severity) <= int(self._min_severity):
            stamp = time.strftime("%m/%d/%Y-%H:%M:%S")
            print(f"[{stamp}] [TRT] [{self._TAGS[int(severity)]}] {msg}", file=sys.stdout, flush=True)


def log(logger, severity, message):
    if logger is not None:
        logger.log(severity, message)
