"""The Python tools' output files (scripts/spikechip_py/files.py) on a disk that refuses them: a
64 KiB file-size limit fails a write as a full disk does (EFBIG instead of ENOSPC; Python ignores
SIGXFSZ). Before session 34, scripts/make_fmnist_events left a truncated .evt of 1,024 bytes
behind and printed a traceback; now every tool writes each file whole or not at all, and says so
in one line with exit status 4, as the spikechip binary does."""
import os
import resource
import signal
import stat
import subprocess
import tempfile

import pytest

from conftest import REPO
from spikechip_py import files

LIMIT = 64 * 1024


def limited():
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, resource.RLIM_INFINITY))


def test_atomic_open_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    p = tmp_path / "out.bin"
    with files.atomic_open(p, "wb") as f:
        f.write(b"old")
    assert p.read_bytes() == b"old" and oct(p.stat().st_mode & 0o777) == oct(0o666 & ~_umask())
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, hard))
    try:
        with pytest.raises(files.WriteError) as e:
            with files.atomic_open(p, "wb") as f:
                f.write(b"x" * (2 * LIMIT))
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert isinstance(e.value, OSError)
    assert e.value.strerror == (f"{p}: cannot write (File too large); check that its directory is writable "
                                "and its disk has free space, then rerun")
    assert p.read_bytes() == b"old" and os.listdir(tmp_path) == ["out.bin"]


def _umask():
    m = os.umask(0)
    os.umask(m)
    return m


def test_make_fmnist_events_on_a_refusing_disk(tmp_path):
    out = tmp_path / "t.evt"
    tool = os.path.join(REPO, "scripts", "make_fmnist_events")
    r = subprocess.run(["/usr/bin/python3", tool, "--frames", "2", "--limit", "200", "-o", str(tmp_path / "f.npz")],
                       capture_output=True, text=True, preexec_fn=limited)
    assert r.returncode == 4 and r.stderr == (
        f"make_fmnist_events: {tmp_path}/f.npz: cannot write (File too large); check that its directory is "
        "writable and its disk has free space, then rerun\n"), r.stderr
    assert os.listdir(tmp_path) == []
    r = subprocess.run(["/usr/bin/python3", tool, "-o", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    with open(os.path.join(REPO, "traces", "fmnist_saccade.evt"), "rb") as f:
        assert out.read_bytes() == f.read()  # the shipped trace, byte for byte


STOPPABLE = """
import sys, time
sys.path.insert(0, {scripts!r})
from spikechip_py import files
def main():
    with files.atomic_open({out!r}, "w") as f:
        f.write("partial")
        print("ready", flush=True)
        time.sleep(60)
files.run_main("stoppable", main)
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_stopped_tool_says_so_and_leaves_nothing(tmp_path, sig):
    # Session 35: Ctrl-C printed a traceback, and SIGTERM / SIGHUP left the hidden temporary behind.
    out = tmp_path / "out.txt"
    prog = STOPPABLE.format(scripts=os.path.join(REPO, "scripts"), out=str(out))
    # As a terminal's foreground command (pytest itself may run as a background job, SIGINT ignored).
    reset = lambda: [signal.signal(s, signal.SIG_DFL) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)]
    p = subprocess.Popen(["/usr/bin/python3", "-c", prog], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         preexec_fn=reset)
    assert p.stdout.readline() == "ready\n"
    p.send_signal(sig)
    _, err = p.communicate(timeout=60)
    assert p.returncode == -sig  # ended by the signal, as a shell expects of an interrupted command
    assert err == f"stoppable: interrupted ({sig.name}); an output not finished was not written\n", err
    assert os.listdir(tmp_path) == []


def test_a_device_a_fifo_and_a_link_are_written_not_replaced(tmp_path):
    # Session 36: the rename put a regular file where the path was: `-o /dev/null`, as root, replaced
    # the machine's /dev/null, and a symbolic link became a file.
    real = tmp_path / "real.txt"
    real.write_text("old")
    link = tmp_path / "link.txt"
    link.symlink_to("real.txt")
    with files.atomic_open(link, "w") as f:
        f.write("new")
    assert link.is_symlink() and real.read_text() == "new"
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
    with files.atomic_open(fifo, "w") as f:
        f.write("through the pipe")
    assert reader.communicate(timeout=30)[0] == b"through the pipe"
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    if os.geteuid() == 0:  # a node like /dev/null (1, 3), made here rather than at /dev/null
        null = tmp_path / "null"
        os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        with files.atomic_open(null, "wb") as f:
            f.write(b"x" * 1000)
        assert stat.S_ISCHR(os.lstat(null).st_mode)
    assert sorted(os.listdir(tmp_path)) == sorted(["real.txt", "link.txt", "fifo"] +
                                                  (["null"] if os.geteuid() == 0 else []))
    assert files.written_in_place("/dev/stdout") and files.written_in_place("/dev/null")
    with pytest.raises(files.WriteError, match="no such device"):
        with files.atomic_open("/dev/spikechip-test-no-such-device", "w") as f:
            f.write("x")
    assert not os.path.exists("/dev/spikechip-test-no-such-device")
    assert not files.written_in_place(str(real)) and not files.written_in_place(str(tmp_path / "missing"))


def test_a_replaced_file_keeps_its_mode_and_owner(tmp_path):
    # Session 37: the replacement got the temporary's mode (the umask's), so `chmod 600` on a result
    # was undone by a re-run, and, run as root, a file another user owned became root's.
    p = tmp_path / "out.txt"
    old = os.umask(0o002)
    try:
        with files.atomic_open(p, "w") as f:
            f.write("first")
        assert oct(p.stat().st_mode & 0o7777) == oct(0o664)
        os.chmod(p, 0o600)
        if os.geteuid() == 0:
            os.chown(p, 65534, 65534)
        with files.atomic_open(p, "w") as f:
            f.write("second")
        assert p.read_text() == "second" and oct(p.stat().st_mode & 0o7777) == oct(0o600)
        if os.geteuid() == 0:
            assert (p.stat().st_uid, p.stat().st_gid) == (65534, 65534)
        # A temporary made by mkstemp (0600, as spikechip-export's) for a new file: the umask's mode.
        fd, tmp = tempfile.mkstemp(dir=tmp_path)
        os.close(fd)
        files.keep_mode(tmp, str(tmp_path / "new.json"))
        assert oct(os.stat(tmp).st_mode & 0o7777) == oct(0o664)
    finally:
        os.umask(old)
