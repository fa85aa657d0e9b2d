package console

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// rfbClientJS is a browser-style client: the WHATWG WebSocket (undici's, in Node) that
// noVNC uses, doing RFB 3.8 to ServerInit and printing the framebuffer size. It checks
// our framing against an implementation we did not write.
const rfbClientJS = `
const ws = new WebSocket(process.argv[2]);
ws.binaryType = 'arraybuffer';
let buf = Buffer.alloc(0), state = 'version';
const fail = (m) => { console.error(m); process.exit(1); };
setTimeout(() => fail('timeout in state ' + state), 15000);
ws.onerror = (e) => fail('error: ' + (e.message || e.type));
ws.onclose = (e) => { if (state !== 'done') fail('closed ' + e.code + ' in state ' + state); };
ws.onmessage = (e) => {
  buf = Buffer.concat([buf, Buffer.from(e.data)]);
  for (;;) {
    if (state === 'version' && buf.length >= 12) {
      if (buf.subarray(0, 12).toString() !== 'RFB 003.008\n') fail('banner ' + buf.subarray(0, 12));
      ws.send(buf.subarray(0, 12)); buf = buf.subarray(12); state = 'types';
    } else if (state === 'types' && buf.length >= 1 && buf.length >= 1 + buf[0]) {
      if (!buf.subarray(1, 1 + buf[0]).includes(1)) fail('no None security');
      ws.send(Uint8Array.of(1)); buf = buf.subarray(1 + buf[0]); state = 'result';
    } else if (state === 'result' && buf.length >= 4) {
      if (buf.readUInt32BE(0) !== 0) fail('security failed');
      ws.send(Uint8Array.of(1)); buf = buf.subarray(4); state = 'init';
    } else if (state === 'init' && buf.length >= 24 && buf.length >= 24 + buf.readUInt32BE(20)) {
      console.log(buf.readUInt16BE(0) + 'x' + buf.readUInt16BE(2));
      state = 'done'; ws.close(1000); setTimeout(() => process.exit(0), 100); return;
    } else return;
  }
};
`

// TestConsoleQEMUWebSocketClient runs the QEMU console through Node's WebSocket, when
// a Node with one is installed (20 behind --experimental-websocket, 22+ by default).
func TestConsoleQEMUWebSocketClient(t *testing.T) {
	if testing.Short() {
		t.Skip("starts QEMU")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed")
	}
	if out, err := exec.Command(node, "--experimental-websocket", "-e", "console.log(typeof WebSocket)").Output(); err != nil ||
		strings.TrimSpace(string(out)) != "function" {
		t.Skip("this node has no WebSocket")
	}
	sock := startQEMU(t)
	f := newProxyFixture(t, Options{})
	script := filepath.Join(t.TempDir(), "rfb.js")
	if err := os.WriteFile(script, []byte(rfbClientJS), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	url := "ws://" + f.addr + "/?token=" + f.issue(t, Target{Socket: sock}, time.Minute)
	out, err := exec.CommandContext(ctx, node, "--experimental-websocket", "--no-warnings", script, url).CombinedOutput()
	if err != nil {
		t.Fatalf("node client: %v: %s", err, out)
	}
	if got := strings.TrimSpace(string(out)); !regexp.MustCompile(`^[1-9][0-9]*x[1-9][0-9]*$`).MatchString(got) {
		t.Fatalf("node client saw %q, want WIDTHxHEIGHT", got)
	}
	t.Logf("node client: ServerInit %s", out)
}
