package console

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a log sink the relay goroutines may write while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// echoTarget listens on a unix socket and echoes every connection, standing in for a
// VNC server; it greets with hello first, as an RFB server speaks first.
func echoTarget(t testing.TB, hello string) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "vnc.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.WriteString(c, hello)
				io.Copy(c, c)
			}()
		}
	}()
	return sock
}

type proxyFixture struct {
	tokens *MemoryTokens
	proxy  *Proxy
	addr   string // host:port of the proxy
	log    *syncBuffer
}

func newProxyFixture(t testing.TB, opts Options) *proxyFixture {
	t.Helper()
	f := &proxyFixture{tokens: NewMemoryTokens(), log: &syncBuffer{}}
	opts.Tokens = f.tokens
	opts.Logger = slog.New(slog.NewTextHandler(f.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f.proxy = NewProxy(opts)
	srv := httptest.NewServer(f.proxy)
	t.Cleanup(func() { f.proxy.Close(); srv.Close() })
	f.addr = strings.TrimPrefix(srv.URL, "http://")
	return f
}

func (f *proxyFixture) issue(t testing.TB, target Target, ttl time.Duration) string {
	t.Helper()
	tok, err := f.tokens.Issue(target, ttl)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// expectEcho reads hello from ws, then checks a message comes back.
func expectEcho(t *testing.T, ws *wsConn, hello string) {
	t.Helper()
	ws.conn.SetDeadline(time.Now().Add(5 * time.Second))
	got := make([]byte, len(hello))
	if _, err := io.ReadFull(ws, got); err != nil || string(got) != hello {
		t.Fatalf("greeting %q, %v; want %q", got, err, hello)
	}
	if _, err := ws.Write([]byte("ping?")); err != nil {
		t.Fatal(err)
	}
	got = make([]byte, 5)
	if _, err := io.ReadFull(ws, got); err != nil || string(got) != "ping?" {
		t.Fatalf("echo %q, %v", got, err)
	}
}

func TestProxyWebsocket(t *testing.T) {
	sock := echoTarget(t, "RFB 003.008\n")
	f := newProxyFixture(t, Options{AllowedOrigins: []string{"dashboard.example"}})
	target := Target{Socket: sock}
	var tokens []string
	issue := func(ttl time.Duration) string {
		tok := f.issue(t, target, ttl)
		tokens = append(tokens, tok)
		return tok
	}

	tests := []struct {
		name   string
		path   func(tok string) string
		header func(tok string) http.Header
		ttl    time.Duration
		status int
	}{
		{"noVNC's path ?token=", func(tok string) string { return "/?token=" + tok }, nil, time.Minute, 101},
		{"websockify path", func(tok string) string { return "/websockify?token=" + tok }, nil, time.Minute, 101},
		{"token cookie", func(string) string { return "/websockify" },
			func(tok string) http.Header { return http.Header{"Cookie": {"lang=en; token=" + tok}} }, time.Minute, 101},
		{"allowed origin", func(tok string) string { return "/?token=" + tok },
			func(string) http.Header { return http.Header{"Origin": {"https://dashboard.example"}} }, time.Minute, 101},
		{"binary subprotocol", func(tok string) string { return "/?token=" + tok },
			func(string) http.Header { return http.Header{"Sec-Websocket-Protocol": {"binary"}} }, time.Minute, 101},
		{"expired token", func(tok string) string { return "/?token=" + tok }, nil, time.Millisecond, 403},
		{"unknown token", func(string) string { return "/?token=nope" }, nil, time.Minute, 403},
		{"no token", func(string) string { return "/" }, nil, time.Minute, 403},
		{"foreign origin", func(tok string) string { return "/?token=" + tok },
			func(string) http.Header { return http.Header{"Origin": {"http://evil.example"}} }, time.Minute, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := issue(tt.ttl)
			time.Sleep(2 * time.Millisecond) // past the expired case's ttl
			var h http.Header
			if tt.header != nil {
				h = tt.header(tok)
			}
			ws, resp, err := dialWS(f.addr, tt.path(tok), h)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if tt.status != 101 {
				return
			}
			defer ws.Close()
			if got := resp.Header.Get("Sec-WebSocket-Protocol"); h.Get("Sec-WebSocket-Protocol") != got {
				t.Errorf("subprotocol %q, want %q", got, h.Get("Sec-WebSocket-Protocol"))
			}
			expectEcho(t, ws, "RFB 003.008\n")

			// Single use: the same token again is refused before any upgrade.
			_, resp, err = dialWS(f.addr, tt.path(tok), h)
			if err != nil || resp.StatusCode != 403 {
				t.Fatalf("second use: %v %v, want 403", resp, err)
			}
		})
	}

	t.Run("a foreign origin does not burn the token", func(t *testing.T) {
		tok := issue(time.Minute)
		_, resp, _ := dialWS(f.addr, "/?token="+tok, http.Header{"Origin": {"http://evil.example"}})
		if resp.StatusCode != 403 {
			t.Fatalf("foreign origin: %d", resp.StatusCode)
		}
		ws, resp, err := dialWS(f.addr, "/?token="+tok, nil)
		if err != nil || resp.StatusCode != 101 {
			t.Fatalf("then the real client: %v %v", resp, err)
		}
		defer ws.Close()
		expectEcho(t, ws, "RFB 003.008\n")
	})

	t.Run("guest unreachable", func(t *testing.T) {
		tok := f.issue(t, Target{Socket: filepath.Join(t.TempDir(), "gone.sock")}, time.Minute)
		tokens = append(tokens, tok)
		_, resp, err := dialWS(f.addr, "/?token="+tok, nil)
		if err != nil || resp.StatusCode != http.StatusBadGateway {
			t.Fatalf("%v %v, want 502", resp, err)
		}
	})

	t.Run("guest side closes: client gets close 1000", func(t *testing.T) {
		sock := filepath.Join(t.TempDir(), "once.sock")
		ln, err := net.Listen("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			c, err := ln.Accept()
			if err == nil {
				io.WriteString(c, "bye")
				c.Close()
			}
		}()
		tok := f.issue(t, Target{Socket: sock}, time.Minute)
		tokens = append(tokens, tok)
		ws, resp, err := dialWS(f.addr, "/?token="+tok, nil)
		if err != nil || resp.StatusCode != 101 {
			t.Fatalf("%v %v", resp, err)
		}
		defer ws.Close()
		ws.conn.SetDeadline(time.Now().Add(5 * time.Second))
		got, err := io.ReadAll(ws)
		if string(got) != "bye" || err != nil || ws.peerClose != closeNormal {
			t.Fatalf("read %q, %v, close %d; want bye, clean, 1000", got, err, ws.peerClose)
		}
	})

	t.Run("Close ends open consoles", func(t *testing.T) {
		f := newProxyFixture(t, Options{})
		tok := f.issue(t, target, time.Minute)
		tokens = append(tokens, tok)
		ws, _, err := dialWS(f.addr, "/?token="+tok, nil)
		if err != nil || ws == nil {
			t.Fatal(err)
		}
		defer ws.Close()
		expectEcho(t, ws, "RFB 003.008\n")
		f.proxy.Close()
		ws.conn.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadAll(ws); err != nil || ws.peerClose != closeGoingAway {
			t.Fatalf("after Close: %v, close %d; want 1001", err, ws.peerClose)
		}
	})

	// Logs carry token prefixes only.
	logs := f.log.String()
	if !strings.Contains(logs, "the token is invalid or has expired") {
		t.Errorf("no invalid-token log line in:\n%s", logs)
	}
	for _, tok := range tokens {
		if strings.Contains(logs, tok) {
			t.Fatalf("a full token is in the log:\n%s", logs)
		}
	}
}

func TestProxyFiles(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "vnc_lite.html"), []byte("<title>noVNC</title>"), 0o644); err != nil {
		t.Fatal(err)
	}
	f := newProxyFixture(t, Options{WebRoot: root})
	tests := []struct {
		method, path string
		status       int
		body         string
	}{
		{"GET", "/vnc_lite.html?path=%3Ftoken%3Dx", 200, "<title>noVNC</title>"},
		{"HEAD", "/vnc_lite.html", 200, ""},
		{"GET", "/", 404, ""}, // no directory listings
		{"GET", "/missing.js", 404, ""},
		{"POST", "/vnc_lite.html", 405, ""},
		{"GET", "/../../etc/passwd", 404, ""},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, "http://"+f.addr+tt.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status || (tt.body != "" && string(body) != tt.body) {
			t.Errorf("%s %s: %d %q, want %d %q", tt.method, tt.path, resp.StatusCode, body, tt.status, tt.body)
		}
	}
}

// TestProxyHandshakeRefused checks a broken handshake is a plain HTTP error and does
// not consume the token.
func TestProxyHandshakeRefused(t *testing.T) {
	f := newProxyFixture(t, Options{})
	tok := f.issue(t, Target{Socket: echoTarget(t, "hi")}, time.Minute)
	req, _ := http.NewRequest("GET", "http://"+f.addr+"/?token="+tok, nil)
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Sec-WebSocket-Version", "8")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUpgradeRequired || resp.Header.Get("Sec-WebSocket-Version") != "13" {
		t.Fatalf("status %d, version %q; want 426 and 13", resp.StatusCode, resp.Header.Get("Sec-WebSocket-Version"))
	}
	if _, err := f.tokens.Consume(t.Context(), tok); errors.Is(err, ErrInvalidToken) {
		t.Fatal("a refused handshake consumed the token")
	}
}
