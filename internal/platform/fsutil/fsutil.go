// Package fsutil holds the file-system steps the services share.
package fsutil

import "os"

// WriteFileAtomic replaces path with data (made with mode), synced before the
// rename, so a reader (a restart reading state, a daemon reading its keys)
// sees the old file or the whole new one, never half of it.
func WriteFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
