#!/usr/bin/python3
"""
A case-insensitive, case-preserving passthrough file system (like macOS's APFS or Windows'
NTFS by default), for tests of case-only renames: `ci-fuse.py BACKING MOUNTPOINT`. Names are
looked up ignoring case; new names keep the case they were created with; renaming a name to a
different case of itself changes its case. Runs in the foreground until unmounted.
"""
import errno
import os
import sys

from fusepy import FUSE, FuseOSError, Operations


class CaseInsensitive(Operations):
    def __init__(self, root):
        self.root = os.path.realpath(root)

    def _real(self, path, create=False):
        """Backing path of `path`, resolving every segment ignoring case."""
        cur = self.root
        parts = [p for p in path.split('/') if p]
        for i, part in enumerate(parts):
            try:
                names = os.listdir(cur)
            except OSError:
                names = []
            match = part if part in names else next((n for n in names if n.lower() == part.lower()), None)
            if match is None:
                if i == len(parts) - 1:
                    return os.path.join(cur, part)
                raise FuseOSError(errno.ENOENT)
            cur = os.path.join(cur, match)
        return cur

    def access(self, path, mode):
        if not os.access(self._real(path), mode):
            raise FuseOSError(errno.EACCES)

    def chmod(self, path, mode):
        os.chmod(self._real(path), mode, follow_symlinks=False) if os.path.islink(self._real(path)) is False else None

    def chown(self, path, uid, gid):
        os.lchown(self._real(path), uid, gid)

    def getattr(self, path, fh=None):
        st = os.lstat(self._real(path))
        return {k: getattr(st, k) for k in ('st_atime', 'st_ctime', 'st_gid', 'st_mode', 'st_mtime', 'st_nlink', 'st_size', 'st_uid', 'st_ino')}

    def readdir(self, path, fh):
        return ['.', '..'] + os.listdir(self._real(path))

    def readlink(self, path):
        return os.readlink(self._real(path))

    def mknod(self, path, mode, dev):
        return os.mknod(self._real(path), mode, dev)

    def rmdir(self, path):
        return os.rmdir(self._real(path))

    def mkdir(self, path, mode):
        real = self._real(path)
        if os.path.lexists(real):
            raise FuseOSError(errno.EEXIST)
        return os.mkdir(real, mode)

    def statfs(self, path):
        stv = os.statvfs(self._real(path))
        return {k: getattr(stv, k) for k in ('f_bavail', 'f_bfree', 'f_blocks', 'f_bsize', 'f_favail', 'f_ffree', 'f_files', 'f_flag', 'f_frsize', 'f_namemax')}

    def unlink(self, path):
        return os.unlink(self._real(path))

    def symlink(self, name, target):
        real = self._real(name)
        if os.path.lexists(real):
            raise FuseOSError(errno.EEXIST)
        return os.symlink(target, real)

    def rename(self, old, new):
        src = self._real(old)
        dst = self._real(new)
        if os.path.normcase(src) == os.path.normcase(dst) or src.lower() == dst.lower():
            # The same name in another case: give it the new case.
            dst = os.path.join(os.path.dirname(src), os.path.basename(new))
            if src != dst:
                tmp = dst + '.case-rename'
                os.rename(src, tmp)
                os.rename(tmp, dst)
            return
        return os.rename(src, dst)

    def link(self, target, name):
        return os.link(self._real(name), self._real(target))

    def utimens(self, path, times=None):
        return os.utime(self._real(path), ns=None if times is None else (int(times[0] * 1e9), int(times[1] * 1e9)), follow_symlinks=False)

    def open(self, path, flags):
        return os.open(self._real(path), flags)

    def create(self, path, mode, fi=None):
        return os.open(self._real(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)

    def read(self, path, length, offset, fh):
        return os.pread(fh, length, offset)

    def write(self, path, buf, offset, fh):
        return os.pwrite(fh, buf, offset)

    def truncate(self, path, length, fh=None):
        with open(self._real(path), 'r+') as f:
            f.truncate(length)

    def flush(self, path, fh):
        return 0

    def release(self, path, fh):
        return os.close(fh)

    def fsync(self, path, fdatasync, fh):
        return os.fsync(fh)

    def fsyncdir(self, path, datasync, fh):
        return 0

    def opendir(self, path):
        self._real(path)
        return 0


if __name__ == '__main__':
    FUSE(CaseInsensitive(sys.argv[1]), sys.argv[2], foreground=True, nothreads=True, use_ino=True, allow_other=False)
