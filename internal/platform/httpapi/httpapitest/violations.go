// Package httpapitest holds a service's answers to its routes' response schemas
// in tests: a logger that fails the test on every response schema violation a
// server logs (for the services' own test servers), and a reader of the
// violations in a Nimbus log (for the end-to-end clouds).
package httpapitest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// Violation is one response that broke its route's response schema, as the
// server logged it (httpapi.ResponseViolation).
type Violation struct {
	Service, Route, Version, Status string
	// Field is the path of the offending value in the body ("server.status"),
	// empty for the body itself; Message is the validator's.
	Field, Message string
	RequestID      string
}

func (v Violation) String() string {
	field := v.Field
	if field == "" {
		field = "(the body)"
	}
	version := ""
	if v.Version != "" && v.Version != "0.0" { // services without microversions log 0.0
		version = " at version " + v.Version
	}
	return fmt.Sprintf("%s %s%s answered %s: %s: %s (request %s)",
		v.Service, v.Route, version, v.Status, field, v.Message, v.RequestID)
}

// violationFrom reads a violation from a log record's attributes, by the keys
// httpapi logs it with.
func violationFrom(attrs map[string]string) Violation {
	return Violation{
		Service: attrs["service"], Route: attrs["route"], Version: attrs["version"], Status: attrs["status"],
		Field: attrs["field"], Message: attrs["error"], RequestID: attrs["request_id"],
	}
}

// FailOnViolations is a logger for a service under test built with
// CheckResponses on: each response schema violation the service logs fails t
// (t.Errorf, naming the route, version, field and message), and every record
// also goes to next (nil: discarded). Violations logged after t has finished
// (a request still in flight at cleanup) are dropped, as t can no longer fail.
//
//	svc, err := image.New(ctx, image.Options{..., CheckResponses: true,
//		Logger: httpapitest.FailOnViolations(t, nil)})
func FailOnViolations(t testing.TB, next slog.Handler) *slog.Logger {
	h := &failHandler{t: t, next: next, state: &failState{}}
	t.Cleanup(func() {
		h.state.mu.Lock()
		h.state.done = true
		h.state.mu.Unlock()
	})
	return slog.New(h)
}

type failState struct {
	mu   sync.Mutex
	done bool
}

type failHandler struct {
	t     testing.TB
	next  slog.Handler
	attrs []slog.Attr // from WithAttrs
	state *failState
}

func (h *failHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return level >= slog.LevelError || h.next != nil && h.next.Enabled(ctx, level)
}

func (h *failHandler) Handle(ctx context.Context, rec slog.Record) error {
	if rec.Message == httpapi.ResponseViolation {
		attrs := map[string]string{}
		add := func(a slog.Attr) bool {
			attrs[a.Key] = a.Value.Resolve().String()
			return true
		}
		for _, a := range h.attrs {
			add(a)
		}
		rec.Attrs(add)
		h.state.mu.Lock()
		if !h.state.done {
			h.t.Errorf("%s: %s", httpapi.ResponseViolation, violationFrom(attrs))
		}
		h.state.mu.Unlock()
	}
	if h.next != nil && h.next.Enabled(ctx, rec.Level) {
		return h.next.Handle(ctx, rec)
	}
	return nil
}

func (h *failHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	cp := *h
	cp.attrs = append(append([]slog.Attr(nil), h.attrs...), attrs...)
	if h.next != nil {
		cp.next = h.next.WithAttrs(attrs)
	}
	return &cp
}

func (h *failHandler) WithGroup(name string) slog.Handler {
	cp := *h
	if h.next != nil {
		cp.next = h.next.WithGroup(name)
	}
	return &cp
}

// ScanViolations reads a Nimbus log, in either of nimbus up's formats (slog's
// text or JSON lines, [log] format), and returns the response schema
// violations it holds, in order. Lines that are not log records (a child
// process's output) are skipped.
func ScanViolations(r io.Reader) ([]Violation, error) {
	var found []Violation
	err := scanRecords(r, httpapi.ResponseViolation, func(attrs map[string]string) {
		found = append(found, violationFrom(attrs))
	})
	return found, err
}

// Unchecked is a route that answered a success without a response schema
// (httpapi.ResponseUnchecked): what the response check does not cover yet.
type Unchecked struct{ Service, Route, Version, Status string }

func (u Unchecked) String() string {
	version := ""
	if u.Version != "" && u.Version != "0.0" {
		version = " at version " + u.Version
	}
	return fmt.Sprintf("%s %s%s answering %s", u.Service, u.Route, version, u.Status)
}

// ScanUnchecked reads a Nimbus log as ScanViolations does, and returns the
// routes it logged as answered without a response schema.
func ScanUnchecked(r io.Reader) ([]Unchecked, error) {
	var found []Unchecked
	err := scanRecords(r, httpapi.ResponseUnchecked, func(attrs map[string]string) {
		found = append(found, Unchecked{Service: attrs["service"], Route: attrs["route"], Version: attrs["version"],
			Status: attrs["status"]})
	})
	return found, err
}

// scanRecords calls found with the attributes of each record of the log whose
// message is msg.
func scanRecords(r io.Reader, msg string, found func(attrs map[string]string)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, msg) {
			continue
		}
		var attrs map[string]string
		if strings.HasPrefix(line, "{") {
			attrs = jsonRecord(line)
		} else {
			attrs = textRecord(line)
		}
		if attrs["msg"] == msg {
			found(attrs)
		}
	}
	return sc.Err()
}

// jsonRecord is a slog JSON line's top-level attributes as strings.
func jsonRecord(line string) map[string]string {
	var rec map[string]any
	d := json.NewDecoder(strings.NewReader(line))
	d.UseNumber()
	if d.Decode(&rec) != nil {
		return nil
	}
	attrs := make(map[string]string, len(rec))
	for k, v := range rec {
		attrs[k] = fmt.Sprint(v)
	}
	return attrs
}

// textRecord is a slog text line's key=value attributes, values unquoted (slog
// quotes a value as Go's strconv.Quote does when it holds spaces or quotes).
func textRecord(line string) map[string]string {
	attrs := map[string]string{}
	rest := line
	for rest != "" {
		rest = strings.TrimLeft(rest, " ")
		key, after, ok := strings.Cut(rest, "=")
		if !ok || key == "" || strings.ContainsAny(key, ` "`) {
			return attrs
		}
		var value string
		if strings.HasPrefix(after, `"`) {
			quoted, err := strconv.QuotedPrefix(after)
			if err != nil {
				return attrs
			}
			value, _ = strconv.Unquote(quoted)
			rest = after[len(quoted):]
		} else {
			value, rest, _ = strings.Cut(after, " ")
		}
		attrs[key] = value
	}
	return attrs
}
