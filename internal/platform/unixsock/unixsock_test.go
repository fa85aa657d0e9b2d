package unixsock

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLongPaths(t *testing.T) {
	for _, tt := range []struct {
		name  string
		depth int // characters of directory names below the temp dir
	}{
		{"short", 0},
		{"longer than sun_path", 200},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.depth > 0 {
				dir = filepath.Join(dir, strings.Repeat("d", tt.depth/2), strings.Repeat("e", tt.depth/2))
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			path := filepath.Join(dir, "s.sock")
			if Fits(path) != (tt.depth == 0) {
				t.Fatalf("Fits(%d bytes) = %v", len(path), Fits(path))
			}
			l, err := Listen(path)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			if _, err := os.Stat(path); err != nil {
				t.Fatalf("the socket is not where it was asked for: %v", err)
			}
			go func() {
				c, err := l.Accept()
				if err == nil {
					_, _ = c.Write([]byte("hello"))
					c.Close()
				}
			}()
			c, err := Dial(context.Background(), nil, path)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			got, _ := io.ReadAll(c)
			if string(got) != "hello" {
				t.Fatalf("read %q through the socket", got)
			}
		})
	}
}

func TestDialMissingDir(t *testing.T) {
	path := filepath.Join(t.TempDir(), strings.Repeat("x", 120), "s.sock")
	if _, err := Dial(context.Background(), nil, path); err == nil || !strings.Contains(err.Error(), strings.Repeat("x", 120)) {
		t.Fatalf("Dial of a socket in a missing long dir: %v, want an error naming it", err)
	}
}
