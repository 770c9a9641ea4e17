"""One writer per directory: an advisory ``fcntl.flock`` on a lock file inside it.

Why flock: the kernel releases it when the holder dies (SIGKILL, OOM, a lost node's process
on local disk), so a crashed writer never leaves a stale lock to clean up by hand; the file
itself stays (deleting a lock file races with a second locker) and records who holds it.
On NFS, Linux emulates flock with POSIX byte-range locks, which NFSv4 servers honour.
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rl_lab.core.errors import RunDirError

NO_LOCKS = (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS)  # file systems without flock (some FUSE mounts)


def _holder(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        text = ""
    return text or "unknown process"


@contextmanager
def hold_lock(path: str | os.PathLike[str], what: str) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if absent) for the ``with`` block.

    RunDirError (exit 2) naming the holder when another process holds it; never waits.
    """
    path = Path(path)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)  # the umask applies, as for open()
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunDirError(
                f"{what} is being written by another process ({_holder(path)}; lock file {str(path)!r}); "
                "wait for it to end, or stop it, before writing here"
            ) from None
        except OSError as exc:
            if exc.errno not in NO_LOCKS:
                raise
            print(f"warning: {what}: this file system does not support locks ({exc.strerror}); "
                  "make sure no other process writes here", file=sys.stderr)
            yield
            return
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()} since {time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode())
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
