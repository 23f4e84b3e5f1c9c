"""Writing a file atomically: ``path`` holds either its old content or the complete new one,
whatever happens while writing (model files, exported graphs, reports)."""

import os
import tempfile

__all__ = ["atomic_write"]


def _umask():
    """The process's umask, read without changing it where the system says (Linux)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # elsewhere: set and restore at once
    os.umask(mask)
    return mask


def atomic_write(path, write):
    """Write a file through ``write(fileobj)`` so that ``path`` always holds either its old
    content or the complete new one.

    The bytes go to a temporary file in the same folder, are flushed and fsynced, and the
    temporary file is renamed over ``path`` (``os.replace``, atomic on POSIX and Windows);
    the folder is fsynced so the rename survives a crash. On any error (a full disk,
    Ctrl-C) the temporary file is removed and ``path`` is untouched. Concurrent writers
    each rename a complete file: the last one wins.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(
        dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".tmp"
    )
    try:
        # mkstemp creates the file readable by its owner only; give it the mode any other
        # writer would (0666 less the umask), as the file it replaces had.
        os.chmod(temporary, 0o666 & ~_umask())
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise
    try:
        directory = os.open(folder, os.O_RDONLY)
    except OSError:  # some platforms cannot open folders; the rename is still atomic
        return
    try:
        os.fsync(directory)
    except OSError:
        pass
    finally:
        os.close(directory)
