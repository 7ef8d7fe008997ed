"""Crash-safe output files for the Python tools, as the spikechip binary writes them
(base/file_util's write_file_atomic): the bytes go to a hidden temporary in the same directory,
are flushed to the disk, and only then renamed over the name, so a full disk or a killed process
never leaves a truncated file where a good one was expected.

A failure of the disk (full, not writable, a file-size limit) is a :class:`WriteError` naming the
file, the OS reason and what to check; :func:`run_main` turns it into one line on stderr and exit
status 4, the binary's exit code for an output the disk refused. Ctrl-C, SIGTERM and SIGHUP end it
the same way (one line, every temporary removed) and then end the process by that signal, as a
shell expects of an interrupted command.
"""
import contextlib
import errno
import os
import shutil
import signal
import stat
import sys
import tempfile

WRITE_ERROR_EXIT = 4  # as kWriteErrorExit (base/error.hpp)


class WriteError(OSError):
    """An output the disk refused; ``e.strerror`` is the one-line message."""


class ToolError(Exception):
    """A bad input a tool reports as one line "PROG: message" and exit status 1 (:func:`run_main`)."""


def write_error(path, e):
    return WriteError(e.errno, f"{path}: cannot write ({e.strerror or e}); check that its directory is "
                               "writable and its disk has free space, then rerun")


def make_dirs(path):
    """os.makedirs(path, exist_ok=True); a failure (a file in the way, no permission, /proc) is a
    :class:`WriteError` naming the directory, not a traceback."""
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as e:
        raise WriteError(e.errno, f"{path}: cannot create the directory ({e.strerror or e}); check that its "
                                  "parent is writable and is not a file, then rerun") from e


def name_length_error(path):
    """The error line for a ``path`` that cannot be made (a name in it longer than the file system
    allows, or the whole path longer than the system takes), or None: the binary's check
    (base/file_util), made before the work so that a long job does not end in "File name too long"."""
    raw = os.fsencode(path)
    shown = path if len(raw) <= 240 else os.fsdecode(raw[:240]) + "..."
    if len(raw) >= os.pathconf("/", "PC_PATH_MAX"):
        return f"{shown}: the path is {len(raw)} bytes long, more than the system takes; choose a shorter one"
    parent = os.path.dirname(os.path.abspath(path))
    while not os.path.isdir(parent):
        parent = os.path.dirname(parent)
    name_max = os.pathconf(parent, "PC_NAME_MAX")
    for name in raw.split(b"/"):
        if len(name) > name_max:
            return (f"{shown}: a name in it is {len(name)} bytes long, more than the {name_max} a name may have "
                    "here; choose a shorter name")
    return None


def under_dev_or_proc(path):
    """True for a path under /dev or /proc (made absolute and normal first), where no regular
    output file or directory is ever made (as base/file_util's ``under_dev_or_proc``)."""
    return os.path.normpath(os.path.abspath(path)).startswith(("/dev/", "/proc/"))


def written_in_place(path):
    """True when an output to ``path`` is written into it, not replaced by a renamed temporary: a
    device, a FIFO or a socket (``-o /dev/null``), or any path under /dev or /proc (/dev/stdout is
    the process's own standard output). As base/file_util's ``written_in_place``: replacing
    /dev/null, as root, would make it a regular file for every process on the machine."""
    if under_dev_or_proc(path):
        return True
    try:
        st = os.stat(path)
    except OSError:
        return False
    return not stat.S_ISREG(st.st_mode) and not stat.S_ISDIR(st.st_mode)


def umask():
    """The process's umask, read without changing it (os.umask sets one to read it: a thread or a
    child process started meanwhile would create its files under the temporary mask)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # no /proc (or a kernel before 4.7): the usual way
    os.umask(mask)
    return mask


def keep_mode(tmp, replaced):
    """Gives the temporary ``tmp`` the permission bits, owner and group of ``replaced`` when that is
    a file already (a ``chmod 600`` on a result survives a re-run), else the mode a new file gets
    (0666 under the umask), as base/file_util's writer does. The owner is set where the process
    may (root; else a group the user is in), before the bits."""
    try:
        st = os.stat(replaced)
    except OSError:
        st = None
    if st is None or not stat.S_ISREG(st.st_mode):
        os.chmod(tmp, 0o666 & ~umask())
        return
    try:
        os.chown(tmp, st.st_uid, st.st_gid)
    except OSError:
        with contextlib.suppress(OSError):
            os.chown(tmp, -1, st.st_gid)
    os.chmod(tmp, stat.S_IMODE(st.st_mode))


@contextlib.contextmanager
def atomic_path(path):
    """``with atomic_path(path) as tmp: writer(tmp)`` for writers that take a file name: ``tmp`` has
    the same base name (torch.save names its archive's records after it), in a hidden directory
    beside ``path``; the file is flushed and renamed over ``path`` when the block ends. A symbolic
    link stays a link (the file it names is replaced); a device or a pipe is written in place. A
    file replaced keeps its permission bits, owner and group (:func:`keep_mode`)."""
    path = os.fspath(path)
    if written_in_place(path):
        if not os.path.exists(path):  # a typo such as /dev/nul: no regular file is made in /dev
            raise WriteError(errno.ENOENT, f"{path}: no such device; nothing is made under /dev or /proc: give one "
                                           "that exists (/dev/null, /dev/stdout) or a path elsewhere")
        try:
            yield path
        except WriteError:
            raise
        except OSError as e:
            raise write_error(path, e) from e
        return
    if os.path.islink(path):
        path = os.path.realpath(path)
    tmpdir = None
    try:
        tmpdir = tempfile.mkdtemp(dir=os.path.dirname(os.path.abspath(path)), prefix=".tmp-")
        tmp = os.path.join(tmpdir, os.path.basename(path))
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        keep_mode(tmp, path)
        os.replace(tmp, path)
    except WriteError:
        raise
    except OSError as e:
        raise write_error(path, e) from e
    finally:
        if tmpdir is not None:
            shutil.rmtree(tmpdir, ignore_errors=True)


@contextlib.contextmanager
def atomic_open(path, mode="w", **kwargs):
    """``with atomic_open(path, "wb") as f: ...`` writes ``path`` whole or not at all."""
    with atomic_path(path) as tmp, open(tmp, mode, **kwargs) as f:
        yield f


class Stopped(BaseException):
    """SIGTERM or SIGHUP, raised where the program is (as Ctrl-C raises KeyboardInterrupt), so that
    the ``finally`` blocks of :func:`atomic_path` remove the temporaries."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


def _raise_stopped(signum, frame):
    raise Stopped(signum)


def run_main(prog, main, errors=()):
    """Runs ``main()``; an output the disk refused is one line "PROG: ..." and exit status 4; a
    :class:`ToolError` or an exception of ``errors`` (the tool's bad-input errors) one line and exit
    status 1; a stop signal
    (Ctrl-C, SIGTERM, SIGHUP) is one line, then the process ends by that signal."""
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) == signal.SIG_DFL:  # one ignored by whoever started us stays ignored
            signal.signal(sig, _raise_stopped)
    try:
        main()
    except WriteError as e:
        print(f"{prog}: {e.strerror}", file=sys.stderr)
        sys.exit(WRITE_ERROR_EXIT)
    except (ToolError, *errors) as e:
        print(f"{prog}: {e}", file=sys.stderr)
        sys.exit(1)
    except (KeyboardInterrupt, Stopped) as e:
        signum = e.signum if isinstance(e, Stopped) else signal.SIGINT
        print(f"{prog}: interrupted ({signal.Signals(signum).name}); an output not finished was not written",
              file=sys.stderr)
        sys.stderr.flush()
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        sys.exit(128 + signum)  # not reached
