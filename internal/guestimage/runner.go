package guestimage

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os/exec"
	"strings"
)

// Runner runs one external command and returns its standard output. Every tool the
// build uses (apt-get, dpkg-deb, mkfs.fat, mcopy, syslinux, qemu-img) goes through it.
type Runner interface {
	Run(ctx context.Context, dir string, env []string, name string, args ...string) ([]byte, error)
}

// execRunner runs commands for real and logs each one, with its output when it fails.
type execRunner struct{ log *slog.Logger }

var _ Runner = execRunner{}

func (r execRunner) Run(ctx context.Context, dir string, env []string, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = append(cmd.Environ(), env...)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	r.log.Debug("run", "cmd", name, "args", args)
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		r.log.Warn("command failed", "cmd", name, "args", args, "error", err, "stderr", msg)
		return nil, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, msg)
	}
	return stdout.Bytes(), nil
}
