package auth

import (
	"io/fs"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// fileSig is what a stat says about a file's contents: device and inode
// (a file replaced by rename is a new inode), size, and modification and
// change times in nanoseconds. The change time cannot be set by utimes(2),
// so a rewrite that restores the old mtime still changes the signature.
type fileSig struct {
	dev, ino     uint64
	size         int64
	mtime, ctime int64
}

func sigOf(fi fs.FileInfo) fileSig {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		t := fi.ModTime().UnixNano()
		return fileSig{size: fi.Size(), mtime: t, ctime: t}
	}
	return fileSig{
		dev: st.Dev, ino: st.Ino, size: st.Size,
		mtime: st.Mtim.Nano(), ctime: st.Ctim.Nano(),
	}
}

// statSig stats path, following symbolic links: one stat(2).
func statSig(path string) (fileSig, error) {
	var st unix.Stat_t
	var err error
	for {
		err = unix.Stat(path, &st)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return fileSig{}, err
	}
	return fileSig{
		dev: st.Dev, ino: st.Ino, size: st.Size,
		mtime: st.Mtim.Nano(), ctime: st.Ctim.Nano(),
	}, nil
}

// changedAfter reports whether the file's last change, as its timestamps
// show it, is later than t.
func (s fileSig) changedAfter(t time.Time) bool { return s.ctime > t.UnixNano() }

// statAt stats name in the open directory dir, following symbolic links:
// one fstatat(2), with no path walk from the root and no allocation.
func statAt(dir *os.File, name string) (sig fileSig, regular bool, err error) {
	var st unix.Stat_t
	for {
		err = unix.Fstatat(int(dir.Fd()), name, &st, 0)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return fileSig{}, false, &fs.PathError{Op: "stat", Path: name, Err: err}
	}
	return fileSig{
		dev: st.Dev, ino: st.Ino, size: st.Size,
		mtime: st.Mtim.Nano(), ctime: st.Ctim.Nano(),
	}, st.Mode&unix.S_IFMT == unix.S_IFREG, nil
}

// openNoBlock opens a file for reading without blocking on a FIFO that took
// a token file's place after it was checked to be regular.
func openNoBlock(name string) (*os.File, error) {
	return os.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}
