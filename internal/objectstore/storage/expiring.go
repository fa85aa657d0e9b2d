package storage

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/swob"
)

// The object server's part of expiring objects, as upstream's
// delete_at_update: a PUT or POST that sets X-Delete-At also queues a task
// for the expirer, a row named "<delete_at>-<account>/<container>/<object>"
// in the hidden account's task container the proxy named
// (X-Delete-At-Container, -Host, -Device, -Partition), sent like a container
// update and kept as an async pending when the container server cannot be
// reached. The expirer deletes the object with X-If-Delete-At, which only
// succeeds while the object still expires then (a later POST or PUT may have
// changed or removed its X-Delete-At: the stale task then finds 412 and is
// dropped, so, unlike upstream, no DELETE of the old task is queued).

// ExpiringObjectsAccount is upstream's hidden account of expirer tasks
// (auto_create_account_prefix "." and expiring_objects_account_name).
const ExpiringObjectsAccount = ".expiring_objects"

// TaskObject is upstream's build_task_obj: "<delete_at>-<a>/<c>/<o>", the
// time as NormalizeDeleteAt writes it, so tasks list in time order.
func TaskObject(deleteAt int64, account, container, object string) string {
	return NormalizeDeleteAt(deleteAt) + "-" + account + "/" + container + "/" + object
}

// NormalizeDeleteAt is upstream's normalize_delete_at_timestamp: ten digits,
// clamped to 0..9999999999.
func NormalizeDeleteAt(t int64) string {
	t = min(max(t, 0), 9999999999)
	return strconv.FormatInt(t+1e10, 10)[1:]
}

// deleteAtUpdate queues the expirer's task for a write that set X-Delete-At.
// Replication's writes queue nothing: the original write did.
func (o *objectRequest) deleteAtUpdate(ts swob.Timestamp) {
	h := o.r.Header
	deleteAt, err := strconv.ParseInt(h.Get("X-Delete-At"), 10, 64)
	if err != nil || strings.EqualFold(h.Get("X-Backend-Replication"), "true") {
		return
	}
	taskContainer := h.Get("X-Delete-At-Container")
	if taskContainer == "" || strings.Contains(taskContainer, "/") {
		return
	}
	targets := targets(http.Header{
		"X-Container-Host": {h.Get("X-Delete-At-Host")}, "X-Container-Device": {h.Get("X-Delete-At-Device")},
		"X-Container-Partition": {h.Get("X-Delete-At-Partition")},
	}, "Container")
	task := TaskObject(deleteAt, o.p.account, o.p.container, o.p.object)
	for _, u := range targets {
		u.method, u.path = http.MethodPut, "/"+ExpiringObjectsAccount+"/"+taskContainer+"/"+task
		u.headers = http.Header{
			"X-Timestamp": {ts.Normal()}, "X-Size": {"0"}, "X-Content-Type": {"text/plain"},
			"X-Etag":                         {"d41d8cd98f00b204e9800998ecf8427e"},
			"X-Backend-Storage-Policy-Index": {"0"}, // system accounts are Policy-0's, as upstream
		}
		if id := h.Get("X-Trans-Id"); id != "" {
			u.headers.Set("X-Trans-Id", id)
		}
		ctx, cancel := context.WithTimeout(o.r.Context(), 5*time.Second)
		err := o.s.send(ctx, u)
		cancel()
		if err == nil {
			continue
		}
		o.s.log.Warn("expirer task update failed; saved as async pending", "task", task, "container_host", u.host, "error", err)
		pending := asyncPending{Op: u.method, Account: ExpiringObjectsAccount, Container: taskContainer, Object: task,
			Headers: u.headers, Host: u.host, Device: u.device, Partition: u.part}
		if err := o.saveTaskPending(pending, ts); err != nil {
			o.s.log.Error("save async pending", "task", task, "error", err)
		}
	}
}

// saveTaskPending keeps a task update as an async pending, under a name of
// its own (the object's container update may be pending at the same time).
func (o *objectRequest) saveTaskPending(p asyncPending, ts swob.Timestamp) error {
	sum := md5.Sum([]byte(p.Host + "/" + p.Device + "/" + p.Container + "/" + p.Object))
	return o.savePending(p, hex.EncodeToString(sum[:]), ts)
}

// checkIfDeleteAt is upstream's X-If-Delete-At on an object DELETE (the
// expirer's): it succeeds only while the object's X-Delete-At is the one
// given; otherwise 412 "X-If-Delete-At and X-Delete-At do not match" (or
// 400 for a value that is no integer). It reports whether to go on.
func (o *objectRequest) checkIfDeleteAt(md map[string]string) bool {
	v := o.r.Header.Get("X-If-Delete-At")
	if v == "" {
		return true
	}
	want, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		swob.Text(o.w, http.StatusBadRequest, "Bad X-If-Delete-At header value")
		return false
	}
	have, _ := strconv.ParseInt(md["X-Delete-At"], 10, 64)
	if have != want {
		swob.Text(o.w, http.StatusPreconditionFailed, "X-If-Delete-At and X-Delete-At do not match")
		return false
	}
	return true
}
