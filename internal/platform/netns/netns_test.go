package netns

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestListenServesOnlyInsideTheNamespace binds the same address in a fresh namespace
// and checks that a client inside reaches it while the host's namespace does not.
func TestListenServesOnlyInsideTheNamespace(t *testing.T) {
	name := newNamespace(t)
	if err := exec.Command("ip", "-n", name, "addr", "add", "169.254.169.254/32", "dev", "lo").Run(); err != nil {
		t.Fatal(err)
	}
	ln, err := Listen(name, "tcp", "169.254.169.254:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "inside")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	url := fmt.Sprintf("http://%s/", ln.Addr())

	out, err := exec.Command("ip", "netns", "exec", name, "python3", "-c",
		"import urllib.request,sys; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())", url).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "inside" {
		t.Fatalf("from inside the namespace: %v: %q", err, out)
	}
	conn, err := net.DialTimeout("tcp", ln.Addr().String(), 300*time.Millisecond)
	if err == nil {
		conn.Close()
		t.Fatalf("the host's namespace reached a listener of namespace %s", name)
	}
}

func TestDoUnknownNamespace(t *testing.T) {
	err := Do("nimbus-no-such-namespace", func() error { return nil })
	if err == nil || !strings.Contains(err.Error(), "nimbus-no-such-namespace") {
		t.Fatalf("err = %v, want one naming the namespace", err)
	}
}

func newNamespace(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	name := fmt.Sprintf("nimbus-netns-test-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "delete", name).Run() })
	if err := exec.Command("ip", "-n", name, "link", "set", "lo", "up").Run(); err != nil {
		t.Fatal(err)
	}
	return name
}
