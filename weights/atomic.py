"""Atomic output files: readers never see a half-written file, even after Ctrl-C, SIGTERM, SIGHUP or a crash.

    from weights.atomic import atomic_output, atomic_write
    with atomic_output("model.plan") as f:       # "w" for text
        f.write(data)
    atomic_write("model.json", text)             # str or bytes

Shared by everything in the project that writes weights, engines, caches or images.
"""
import contextlib
import os
import signal
import stat
import tempfile
import threading

from .errors import WeightsError, located

# Signals that, by default, end the process without running `finally` blocks: while a write is under way they are
# turned into an exception, so that the temporary file is removed, then delivered again as they came.
CAUGHT_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


class _Signalled(BaseException):
    """SIGTERM / SIGHUP arrived during an atomic write (a BaseException: `except Exception` must not swallow it)."""

    def __init__(self, signum):
        super().__init__(f"signal {signum}")
        self.signum = signum


@contextlib.contextmanager
def atomic_output(path, mode="wb"):
    """Yield a file object (binary for "wb", UTF-8 text for "w"); on success the data replaces `path` whole,
    on any exception (KeyboardInterrupt, SIGTERM and SIGHUP included) the temporary file is removed and `path` is
    left as it was.

    The temporary file sits in the destination's directory (a rename on one file system), is fsynced, then
    `os.replace`d over the destination, and the directory is fsynced. An existing destination keeps its
    permissions; a new one gets those any new file gets.

    A symlink is followed: the link stays and its target is replaced atomically (as `open(path, "w")` writes
    through the link). An existing destination that is not a regular file (a directory, a FIFO, a device such as
    /dev/null or /dev/full, a socket) is refused with a one-line `WeightsError` naming it: replacing it would
    swap a special file for a regular one.
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_output: mode must be 'wb' or 'w', not {mode!r}")
    path = os.fspath(path)
    target = os.path.realpath(path)  # through symlinks: the link stays a link to the new file
    try:
        existing = os.stat(target)
    except FileNotFoundError:
        existing = None
    except OSError as e:
        raise WeightsError(located(f"cannot write: {e.strerror or e}", path)) from None
    if existing is not None and not stat.S_ISREG(existing.st_mode):
        kind = next((name for test, name in _KINDS if test(existing.st_mode)), "not a regular file")
        raise WeightsError(located(f"cannot write: the output exists and is {kind}, not a regular file", path))
    directory = os.path.dirname(target)
    with _signals_as_exceptions():
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.", suffix=".tmp", dir=directory)
        except OSError as e:  # no such directory, no permission: name the file asked for, not the temporary one
            raise WeightsError(located(f"cannot write: {e.strerror or e}", path)) from None
        try:
            # mkstemp creates the file 0600; the output should keep its permissions, or get a new file's.
            os.chmod(tmp, stat.S_IMODE(existing.st_mode) if existing else 0o666 & ~_umask())
            with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as f:
                yield f
                f.flush()
                os.fsync(f.fileno())
            try:
                os.replace(tmp, target)
            except OSError as e:
                raise WeightsError(located(f"cannot write: {e.strerror or e}", path)) from None
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    _fsync_directory(directory)


def atomic_write(path, data):
    """Write `data` (bytes, or str as UTF-8) to `path` whole or not at all; see `atomic_output`."""
    with atomic_output(path, "w" if isinstance(data, str) else "wb") as f:
        f.write(data)


@contextlib.contextmanager
def _signals_as_exceptions():
    """SIGTERM / SIGHUP raise `_Signalled` inside the block, then are sent again with the previous handlers back,
    so the process ends as it would have (exit status included). Only signals left at their default disposition
    are taken: an ignored SIGHUP (nohup) stays ignored, and a program's own handler stays in charge. Python
    allows handlers in the main thread only; elsewhere the block runs unprotected."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    signalled = []

    def handler(signum, frame):
        if not signalled:  # a second signal during the clean-up must not interrupt it
            signalled.append(signum)
            raise _Signalled(signum)

    previous = {}
    try:
        for signum in CAUGHT_SIGNALS:
            if signal.getsignal(signum) == signal.SIG_DFL:
                previous[signum] = signal.signal(signum, handler)
        yield
    except _Signalled as e:
        if e.signum not in previous:
            raise  # an inner write's signal: the outermost one sends it again
        _restore(previous)
        previous = {}
        os.kill(os.getpid(), e.signum)
        raise  # only reached if the signal did not end the process
    finally:
        _restore(previous)


def _restore(previous):
    for signum, old in previous.items():
        signal.signal(signum, old)


def _umask():
    umask = os.umask(0)
    os.umask(umask)
    return umask


def _fsync_directory(directory):
    # Makes the rename itself durable; not possible (nor needed) everywhere, e.g. on Windows.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
