package qemu

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
)

// maxConsoleBytes bounds what ConsoleOutput reads of a log that grows across every
// boot of the guest (upstream's libvirt driver caps it likewise, at 100 KiB).
const maxConsoleBytes = 1 << 20

// ConsoleOutput is the last lines of the guest's serial console log (all of the
// last maxConsoleBytes when lines <= 0).
func (d *Driver) ConsoleOutput(ctx context.Context, s virt.Spec, lines int) (string, error) {
	if !filepath.IsAbs(s.Dir) {
		return "", fmt.Errorf("console of %s: %w", s.UUID, virt.ErrNotFound)
	}
	f, err := os.Open(filepath.Join(s.Dir, consoleLog))
	if errors.Is(err, fs.ErrNotExist) {
		if _, serr := os.Stat(s.Dir); serr != nil {
			return "", fmt.Errorf("console of %s: %w", s.UUID, virt.ErrNotFound)
		}
		return "", nil // defined, never started
	}
	if err != nil {
		return "", fmt.Errorf("console of %s: %w", s.UUID, err)
	}
	defer f.Close()
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return "", fmt.Errorf("console of %s: %w", s.UUID, err)
	}
	from := max(0, size-maxConsoleBytes)
	data := make([]byte, size-from)
	if _, err := f.ReadAt(data, from); err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("console of %s: %w", s.UUID, err)
	}
	return tail(string(data), lines), nil
}

// tail is the last n lines of text (all when n <= 0); a final newline does not
// count as an empty line.
func tail(text string, n int) string {
	if n <= 0 {
		return text
	}
	end := len(strings.TrimSuffix(text, "\n"))
	for i := end - 1; i >= 0; i-- {
		if text[i] == '\n' {
			n--
			if n == 0 {
				return text[i+1:]
			}
		}
	}
	return text
}
