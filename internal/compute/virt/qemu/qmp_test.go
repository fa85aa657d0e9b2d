package qemu

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakeQMP is a QMP server on a unix socket: it greets (unless told otherwise) and
// answers each request line with what reply returns, recording the requests.
type fakeQMP struct {
	path     string
	greeting string
	requests chan map[string]any
}

func newFakeQMP(t *testing.T, greeting string, reply func(req map[string]any) []string) *fakeQMP {
	t.Helper()
	f := &fakeQMP{path: filepath.Join(t.TempDir(), "qmp.sock"), greeting: greeting, requests: make(chan map[string]any, 16)}
	ln, err := net.Listen("unix", f.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go f.serve(conn, reply)
		}
	}()
	return f
}

func (f *fakeQMP) serve(conn net.Conn, reply func(map[string]any) []string) {
	defer conn.Close()
	conn.Write([]byte(f.greeting + "\n"))
	r := bufio.NewReader(conn)
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			return
		}
		var req map[string]any
		if err := json.Unmarshal(line, &req); err != nil {
			return
		}
		f.requests <- req
		lines := reply(req)
		if lines == nil {
			return // hang up
		}
		for _, l := range lines {
			conn.Write([]byte(l + "\n"))
		}
	}
}

const greeting = `{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}}, "capabilities": ["oob"]}}`

// answer replies to qmp_capabilities and to the commands in replies by name, with
// the reply's id filled in ("ID" in the template).
func answer(replies map[string][]string) func(map[string]any) []string {
	return func(req map[string]any) []string {
		id, _ := json.Marshal(req["id"])
		if req["execute"] == "qmp_capabilities" {
			return []string{`{"return": {}, "id": ` + string(id) + `}`}
		}
		out, ok := replies[req["execute"].(string)]
		if !ok {
			return nil
		}
		var lines []string
		for _, l := range out {
			lines = append(lines, strings.ReplaceAll(l, "ID", string(id)))
		}
		return lines
	}
}

func TestQMP(t *testing.T) {
	event := `{"event": "STOP", "timestamp": {"seconds": 1, "microseconds": 2}}`
	tests := []struct {
		name     string
		greeting string
		replies  map[string][]string
		command  string
		args     any
		want     string // the status decoded
		wantErr  string
	}{{
		name:    "return value",
		replies: map[string][]string{"query-status": {`{"return": {"status": "running", "running": true}, "id": ID}`}},
		command: "query-status", want: "running",
	}, {
		name: "events before the reply are skipped",
		replies: map[string][]string{"query-status": {event, event,
			`{"return": {"status": "paused", "running": false}, "id": ID}`}},
		command: "query-status", want: "paused",
	}, {
		name:    "a reply to an earlier id is skipped",
		replies: map[string][]string{"query-status": {`{"return": {"status": "stale"}, "id": 999}`, `{"return": {"status": "running"}, "id": ID}`}},
		command: "query-status", want: "running",
	}, {
		name:    "error reply",
		replies: map[string][]string{"migrate": {`{"error": {"class": "GenericError", "desc": "There's a migration process in progress"}, "id": ID}`}},
		command: "migrate", args: map[string]any{"uri": "exec:cat > /x"},
		wantErr: "QMP migrate: GenericError: There's a migration process in progress",
	}, {
		name:     "not a QMP server",
		greeting: `{"hello": "world"}`,
		command:  "query-status", wantErr: "not a QMP server",
	}, {
		name:    "server hangs up",
		replies: map[string][]string{},
		command: "quit", wantErr: "QMP quit: EOF",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := greeting
			if tt.greeting != "" {
				g = tt.greeting
			}
			f := newFakeQMP(t, g, answer(tt.replies))
			var reply struct {
				Status string `json:"status"`
			}
			err := qmp(context.Background(), f.path, tt.command, tt.args, &reply)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("qmp = %v, want an error with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if reply.Status != tt.want {
				t.Fatalf("status = %q, want %q", reply.Status, tt.want)
			}
			if req := <-f.requests; req["execute"] != "qmp_capabilities" {
				t.Fatalf("first request %v, want qmp_capabilities", req)
			}
			if req := <-f.requests; req["execute"] != tt.command {
				t.Fatalf("second request %v, want %s", req, tt.command)
			}
		})
	}
}

func TestQMPErrorIsTyped(t *testing.T) {
	f := newFakeQMP(t, greeting, answer(map[string][]string{
		"cont": {`{"error": {"class": "DeviceNotActive", "desc": "no"}, "id": ID}`}}))
	err := qmp(context.Background(), f.path, "cont", nil, nil)
	var qe *QMPError
	if !errors.As(err, &qe) || qe.Class != "DeviceNotActive" || qe.Command != "cont" {
		t.Fatalf("qmp = %#v, want a *QMPError of class DeviceNotActive", err)
	}
}

func TestQMPSendsArguments(t *testing.T) {
	f := newFakeQMP(t, greeting, answer(map[string][]string{"migrate": {`{"return": {}, "id": ID}`}}))
	if err := qmp(context.Background(), f.path, "migrate", map[string]any{"uri": "exec:cat > '/a b/state.tmp'"}, nil); err != nil {
		t.Fatal(err)
	}
	<-f.requests // qmp_capabilities
	req := <-f.requests
	args, _ := req["arguments"].(map[string]any)
	if req["execute"] != "migrate" || args["uri"] != "exec:cat > '/a b/state.tmp'" {
		t.Fatalf("request %v, want migrate with the uri", req)
	}
}

// TestQMPDeadline: a QEMU that never answers must not hang the caller.
func TestQMPDeadline(t *testing.T) {
	f := newFakeQMP(t, greeting, func(req map[string]any) []string {
		if req["execute"] == "qmp_capabilities" {
			return []string{`{"return": {}}`}
		}
		return []string{} // no reply, connection kept
	})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := qmp(ctx, f.path, "query-status", nil, nil)
	if err == nil || !strings.Contains(err.Error(), "QMP query-status") {
		t.Fatalf("qmp = %v, want a timeout error", err)
	}
}

// TestQMPCancel: cancelling a context without deadline ends a waiting read too.
func TestQMPCancel(t *testing.T) {
	f := newFakeQMP(t, greeting, func(req map[string]any) []string {
		if req["execute"] == "qmp_capabilities" {
			return []string{`{"return": {}}`}
		}
		return []string{}
	})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	err := qmp(ctx, f.path, "query-status", nil, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("qmp = %v, want context.Canceled", err)
	}
}

func TestQMPNoServer(t *testing.T) {
	err := qmp(context.Background(), filepath.Join(t.TempDir(), "none.sock"), "query-status", nil, nil)
	if err == nil || !strings.Contains(err.Error(), "QMP connect") {
		t.Fatalf("qmp = %v, want a connect error", err)
	}
}

// TestQMPPassesFile: executeFile sends the descriptor with the command line, as
// QEMU's getfd needs, and the server can write through it.
func TestQMPPassesFile(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "qmp.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan string, 1)
	go func() {
		conn, err := ln.AcceptUnix()
		if err != nil {
			got <- err.Error()
			return
		}
		defer conn.Close()
		conn.Write([]byte(greeting + "\n"))
		buf, oob := make([]byte, 4096), make([]byte, 256)
		for {
			n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
			if err != nil {
				got <- "read: " + err.Error()
				return
			}
			var req map[string]any
			json.Unmarshal(buf[:n], &req)
			id, _ := json.Marshal(req["id"])
			conn.Write([]byte(`{"return": {}, "id": ` + string(id) + "}\n"))
			if req["execute"] != "getfd" {
				continue
			}
			msgs, err := syscall.ParseSocketControlMessage(oob[:oobn])
			if err != nil || len(msgs) != 1 {
				got <- fmt.Sprintf("getfd without a descriptor (%v)", err)
				return
			}
			fds, err := syscall.ParseUnixRights(&msgs[0])
			if err != nil || len(fds) != 1 {
				got <- fmt.Sprintf("getfd: %v", err)
				return
			}
			f := os.NewFile(uintptr(fds[0]), "passed")
			f.WriteString("written by the server")
			f.Close()
			got <- ""
			return
		}
	}()
	path := filepath.Join(dir, "state.tmp")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := dialQMP(context.Background(), sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.executeFile(context.Background(), "getfd", map[string]any{"fdname": "x"}, nil, f); err != nil {
		t.Fatal(err)
	}
	if msg := <-got; msg != "" {
		t.Fatal(msg)
	}
	if data, _ := os.ReadFile(path); string(data) != "written by the server" {
		t.Fatalf("the file has %q, want what the server wrote through the passed descriptor", data)
	}
}
