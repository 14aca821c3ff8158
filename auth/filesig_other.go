//go:build !linux

package auth

import (
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// fileSig is what a stat says about a file's contents where vncrelay does
// not read the platform's stat: size and modification time only.
type fileSig struct {
	size  int64
	mtime int64
}

func sigOf(fi fs.FileInfo) fileSig {
	return fileSig{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
}

// statSig stats path, following symbolic links.
func statSig(path string) (fileSig, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileSig{}, err
	}
	return sigOf(fi), nil
}

// changedAfter reports whether the file's last modification is later than t.
func (s fileSig) changedAfter(t time.Time) bool { return s.mtime > t.UnixNano() }

// statAt stats name in the open directory dir, following symbolic links.
func statAt(dir *os.File, name string) (sig fileSig, regular bool, err error) {
	fi, err := os.Stat(filepath.Join(dir.Name(), name))
	if err != nil {
		return fileSig{}, false, err
	}
	return sigOf(fi), fi.Mode().IsRegular(), nil
}

func openNoBlock(name string) (*os.File, error) { return os.Open(name) }
