"""Atomic output files: readers never see a half-written weights file, even after Ctrl-C or a crash."""
import contextlib
import os
import tempfile

from .errors import WeightsError, located


@contextlib.contextmanager
def atomic_output(path):
    """Yield a binary file object; on success it replaces `path` whole, on any exception (KeyboardInterrupt
    included) it is removed and `path` is left as it was.

    The temporary file sits in the destination directory so that `os.replace` is a rename on one file system.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    except OSError as e:  # no such directory, no permission: name the file asked for, not the temporary one
        raise WeightsError(located(f"cannot write: {e.strerror or e}", path)) from None
    try:
        with os.fdopen(fd, "wb") as f:
            # mkstemp creates the file 0600; a weights file should get the permissions any new file gets.
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
            yield f
            f.flush()
            os.fsync(f.fileno())
        try:
            os.replace(tmp, path)
        except OSError as e:  # e.g. `path` is a directory
            raise WeightsError(located(f"cannot write: {e.strerror or e}", path)) from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


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
