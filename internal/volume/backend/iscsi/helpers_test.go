package iscsi

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// needTools skips a test when tgt or QEMU's tools are absent.
func needTools(t testing.TB, bins ...string) {
	t.Helper()
	for _, bin := range append([]string{"tgtd", "tgtadm", "qemu-img"}, bins...) {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s is not installed (apt-get install tgt qemu-utils qemu-block-extra)", bin)
		}
	}
}

// newBackend makes a backend on a pool in a temp dir; its tgtd is killed by
// its pid at the end.
func newBackend(t testing.TB, opts Options) *Backend {
	t.Helper()
	needTools(t)
	if opts.Pool == "" {
		opts.Pool = t.TempDir()
	}
	b, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { killDaemon(b) })
	return b
}

// killDaemon kills the backend's tgtd (checked by its command line, never a
// pid 0) and waits until it is gone.
func killDaemon(b *Backend) {
	pid := b.daemonPID()
	if pid <= 0 {
		return
	}
	syscall.Kill(pid, syscall.SIGKILL)
	for range 100 {
		if b.daemonPID() == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// qemuIO runs qemu-io commands on the export of info, logging in as its
// CHAP user with initiator (empty: libiscsi's default name); a first command
// "-r" opens the LUN read-only.
func qemuIO(t *testing.T, portal, iqn, user, password, initiator string, cmds ...string) (string, error) {
	t.Helper()
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte(password), 0o600); err != nil {
		t.Fatal(err)
	}
	opts := "driver=raw,file.driver=iscsi,file.transport=tcp,file.portal=" + portal + ",file.target=" + iqn +
		",file.lun=" + strconv.Itoa(lun) + ",file.user=" + user + ",file.password-secret=s0"
	if initiator != "" {
		opts += ",file.initiator-name=" + initiator
	}
	args := []string{"--object", "secret,id=s0,file=" + secret, "--image-opts", opts}
	if len(cmds) > 0 && cmds[0] == "-r" { // open read-only
		args, cmds = append([]string{"-r"}, args...), cmds[1:]
	}
	for _, c := range cmds {
		args = append(args, "-c", c)
	}
	out, err := exec.Command("qemu-io", args...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}
