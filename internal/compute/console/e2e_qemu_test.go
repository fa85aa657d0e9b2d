package console

import (
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startQEMU runs a diskless, paused QEMU (TCG) serving VNC on dir/vnc.sock, as the
// QEMU driver does for an instance, and returns the socket once it listens. The child
// is killed by its PID when the test ends.
func startQEMU(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		t.Skip("qemu-system-x86_64 not installed (scripts/deps.sh)")
	}
	sock := filepath.Join(t.TempDir(), "vnc.sock")
	cmd := exec.Command(bin, "-nodefaults", "-no-user-config", "-display", "none",
		"-machine", "pc,accel=tcg", "-m", "32", "-device", "VGA",
		"-vnc", "unix:"+sock, "-S")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); {
		select {
		case <-exited:
			t.Fatalf("qemu exited: %s", stderr.String())
		default:
		}
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			return sock
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("qemu's VNC socket never listened: %s", stderr.String())
	return ""
}

// rfbToServerInit does a VNC client's side of RFB 3.8 up to ServerInit (RFC 6143 §7.1-7.3)
// over rw and returns the framebuffer size and desktop name.
func rfbToServerInit(t *testing.T, rw io.ReadWriter) (width, height int, name string) {
	t.Helper()
	version := make([]byte, 12)
	if _, err := io.ReadFull(rw, version); err != nil {
		t.Fatalf("ProtocolVersion: %v", err)
	}
	if string(version) != "RFB 003.008\n" {
		t.Fatalf("banner %q, want RFB 003.008", version)
	}
	if _, err := rw.Write(version); err != nil {
		t.Fatal(err)
	}
	var n [1]byte
	if _, err := io.ReadFull(rw, n[:]); err != nil || n[0] == 0 {
		t.Fatalf("security types: count %d, %v", n[0], err)
	}
	types := make([]byte, n[0])
	if _, err := io.ReadFull(rw, types); err != nil {
		t.Fatal(err)
	}
	if !strings.ContainsRune(string(types), 1) {
		t.Fatalf("security types %v lack None (1)", types)
	}
	if _, err := rw.Write([]byte{1}); err != nil { // None
		t.Fatal(err)
	}
	var result [4]byte
	if _, err := io.ReadFull(rw, result[:]); err != nil || binary.BigEndian.Uint32(result[:]) != 0 {
		t.Fatalf("SecurityResult % x, %v", result, err)
	}
	if _, err := rw.Write([]byte{1}); err != nil { // ClientInit, shared
		t.Fatal(err)
	}
	// ServerInit: width, height, 16-byte pixel format, name length, name.
	var init [24]byte
	if _, err := io.ReadFull(rw, init[:]); err != nil {
		t.Fatalf("ServerInit: %v", err)
	}
	nameBytes := make([]byte, binary.BigEndian.Uint32(init[20:24]))
	if _, err := io.ReadFull(rw, nameBytes); err != nil {
		t.Fatal(err)
	}
	return int(binary.BigEndian.Uint16(init[0:2])), int(binary.BigEndian.Uint16(init[2:4])), string(nameBytes)
}

// TestConsoleQEMU is the console as a user gets it: a real QEMU's VNC server behind
// the proxy, a token issued for its socket, a websocket client through loopback.
func TestConsoleQEMU(t *testing.T) {
	if testing.Short() {
		t.Skip("starts QEMU")
	}
	sock := startQEMU(t)
	f := newProxyFixture(t, Options{})
	target := Target{Socket: sock}

	tok := f.issue(t, target, time.Minute)
	url := URL("http://"+f.addr+"/vnc_lite.html", tok)
	// The websocket path is what vnc_lite.html derives from the URL's path parameter.
	if !strings.HasSuffix(url, "?path=%3Ftoken%3D"+tok) {
		t.Fatalf("console URL %s", url)
	}
	ws, resp, err := dialWS(f.addr, "/?token="+tok, http.Header{"Origin": {"http://" + f.addr}})
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("connect: %v %v", resp, err)
	}
	ws.conn.SetDeadline(time.Now().Add(20 * time.Second))
	w, h, name := rfbToServerInit(t, ws)
	t.Logf("ServerInit: %dx%d %q", w, h, name)
	if w == 0 || h == 0 {
		t.Fatalf("framebuffer %dx%d", w, h)
	}
	ws.Close()

	t.Run("second use refused", func(t *testing.T) {
		_, resp, err := dialWS(f.addr, "/?token="+tok, nil)
		if err != nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("%v %v, want 403", resp, err)
		}
	})
	t.Run("expired token refused", func(t *testing.T) {
		old := f.issue(t, target, 10*time.Millisecond)
		time.Sleep(20 * time.Millisecond)
		_, resp, err := dialWS(f.addr, "/?token="+old, nil)
		if err != nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("%v %v, want 403", resp, err)
		}
	})
	t.Run("a fresh token connects again", func(t *testing.T) {
		ws, resp, err := dialWS(f.addr, "/websockify?token="+f.issue(t, target, time.Minute), nil)
		if err != nil || resp.StatusCode != 101 {
			t.Fatalf("%v %v", resp, err)
		}
		defer ws.Close()
		ws.conn.SetDeadline(time.Now().Add(20 * time.Second))
		if w2, h2, _ := rfbToServerInit(t, ws); w2 != w || h2 != h {
			t.Fatalf("second session %dx%d, first %dx%d", w2, h2, w, h)
		}
	})
	t.Run("noVNC's vnc_lite.html served", func(t *testing.T) {
		if _, err := os.Stat(filepath.Join(DefaultWebRoot, "vnc_lite.html")); err != nil {
			t.Skip("novnc not installed (scripts/deps.sh)")
		}
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), "noVNC") {
			t.Fatalf("%s: %d, %d bytes", url, resp.StatusCode, len(body))
		}
		// And a module it imports, so the page can actually run.
		resp, err = http.Get("http://" + f.addr + "/core/rfb.js")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("core/rfb.js: %d", resp.StatusCode)
		}
	})
}
