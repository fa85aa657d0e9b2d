package console

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

// websocketGUID is RFC 6455 §1.3's constant for Sec-WebSocket-Accept.
const websocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// acceptKey is the Sec-WebSocket-Accept answer to a client's Sec-WebSocket-Key.
func acceptKey(key string) string {
	h := sha1.Sum([]byte(key + websocketGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

// isUpgrade tells a websocket opening handshake from a plain request (for the noVNC
// files): websockify, too, upgrades on any path when the headers ask for it.
func isUpgrade(r *http.Request) bool {
	return headerHasToken(r.Header, "Upgrade", "websocket")
}

// handshakeError is a refused opening handshake: the HTTP status to answer with.
type handshakeError struct {
	status int
	msg    string
}

func (e *handshakeError) Error() string { return "websocket handshake: " + e.msg }

// checkHandshake validates a client's opening handshake (§4.2.1) and returns its key
// and the subprotocol to answer with ("" for none).
func checkHandshake(r *http.Request) (key, subprotocol string, err error) {
	bad := func(status int, format string, args ...any) (string, string, error) {
		return "", "", &handshakeError{status: status, msg: fmt.Sprintf(format, args...)}
	}
	if r.Method != http.MethodGet {
		return bad(http.StatusMethodNotAllowed, "method %s, not GET", r.Method)
	}
	if !r.ProtoAtLeast(1, 1) {
		return bad(http.StatusBadRequest, "%s, not HTTP/1.1", r.Proto)
	}
	if !headerHasToken(r.Header, "Connection", "upgrade") || !headerHasToken(r.Header, "Upgrade", "websocket") {
		return bad(http.StatusBadRequest, "not an upgrade to websocket")
	}
	if v := r.Header.Get("Sec-WebSocket-Version"); v != "13" {
		return bad(http.StatusUpgradeRequired, "version %q, not 13", v)
	}
	key = r.Header.Get("Sec-WebSocket-Key")
	if raw, err := base64.StdEncoding.DecodeString(key); err != nil || len(raw) != 16 {
		return bad(http.StatusBadRequest, "Sec-WebSocket-Key %q is not 16 bytes in base64", key)
	}
	// noVNC 1.x offers no subprotocol; older clients offered "binary" (and "base64",
	// which websockify no longer speaks). Offering only others is refused, as websockify.
	offered := headerTokens(r.Header, "Sec-WebSocket-Protocol")
	if len(offered) > 0 {
		for _, p := range offered {
			if p == "binary" {
				return key, "binary", nil
			}
		}
		return bad(http.StatusBadRequest, "subprotocols %v offered, only binary is spoken", offered)
	}
	return key, "", nil
}

// upgrade answers a checked handshake with 101 and takes the connection over from
// net/http. The returned reader holds whatever the client sent past the request.
func upgrade(w http.ResponseWriter, key, subprotocol string) (net.Conn, *bufio.Reader, error) {
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, nil, fmt.Errorf("websocket hijack: %w", err)
	}
	// The server's read/write timeouts were for the HTTP request, not for a console
	// that stays open for hours.
	if err := conn.SetDeadline(time.Time{}); err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("websocket clear deadline: %w", err)
	}
	var b strings.Builder
	b.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n")
	b.WriteString("Sec-WebSocket-Accept: " + acceptKey(key) + "\r\n")
	if subprotocol != "" {
		b.WriteString("Sec-WebSocket-Protocol: " + subprotocol + "\r\n")
	}
	b.WriteString("\r\n")
	if _, err := conn.Write([]byte(b.String())); err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("websocket handshake reply: %w", err)
	}
	return conn, brw.Reader, nil
}

// headerTokens returns the comma-separated tokens of every name header, trimmed.
func headerTokens(h http.Header, name string) []string {
	var out []string
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				out = append(out, t)
			}
		}
	}
	return out
}

// headerHasToken reports whether name lists token, case-insensitively, as Connection
// and Upgrade values are (Firefox sends "Connection: keep-alive, Upgrade").
func headerHasToken(h http.Header, name, token string) bool {
	for _, t := range headerTokens(h, name) {
		if strings.EqualFold(t, token) {
			return true
		}
	}
	return false
}
