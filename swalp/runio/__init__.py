"""The files of an output folder (a run's or a sweep's), written and read back safely.

- :mod:`~swalp.runio.files`: atomic writes that follow the umask; stale temporary files removed.
- :mod:`~swalp.runio.readback`: every file read back is checked first; a failure is one line
  (:class:`DamagedFileError`: the file, what is wrong, what to do).
- :mod:`~swalp.runio.checkpoint`: checkpoints with a sha256 digest, the last two kept, resume
  falling back to the previous one.
- :mod:`~swalp.runio.lock`: one writer per folder (:class:`FolderLock`, a ``flock`` that
  ``kill -9`` cannot leave stuck).
"""

from swalp.runio.files import atomic_write, remove_stale_temps, write_json, write_text
from swalp.runio.lock import FolderBusyError, FolderLock
from swalp.runio.readback import DamagedFileError, check_replaceable, read_json_object

__all__ = ["DamagedFileError", "FolderBusyError", "FolderLock", "atomic_write", "check_replaceable",
           "read_json_object", "remove_stale_temps", "write_json", "write_text"]
