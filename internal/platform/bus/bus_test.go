package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func testLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startBus starts a bus (embedded when url is empty) closed at the end of the test.
func startBus(t *testing.T, url string) *Bus {
	t.Helper()
	b, err := Start(Options{URL: url, Log: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

// handle registers h and waits until the server knows the subscription, so a call
// from another connection cannot overtake it.
func handle(t *testing.T, b *Bus, subject string, h func(ctx context.Context, req json.RawMessage) (any, error)) {
	t.Helper()
	if err := b.Handle(subject, h); err != nil {
		t.Fatal(err)
	}
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
}

func callCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

type addReq struct {
	A, B int
	Name string
}

type addResp struct {
	Sum      int    `json:"sum"`
	Greeting string `json:"greeting"`
}

func addHandler(_ context.Context, raw json.RawMessage) (any, error) {
	var req addReq
	if err := json.Unmarshal(raw, &req); err != nil {
		return nil, err
	}
	return addResp{Sum: req.A + req.B, Greeting: "hello " + req.Name}, nil
}

func TestStartEmbedded(t *testing.T) {
	b := startBus(t, "")
	if !strings.HasPrefix(b.URL, "nats://127.0.0.1:") {
		t.Errorf("URL = %q, want nats://127.0.0.1:PORT", b.URL)
	}
	if strings.HasSuffix(b.URL, ":0") || strings.HasSuffix(b.URL, ":-1") {
		t.Errorf("URL = %q has no real port", b.URL)
	}
	if b.server == nil {
		t.Error("embedded bus owns no server")
	}
	// Two embedded buses get different ports.
	other := startBus(t, "")
	if other.URL == b.URL {
		t.Errorf("two embedded buses share URL %s", b.URL)
	}
}

// TestEmbeddedToken: with a token the embedded server admits only clients that
// present it, and the URL it gives out carries it (and is redacted for logs).
func TestEmbeddedToken(t *testing.T) {
	b, err := Start(Options{Token: "s3cret", Log: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	if !strings.HasPrefix(b.URL, "nats://s3cret@127.0.0.1:") {
		t.Fatalf("URL = %q, want the token in it", b.URL)
	}
	if strings.Contains(b.Redacted(), "s3cret") || !strings.HasPrefix(b.Redacted(), "nats://***@127.0.0.1:") {
		t.Errorf("Redacted() = %q", b.Redacted())
	}
	handle(t, b, "test.add", addHandler)
	joined := startBus(t, b.URL)
	var resp addResp
	if err := joined.Call(callCtx(t), "test.add", addReq{A: 1, B: 2}, &resp); err != nil || resp.Sum != 3 {
		t.Fatalf("a client with the token: %v %+v", err, resp)
	}
	for _, url := range []string{strings.Replace(b.URL, "s3cret@", "", 1), strings.Replace(b.URL, "s3cret", "wrong", 1)} {
		if other, err := Start(Options{URL: url, Log: testLogger()}); err == nil {
			other.Close()
			t.Errorf("%s joined a bus that wants a token", redact(url))
		}
	}
}

func TestStartUnreachable(t *testing.T) {
	b, err := Start(Options{URL: "nats://127.0.0.1:1", Log: testLogger()})
	if err == nil {
		b.Close()
		t.Fatal("Start with an unreachable URL succeeded")
	}
	if !strings.Contains(err.Error(), "nats://127.0.0.1:1") {
		t.Errorf("error %q does not name the URL", err)
	}
}

func TestCallRoundTrip(t *testing.T) {
	b := startBus(t, "")
	handle(t, b, "test.add", addHandler)
	var gotDeadline atomic.Bool
	handle(t, b, "test.nil", func(ctx context.Context, _ json.RawMessage) (any, error) {
		_, ok := ctx.Deadline()
		gotDeadline.Store(ok)
		return nil, nil
	})
	handle(t, b, "test.echo", func(_ context.Context, raw json.RawMessage) (any, error) {
		return raw, nil
	})

	tests := []struct {
		name    string
		subject string
		req     any
		want    addResp
	}{
		{"struct", "test.add", addReq{A: 2, B: 40, Name: "world"}, addResp{Sum: 42, Greeting: "hello world"}},
		{"map", "test.add", map[string]any{"A": -1, "B": 1, "Name": "ünïcode"}, addResp{Sum: 0, Greeting: "hello ünïcode"}},
		{"nil result", "test.nil", addReq{}, addResp{}},
		{"echo", "test.echo", addResp{Sum: 7, Greeting: "hi"}, addResp{Sum: 7, Greeting: "hi"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got addResp
			if err := b.Call(callCtx(t), tt.subject, tt.req, &got); err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Call(%s) = %+v, want %+v", tt.subject, got, tt.want)
			}
		})
	}
	if !gotDeadline.Load() {
		t.Error("handler context has no deadline")
	}
	// A nil resp discards the answer.
	if err := b.Call(callCtx(t), "test.add", addReq{A: 1}, nil); err != nil {
		t.Errorf("Call with nil resp: %v", err)
	}
	// Without a deadline in ctx, Call still works (it applies DefaultRPCTimeout).
	var got addResp
	if err := b.Call(context.Background(), "test.add", addReq{A: 1, B: 1}, &got); err != nil || got.Sum != 2 {
		t.Errorf("Call without deadline = %+v, %v", got, err)
	}
}

func TestCallErrors(t *testing.T) {
	b := startBus(t, "")
	handle(t, b, "test.fail", func(context.Context, json.RawMessage) (any, error) {
		return nil, fmt.Errorf("quota exceeded for project %q", "demo")
	})
	handle(t, b, "test.unencodable", func(context.Context, json.RawMessage) (any, error) {
		return make(chan int), nil
	})
	handle(t, b, "test.add", addHandler)

	tests := []struct {
		name       string
		subject    string
		req, resp  any
		remote     bool   // want a *RemoteError
		wantSubstr string // in the error text
	}{
		{"handler error", "test.fail", addReq{}, &addResp{}, true, `quota exceeded for project "demo"`},
		{"unencodable result", "test.unencodable", addReq{}, &addResp{}, true, "json"},
		{"handler rejects request", "test.add", "not an object", &addResp{}, true, "cannot unmarshal"},
		{"unencodable request", "test.add", make(chan int), &addResp{}, false, "encode test.add request"},
		{"result does not fit resp", "test.add", addReq{}, &[]string{}, false, "cannot unmarshal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := b.Call(callCtx(t), tt.subject, tt.req, tt.resp)
			if err == nil {
				t.Fatal("Call succeeded, want error")
			}
			var re *RemoteError
			if errors.As(err, &re) != tt.remote {
				t.Errorf("error %v (%T): RemoteError = %v, want %v", err, err, !tt.remote, tt.remote)
			}
			if !strings.Contains(err.Error(), tt.wantSubstr) {
				t.Errorf("error %q does not contain %q", err, tt.wantSubstr)
			}
			if tt.remote && re.Msg != err.Error() {
				t.Errorf("RemoteError.Msg = %q, Error() = %q", re.Msg, err.Error())
			}
		})
	}
	// An API error keeps its status, kind and message.
	handle(t, b, "test.notfound", func(context.Context, json.RawMessage) (any, error) {
		return nil, fmt.Errorf("lookup: %w", statusErr{})
	})
	err := b.Call(callCtx(t), "test.notfound", nil, nil)
	var re *RemoteError
	if !errors.As(err, &re) || re.Status != 404 || re.Kind != "PortNotFound" || re.Message != "No port 10.0.0.5." || re.Msg != "lookup: 404" {
		t.Errorf("Call error = %#v, want the handler's status, kind and message", err)
	}
	if err := b.Call(callCtx(t), "test.fail", nil, nil); !errors.As(err, &re) || re.Status != 0 || re.Kind != "" {
		t.Errorf("a plain error got an API meaning: %#v", err)
	}

	// The exact text survives the trip.
	err = b.Call(callCtx(t), "test.fail", nil, nil)
	if !errors.As(err, &re) || re.Msg != `quota exceeded for project "demo"` {
		t.Errorf("Call error = %#v, want RemoteError with the handler's text", err)
	}
}

// statusErr is an API error as httpapi.Error is one.
type statusErr struct{}

func (statusErr) Error() string                   { return "404" }
func (statusErr) APIError() (int, string, string) { return 404, "PortNotFound", "No port 10.0.0.5." }

func TestCallDeadline(t *testing.T) {
	b := startBus(t, "")
	// A plain subscriber receives the request but never answers.
	var received atomic.Int32
	unsubscribe, err := b.Subscribe("test.silent", func([]byte) { received.Add(1) })
	if err != nil {
		t.Fatal(err)
	}
	defer unsubscribe()
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	// Call in a goroutine so that a Call ignoring its deadline fails the test instead
	// of hanging it.
	done := make(chan error, 1)
	go func() { done <- b.Call(ctx, "test.silent", addReq{}, nil) }()
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Call with a 200ms deadline did not return within 10s")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Call error = %v, want context.DeadlineExceeded", err)
	}
	if !strings.Contains(err.Error(), "test.silent") {
		t.Errorf("error %q does not name the subject", err)
	}
	if received.Load() != 1 {
		t.Errorf("silent subscriber got %d requests, want 1", received.Load())
	}

	// A cancelled context ends the call too.
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	go func() { done <- b.Call(ctx, "test.silent", addReq{}, nil) }()
	select {
	case err = <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Call with cancelled ctx = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Call with a cancelled context did not return within 10s")
	}
}

func TestCallNoResponders(t *testing.T) {
	b := startBus(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	err := b.Call(ctx, "test.nobody", addReq{}, nil)
	if err == nil {
		t.Fatal("Call to a subject nobody serves succeeded")
	}
	var re *RemoteError
	if errors.As(err, &re) {
		t.Errorf("no responders reported as a remote error: %v", err)
	}
	// NATS tells the caller at once; it must not wait out the whole deadline.
	if elapsed := time.Since(start); elapsed > 10*time.Second {
		t.Errorf("Call with no responders took %v", elapsed)
	}
}

func TestPublishSubscribe(t *testing.T) {
	b := startBus(t, "")
	type event struct {
		ID   string `json:"id"`
		Kind string `json:"kind"`
	}
	first := make(chan event, 10)
	second := make(chan event, 10)
	sub := func(ch chan event) func() {
		unsub, err := b.Subscribe("test.events", func(data []byte) {
			var e event
			if err := json.Unmarshal(data, &e); err != nil {
				t.Errorf("bad event %q: %v", data, err)
				return
			}
			ch <- e
		})
		if err != nil {
			t.Fatal(err)
		}
		return unsub
	}
	unsubFirst := sub(first)
	unsubSecond := sub(second)
	defer unsubSecond()

	want := []event{{"1", "created"}, {"2", "updated"}, {"3", "deleted"}}
	for _, e := range want {
		if err := b.Publish("test.events", e); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Publish("test.other", event{"x", "elsewhere"}); err != nil {
		t.Fatal(err)
	}
	// Every subscriber gets every event, in order (fan-out, unlike Handle).
	for name, ch := range map[string]chan event{"first": first, "second": second} {
		for i, w := range want {
			select {
			case got := <-ch:
				if got != w {
					t.Errorf("%s subscriber event %d = %+v, want %+v", name, i, got, w)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("%s subscriber: event %d not delivered", name, i)
			}
		}
	}

	// After unsubscribing, first gets nothing more; second proves the event was sent.
	unsubFirst()
	if err := b.Publish("test.events", event{"4", "late"}); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-second:
		if got.ID != "4" {
			t.Errorf("second subscriber got %+v, want event 4", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("event 4 not delivered")
	}
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-first:
		t.Errorf("unsubscribed subscriber got %+v", got)
	default:
	}

	if err := b.Publish("test.events", make(chan int)); err == nil {
		t.Error("Publish of an unencodable event succeeded")
	}
}

func TestHandleQueueGroup(t *testing.T) {
	b := startBus(t, "")
	const calls = 100
	var mu sync.Mutex
	perHandler := map[string]int{}
	perRequest := map[int]int{}
	handler := func(name string) func(context.Context, json.RawMessage) (any, error) {
		return func(_ context.Context, raw json.RawMessage) (any, error) {
			var n int
			if err := json.Unmarshal(raw, &n); err != nil {
				return nil, err
			}
			mu.Lock()
			perHandler[name]++
			perRequest[n]++
			mu.Unlock()
			return name, nil
		}
	}
	handle(t, b, "test.work", handler("one"))
	handle(t, b, "test.work", handler("two"))

	answeredBy := map[string]int{}
	for i := 0; i < calls; i++ {
		var who string
		if err := b.Call(callCtx(t), "test.work", i, &who); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		answeredBy[who]++
	}
	// Let any duplicate delivery reach its handler before counting.
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)

	mu.Lock()
	defer mu.Unlock()
	for i := 0; i < calls; i++ {
		if perRequest[i] != 1 {
			t.Errorf("request %d handled %d times, want exactly once", i, perRequest[i])
		}
	}
	if total := perHandler["one"] + perHandler["two"]; total != calls {
		t.Errorf("handlers ran %d times for %d calls", total, calls)
	}
	// Random choice among 2 members: both idle for 100 calls has probability 2^-99.
	if perHandler["one"] == 0 || perHandler["two"] == 0 {
		t.Errorf("load not shared: %v", perHandler)
	}
	if answeredBy["one"] != perHandler["one"] || answeredBy["two"] != perHandler["two"] {
		t.Errorf("answers %v do not match handler runs %v", answeredBy, perHandler)
	}
}

func TestSecondBusJoinsFirst(t *testing.T) {
	first := startBus(t, "")
	second := startBus(t, first.URL)
	if second.URL != first.URL {
		t.Errorf("second.URL = %q, want %q", second.URL, first.URL)
	}
	if second.server != nil {
		t.Error("a bus joining a URL started its own server")
	}

	handle(t, first, "first.add", addHandler)
	handle(t, second, "second.fail", func(context.Context, json.RawMessage) (any, error) {
		return nil, errors.New("not on this host")
	})

	var got addResp
	if err := second.Call(callCtx(t), "first.add", addReq{A: 20, B: 22, Name: "peer"}, &got); err != nil {
		t.Fatal(err)
	}
	if got != (addResp{Sum: 42, Greeting: "hello peer"}) {
		t.Errorf("cross-bus call = %+v", got)
	}
	var re *RemoteError
	if err := first.Call(callCtx(t), "second.fail", nil, nil); !errors.As(err, &re) || re.Msg != "not on this host" {
		t.Errorf("reverse call error = %v, want RemoteError %q", err, "not on this host")
	}

	// Events cross too.
	events := make(chan string, 1)
	unsub, err := first.Subscribe("test.hello", func(data []byte) {
		var s string
		_ = json.Unmarshal(data, &s)
		events <- s
	})
	if err != nil {
		t.Fatal(err)
	}
	defer unsub()
	if err := first.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := second.Publish("test.hello", "from second"); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-events:
		if s != "from second" {
			t.Errorf("event = %q", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("event from second bus not delivered")
	}

	// Closing the joining bus leaves the first (and its server) running.
	second.Close()
	third := startBus(t, first.URL)
	if err := third.Call(callCtx(t), "first.add", addReq{A: 1, B: 2}, &got); err != nil || got.Sum != 3 {
		t.Errorf("call after second closed = %+v, %v", got, err)
	}
}
