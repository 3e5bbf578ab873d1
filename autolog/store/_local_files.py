"""Writing files into a local artifact folder: atomically, with as few system calls as possible.

A run writes a dozen small files (specs, its model folder, its environment), and on a virtual
disk each Python ``open()`` costs several system calls more than the write needs; so files are
written with ``os.open``/``os.write`` into a temporary name and renamed into place (a reader
sees the whole file or none).

Files whose bytes every run of a process repeats (the installed distributions in
``requirements.txt``, a model flavor's pins) are written once and then hard-linked: one system
call instead of four. Artifact files are never changed in place (every write replaces the file
with a new one), so runs sharing an inode never see each other's changes. A link is made only
if the first file is still the one written (same inode), else the bytes are written again.
"""

from __future__ import annotations

import os
import threading

SHARED_MAX_BYTES = 256 * 1024
_SHARED_MAX_ENTRIES = 16
# bytes -> (path, device, inode) of a file written with exactly those bytes.
_shared: dict[bytes, tuple[str, int, int]] = {}
_lock = threading.Lock()


def write_file(path: str, data: bytes, shared: bool = False, atomic: bool = True) -> None:
    """Write ``data`` at ``path`` (a file in an existing folder), replacing it atomically;
    ``atomic=False`` creates a new file in place (never an existing one, which may be a hard
    link shared with other runs), for a folder no reader sees yet (a model folder being staged).

    Raises:
        FileNotFoundError: the folder does not exist (the caller creates it and retries).
        FileExistsError: ``atomic=False`` and the file exists.
        OSError: the disk refused the write.
    """
    if shared and len(data) <= SHARED_MAX_BYTES:
        with _lock:
            source = _shared.get(data)
        if source is not None and _link(source, path):
            return
    tmp = f"{path}.tmp{os.getpid()}.{threading.get_ident()}" if atomic else path
    flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(tmp, flags | (os.O_TRUNC if atomic else os.O_EXCL), 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        stat = os.fstat(fd) if shared else None
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    os.close(fd)
    if atomic:
        os.replace(tmp, path)
    if stat is not None and len(data) <= SHARED_MAX_BYTES:
        with _lock:
            if len(_shared) >= _SHARED_MAX_ENTRIES:
                _shared.pop(next(iter(_shared)))
            _shared[data] = (path, stat.st_dev, stat.st_ino)


def _link(source: tuple[str, int, int], path: str) -> bool:
    """Hard-link ``path`` to the file of ``source`` if it is still that file; False otherwise."""
    src, dev, ino = source
    try:
        found = os.stat(src)
        if (found.st_dev, found.st_ino) != (dev, ino):  # replaced since: maybe other bytes
            return False
        try:
            os.link(src, path)  # a new name appears with the whole file: atomic
        except FileExistsError:
            there = os.stat(path)
            if (there.st_dev, there.st_ino) == (dev, ino):
                return True  # already this file (rename() would leave the temporary name)
            tmp = f"{path}.tmp{os.getpid()}.{threading.get_ident()}"
            os.link(src, tmp)
            os.replace(tmp, path)
    except OSError:  # gone, another file system, links refused: write the bytes instead
        return False
    return True
