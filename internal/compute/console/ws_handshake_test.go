package console

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestAcceptKey(t *testing.T) {
	// RFC 6455 §1.3's example.
	if got := acceptKey("dGhlIHNhbXBsZSBub25jZQ=="); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("accept key %q", got)
	}
}

func TestCheckHandshake(t *testing.T) {
	good := http.Header{
		"Upgrade":               {"websocket"},
		"Connection":            {"Upgrade"},
		"Sec-Websocket-Version": {"13"},
		"Sec-Websocket-Key":     {"dGhlIHNhbXBsZSBub25jZQ=="},
	}
	with := func(k, v string) http.Header {
		h := good.Clone()
		if v == "" {
			h.Del(k)
		} else {
			h.Set(k, v)
		}
		return h
	}
	tests := []struct {
		name        string
		method      string
		header      http.Header
		status      int // 0: accepted
		subprotocol string
	}{
		{"noVNC 1.x", "GET", good, 0, ""},
		{"Firefox's Connection list", "GET", with("Connection", "keep-alive, Upgrade"), 0, ""},
		{"case-insensitive tokens", "GET", with("Upgrade", "WebSocket"), 0, ""},
		{"binary offered", "GET", with("Sec-Websocket-Protocol", "base64, binary"), 0, "binary"},
		{"only base64 offered", "GET", with("Sec-Websocket-Protocol", "base64"), http.StatusBadRequest, ""},
		{"POST", "POST", good, http.StatusMethodNotAllowed, ""},
		{"no Connection upgrade", "GET", with("Connection", "keep-alive"), http.StatusBadRequest, ""},
		{"version 8", "GET", with("Sec-Websocket-Version", "8"), http.StatusUpgradeRequired, ""},
		{"no key", "GET", with("Sec-Websocket-Key", ""), http.StatusBadRequest, ""},
		{"short key", "GET", with("Sec-Websocket-Key", "c2hvcnQ="), http.StatusBadRequest, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "/?token=x", nil)
			r.Header = tt.header
			key, proto, err := checkHandshake(r)
			if tt.status == 0 {
				if err != nil || key != "dGhlIHNhbXBsZSBub25jZQ==" || proto != tt.subprotocol {
					t.Fatalf("got %q %q %v, want the key and %q", key, proto, err, tt.subprotocol)
				}
				return
			}
			var he *handshakeError
			if !errors.As(err, &he) || he.status != tt.status {
				t.Fatalf("err %v, want status %d", err, tt.status)
			}
		})
	}
}
