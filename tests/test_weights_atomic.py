"""weights.atomic: whole-or-nothing outputs, after exceptions and signals; special files refused; symlinks followed."""
import os
import signal
import stat
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from weights import WeightsError
from weights.atomic import atomic_output, atomic_write

ROOT = Path(__file__).resolve().parents[1]


def test_writes_whole_and_keeps_permissions(tmp_path):
    out = tmp_path / "a.bin"
    atomic_write(out, b"one")
    assert out.read_bytes() == b"one"
    os.chmod(out, 0o640)
    atomic_write(out, "two\n")
    assert out.read_text() == "two\n" and stat.S_IMODE(out.stat().st_mode) == 0o640
    assert os.listdir(tmp_path) == ["a.bin"]


def test_exception_leaves_the_old_output_and_no_temporary(tmp_path):
    out = tmp_path / "a.bin"
    out.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_output(out) as f:
            f.write(b"new, half")
            raise KeyboardInterrupt
    assert out.read_bytes() == b"old" and os.listdir(tmp_path) == ["a.bin"]


def test_text_mode_and_bad_mode(tmp_path):
    with atomic_output(tmp_path / "t.txt", "w") as f:
        f.write("é\n")
    assert (tmp_path / "t.txt").read_bytes() == "é\n".encode()
    with pytest.raises(ValueError, match="mode"):
        with atomic_output(tmp_path / "t.txt", "ab"):
            pass


def test_symlink_is_followed_and_stays_a_link(tmp_path):
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "model.plan"
    target.write_bytes(b"old")
    link = tmp_path / "latest.plan"
    link.symlink_to(target)
    atomic_write(link, b"new")
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_bytes() == b"new"
    assert sorted(os.listdir(tmp_path / "real")) == ["model.plan"]  # the temporary sat beside the target
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "real" / "new.plan")
    atomic_write(dangling, b"x")
    assert dangling.is_symlink() and (tmp_path / "real" / "new.plan").read_bytes() == b"x"


@pytest.mark.parametrize("kind", ["fifo", "directory", "socket", "device"])
def test_special_outputs_are_refused(tmp_path, kind):
    out = tmp_path / "out"
    if kind == "fifo":
        os.mkfifo(out)
        expected = "a FIFO"
    elif kind == "directory":
        out.mkdir()
        expected = "a directory"
    elif kind == "socket":
        import socket
        s = socket.socket(socket.AF_UNIX)
        try:
            s.bind(str(out))
        except OSError as e:  # path too long for AF_UNIX on some systems
            pytest.skip(str(e))
        finally:
            s.close()
        expected = "a socket"
    else:
        device = Path("/dev/full") if os.path.exists("/dev/full") else Path("/dev/null")
        if not stat.S_ISCHR(os.stat(device).st_mode):
            pytest.skip("no character device to test with")
        out = tmp_path / "device-link"
        out.symlink_to(device)  # followed: the device itself must not be replaced (nor written)
        expected = "a character device"
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(WeightsError) as e:
        atomic_write(out, b"data")
    message = str(e.value)
    assert message == f"{out}: cannot write: the output exists and is {expected}, not a regular file"
    assert sorted(os.listdir(tmp_path)) == before


def test_missing_directory_is_one_line(tmp_path):
    with pytest.raises(WeightsError, match=r"nope/x\.bin: cannot write: No such file or directory$"):
        atomic_write(tmp_path / "nope" / "x.bin", b"")


WRITER = textwrap.dedent("""
    import os, sys, time
    sys.path.insert(0, {root!r})
    from weights.atomic import atomic_output
    with atomic_output({out!r}) as f:
        f.write(b"partial")
        f.flush()
        print("writing", flush=True)
        time.sleep(60)
    print("not reached", flush=True)
""")


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGHUP", "SIGINT"])
def test_signal_mid_write_leaves_no_temporary_and_the_old_output(tmp_path, signame):
    out = tmp_path / "model.plan"
    out.write_bytes(b"old")
    p = subprocess.Popen([sys.executable, "-c", WRITER.format(root=str(ROOT), out=str(out))],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline() == "writing\n"
        assert len(os.listdir(tmp_path)) == 2  # the temporary exists mid-write
        p.send_signal(getattr(signal, signame))
        p.wait(timeout=30)
    finally:
        p.kill()
        p.wait()
    # The process ends as the signal's default action ends it (Python re-raises an unhandled SIGINT), after the
    # clean-up.
    assert p.returncode == -getattr(signal, signame)
    assert "not reached" not in p.stdout.read()
    assert os.listdir(tmp_path) == ["model.plan"] and out.read_bytes() == b"old"


def test_handlers_are_restored_and_an_ignored_sighup_stays_ignored(tmp_path):
    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP)}
    with atomic_output(tmp_path / "x") as f:
        if before[signal.SIGTERM] == signal.SIG_DFL:
            assert callable(signal.getsignal(signal.SIGTERM))  # ours, for the duration of the write
        f.write(b"1")
    assert {s: signal.getsignal(s) for s in before} == before
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        with atomic_output(tmp_path / "x") as f:
            assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
            os.kill(os.getpid(), signal.SIGHUP)  # ignored, as nohup asked
            f.write(b"2")
        assert (tmp_path / "x").read_bytes() == b"2"
    finally:
        signal.signal(signal.SIGHUP, previous)


def test_works_outside_the_main_thread(tmp_path):
    errors = []

    def write():
        try:
            atomic_write(tmp_path / "t", b"thread")
        except BaseException as e:  # noqa: BLE001 (reported below)
            errors.append(e)
    t = threading.Thread(target=write)
    t.start()
    t.join()
    assert not errors and (tmp_path / "t").read_bytes() == b"thread"
