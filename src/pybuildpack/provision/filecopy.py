"""Copying a file's data between two open descriptors in as few, as large system calls as
the file system allows: a reflink (``FICLONE``: no data is copied) while the file system
takes them, then ``copy_file_range`` (the kernel copies, nothing passes through Python),
then plain reads and writes of 1 MiB. One helper for the runtime store and the build cache.

A ``Copier`` remembers what failed, so a tree copied onto a file system without reflinks
pays for one refused ``ioctl``, not one per file: use one per tree (another tree may be on
another file system).
"""

from __future__ import annotations

import errno
import fcntl
import os

_FICLONE = 0x40049409  # linux/fs.h: _IOW(0x94, 9, int)
# copy_file_range errors that mean "not between these files": fall back to read/write.
_NO_RANGE = frozenset({errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP})


class Copier:
    def __init__(self) -> None:
        self.reflink = True
        self.copy_range = hasattr(os, "copy_file_range")

    def data(self, sfd: int, dfd: int, size: int) -> None:
        """Copy the data of ``sfd`` (from its start) into the empty ``dfd``; ``size`` is
        the source's size (0: nothing to do). Other errors (a full disk) are raised."""
        if size == 0:
            return
        if self.reflink:
            try:
                fcntl.ioctl(dfd, _FICLONE, sfd)
                return
            except OSError:
                self.reflink = False
        done = 0
        if self.copy_range:
            try:
                while True:
                    n = os.copy_file_range(sfd, dfd, 1 << 30)
                    if n == 0:
                        return
                    done += n
            except OSError as exc:
                if exc.errno not in _NO_RANGE:
                    raise
                self.copy_range = False
        os.lseek(sfd, done, os.SEEK_SET)
        os.lseek(dfd, done, os.SEEK_SET)
        while chunk := os.read(sfd, 1 << 20):
            view = memoryview(chunk)
            while view:
                view = view[os.write(dfd, view) :]
