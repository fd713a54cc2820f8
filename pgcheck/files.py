"""Writing files so that no reader ever sees half of one: :func:`atomic_write` and :func:`atomic_save`.

Guarantee: after either returns, ``path`` holds the whole new content, durably (the file is fsynced
before the rename and the directory after it); if either raises, ``path`` is untouched (the old
content, or no file) and no temporary file is left behind. The temporary file is created next to
``path`` with a name unique to the call (``tempfile.mkstemp``: pid-independent, safe when two processes
write into the same directory), so the final ``os.replace`` is a rename within one filesystem.

The file gets the permissions an ordinary ``open`` would give it (the old file's when it is replaced).

An ``OSError`` (a read-only directory, a full disk, a missing parent) becomes a one-line
:class:`~pgcheck.errors.UserError` that names the path.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from pgcheck.errors import UserError


def _fsync_directory(directory: Path) -> None:
    # where a directory cannot be opened for fsync (some filesystems), the rename is still atomic
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _mode_for(path: Path) -> int:
    """The permissions the new file gets: the old file's, else what ``open`` gives under the umask (0666 less
    the umask) — not mkstemp's 0600, which would hide a run directory from the other users of a shared disk."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        mask = os.umask(0o022)
        os.umask(mask)
        return 0o666 & ~mask


def atomic_save(path: Path | str, write: Callable[[Path], object], *, suffix: str = "") -> Path:
    """Have ``write(tmp)`` write the whole file at a temporary path, then move it onto ``path``.

    For writers that take a file name (``Figure.savefig``, ``torch.save``); ``suffix`` gives the temporary
    file the extension such a writer infers the format from (e.g. ``".png"``). Returns ``path``.
    """
    path = Path(path)
    try:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{suffix}", dir=path.parent)
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror or exc}") from None
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, _mode_for(path))
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UserError(f"cannot write {path}: {exc.strerror or exc}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)
    return path


def atomic_write(path: Path | str, data: bytes | str) -> Path:
    """Write ``data`` (text is encoded as UTF-8) to ``path`` atomically and durably. Returns ``path``."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    return atomic_save(path, lambda tmp: tmp.write_bytes(payload))
