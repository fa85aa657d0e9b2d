package proxy

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/swob"
)

// Symlinks, as upstream's symlink middleware: a zero-byte PUT with
// X-Symlink-Target: <container>/<object> (and X-Symlink-Target-Account)
// stores the target in sysmeta; a GET or HEAD of the link answers the
// target's (read with the caller's rights, Content-Location naming it),
// following at most symloop_max links; ?symlink=get answers the link
// itself. X-Symlink-Target-Etag makes a static link: the target must exist
// with that ETag when the link is made and when it is read. A POST to a link
// is applied to the link and answered 307 with the target's Location.

const (
	sysmetaSymlinkTarget        = "X-Object-Sysmeta-Symlink-Target"
	sysmetaSymlinkTargetAccount = "X-Object-Sysmeta-Symlink-Target-Account"
	sysmetaSymlinkTargetEtag    = "X-Object-Sysmeta-Symlink-Target-Etag"
	sysmetaSymlinkTargetBytes   = "X-Object-Sysmeta-Symlink-Target-Bytes"
	md5OfEmpty                  = "d41d8cd98f00b204e9800998ecf8427e"
	// symloopMax is upstream's DEFAULT_SYMLOOP_MAX.
	symloopMax = 2
)

// symlinkTarget is _validate_and_prep_request_headers' reading of
// X-Symlink-Target (URL-quoted "<container>/<object>") and
// X-Symlink-Target-Account (hasAccount: the header was sent); a refusal as
// upstream words and types it otherwise.
func symlinkTarget(target, account string, hasAccount bool) (string, string, string, *manifestError) {
	const form = "X-Symlink-Target header must be of the form <container name>/<object name>"
	v, err := url.PathUnescape(target)
	if err != nil {
		v = target
	}
	if strings.HasPrefix(v, "/") {
		return "", "", "", &manifestError{http.StatusPreconditionFailed, "text/plain", form}
	}
	container, object, ok := strings.Cut(v, "/")
	if !ok || container == "" || object == "" || !validName(v) {
		// check_path_header's refusal, typed as swob's default
		return "", "", "", &manifestError{http.StatusPreconditionFailed, "text/html; charset=UTF-8", form}
	}
	if hasAccount {
		a, err := url.PathUnescape(account)
		if err != nil {
			a = account
		}
		switch {
		case a == "":
			return "", "", "", &manifestError{http.StatusPreconditionFailed, "text/html; charset=UTF-8", "Account name cannot be empty"}
		case strings.Contains(a, "/"):
			return "", "", "", &manifestError{http.StatusPreconditionFailed, "text/html; charset=UTF-8", "Account name cannot contain slashes"}
		case !validName(a):
			return "", "", "", &manifestError{http.StatusPreconditionFailed, "text/html; charset=UTF-8", form}
		}
		account = a
	}
	return account, container, object, nil
}

// prepareSymlinkPut is handle_put up to the write: the link's headers
// checked and turned into sysmeta. It answers a refusal itself and reports
// whether the PUT goes on.
func (p *Proxy) prepareSymlinkPut(req *request) bool {
	r := req.r
	if r.ContentLength != 0 {
		swob.Text(req.w, http.StatusBadRequest, "Symlink requests require a zero byte body")
		return false
	}
	_, hasAccount := r.Header["X-Symlink-Target-Account"]
	account, container, object, refusal := symlinkTarget(r.Header.Get("X-Symlink-Target"), r.Header.Get("X-Symlink-Target-Account"), hasAccount)
	if refusal != nil {
		swob.Write(req.w, refusal.status, refusal.contentType, refusal.body)
		return false
	}
	targetAccount := account
	if targetAccount == "" {
		targetAccount = req.account
	}
	if targetAccount == req.account && container == req.container && object == req.object {
		swob.Text(req.w, http.StatusBadRequest, "Symlink cannot target itself")
		return false
	}
	etag := strings.Trim(r.Header.Get("X-Symlink-Target-Etag"), `"`)
	if strings.ContainsAny(etag, `;"\`) {
		swob.Text(req.w, http.StatusBadRequest, "Bad X-Symlink-Target-Etag format")
		return false
	}
	if etag == "" && r.Header.Get("Content-Type") == "" {
		r.Header.Set("Content-Type", "application/symlink")
	}
	targetPath := "/" + req.version + "/" + targetAccount + "/" + container + "/" + object
	listingBase := md5OfEmpty
	if etag != "" {
		head := p.rawObjectRead(req, targetAccount, container, object, http.MethodHead)
		switch {
		case head.Code == http.StatusNotFound:
			req.w.Header().Set("Content-Location", targetPath)
			swob.Text(req.w, http.StatusConflict, "X-Symlink-Target does not exist")
			return false
		case head.Code/100 != 2:
			swob.Error(req.w, head.Code)
			return false
		}
		found := strings.Trim(head.Header().Get("Etag"), `"`)
		if found != etag {
			req.w.Header().Set("Content-Location", targetPath)
			swob.Text(req.w, http.StatusConflict, fmt.Sprintf("Object Etag %s does not match X-Symlink-Target-Etag header %s", pyRepr(found), pyRepr(etag)))
			return false
		}
		bytes := head.Header().Get(sysmetaSLOSize)
		if bytes == "" {
			bytes = head.Header().Get("Content-Length")
		}
		r.Header.Set(sysmetaSymlinkTargetEtag, etag)
		r.Header.Set(sysmetaSymlinkTargetBytes, bytes)
		// a static link to a large object lists its slo_etag too
		if _, params, ok := strings.Cut(head.Header().Get(sysmetaOverrideEtag), ";"); ok {
			listingBase = md5OfEmpty + ";" + params
		}
		if r.Header.Get("Content-Type") == "" {
			r.Header.Set("Content-Type", head.Header().Get("Content-Type"))
		}
	}
	r.Header.Set(sysmetaSymlinkTarget, quote(container+"/"+object, "/"))
	// the listing row says it is a link: the empty string's MD5 and the
	// target as parameters, as upstream's etag override
	override := []string{listingBase, "symlink_target=" + r.Header.Get(sysmetaSymlinkTarget)}
	if account != "" {
		r.Header.Set(sysmetaSymlinkTargetAccount, quote(account, "/"))
		override = append(override, "symlink_target_account="+r.Header.Get(sysmetaSymlinkTargetAccount))
	}
	if etag != "" {
		override = append(override, "symlink_target_etag="+etag, "symlink_target_bytes="+r.Header.Get(sysmetaSymlinkTargetBytes))
	}
	r.Header.Set(sysmetaOverrideEtag, strings.Join(override, "; "))
	for _, k := range []string{"X-Symlink-Target", "X-Symlink-Target-Account", "X-Symlink-Target-Etag", "X-Symlink-Target-Bytes"} {
		r.Header.Del(k)
	}
	return true
}

// rawObjectRead is a read of an object with the caller's rights below the
// object middleware (no link followed, no large object assembled), its
// answer recorded without the body of a HEAD.
func (p *Proxy) rawObjectRead(req *request, account, container, object, method string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	if !p.mayReadObjectAs(req, account, container, object, method, rec) {
		return rec
	}
	resp := p.readManifest(req, account, container, object, method)
	if resp == nil {
		swob.Error(rec, http.StatusServiceUnavailable)
		return rec
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		rec.Header()[k] = v
	}
	rec.WriteHeader(resp.StatusCode)
	return rec
}

// mayReadObjectAs authorizes a read of another object for the caller,
// answering a refusal into w.
func (p *Proxy) mayReadObjectAs(req *request, account, container, object, method string, w http.ResponseWriter) bool {
	sub := *req
	sub.account, sub.container, sub.object = account, container, object
	if account == req.account && container == versionsContainerName(req.container) {
		// a link to a version is read as the versioned object
		sub.container, sub.object = req.container, req.object
	}
	sub.r = req.r.Clone(req.r.Context())
	sub.r.Method = method
	sub.w = w
	sub.creds, sub.owner = nil, false
	if req.tempURLExpires != 0 && account == req.account {
		// a temp URL grants its object, and what it is made of or links
		// to in its account (upstream's tempurl authorizes subrequests)
		return true
	}
	return p.authorize(&sub)
}

// symlinkSysmetaToClient is symlink_sysmeta_to_usermeta (?symlink=get).
func symlinkSysmetaToClient(h http.Header) {
	for client, sys := range map[string]string{
		"X-Symlink-Target": sysmetaSymlinkTarget, "X-Symlink-Target-Account": sysmetaSymlinkTargetAccount,
		"X-Symlink-Target-Etag": sysmetaSymlinkTargetEtag, "X-Symlink-Target-Bytes": sysmetaSymlinkTargetBytes,
	} {
		if v := h.Get(sys); v != "" {
			h.Set(client, v)
		}
	}
}

// serveSymlink answers a GET or HEAD of a link with its target's answer
// (_recursive_get_head), resp being the link's backend answer.
func (p *Proxy) serveSymlink(req *request, resp *http.Response) {
	cur := resp
	loops := 0
	lastTarget := ""
	targetEtag := ""
	for {
		target := cur.Header.Get(sysmetaSymlinkTarget)
		if target == "" {
			break
		}
		linkEtag := cur.Header.Get(sysmetaSymlinkTargetEtag)
		account := cur.Header.Get(sysmetaSymlinkTargetAccount)
		if cur != resp {
			cur.Body.Close()
		}
		if targetEtag != "" {
			found := linkEtag
			if found == "" {
				found = strings.Trim(cur.Header.Get("Etag"), `"`)
			}
			if found != targetEtag {
				req.w.Header().Set("Content-Location", lastTarget)
				swob.Text(req.w, http.StatusConflict, "X-Symlink-Target-Etag headers do not match")
				return
			}
		}
		if loops >= symloopMax {
			swob.Text(req.w, http.StatusConflict, fmt.Sprintf("Too many levels of symbolic links, maximum allowed is %d", symloopMax))
			return
		}
		loops++
		if a, err := url.PathUnescape(account); err == nil && a != "" {
			account = a
		} else {
			account = req.account
		}
		t, err := url.PathUnescape(target)
		if err != nil {
			t = target
		}
		container, object, ok := strings.Cut(strings.TrimPrefix(t, "/"), "/")
		if !ok || container == "" || object == "" {
			swob.Error(req.w, http.StatusServiceUnavailable)
			return
		}
		lastTarget = "/" + req.version + "/" + account + "/" + container + "/" + object
		targetEtag = linkEtag
		next := *req
		next.account, next.container, next.object = account, container, object
		rec := httptest.NewRecorder()
		if !p.mayReadObjectAs(req, account, container, object, req.r.Method, rec) {
			copyRecorded(req.w, rec)
			return
		}
		h := http.Header{}
		h.Set("X-Trans-Id", req.transID)
		for _, k := range append(conditionalHeaders, "X-Newest") {
			if v := req.r.Header.Get(k); v != "" {
				h.Set(k, v)
			}
		}
		rg := p.opts.Rings.Object
		cur = p.readFirst(req.r.Context(), rg, rg.Partition(account, container, object), req.r.Method, next.objectPath(), "", h)
		if cur == nil {
			swob.Error(req.w, http.StatusServiceUnavailable)
			return
		}
		req = &next
	}
	defer cur.Body.Close()
	if final := strings.Trim(cur.Header.Get("Etag"), `"`); final != "" && targetEtag != "" && final != targetEtag &&
		cur.StatusCode/100 == 2 {
		req.w.Header().Set("Content-Location", lastTarget)
		swob.Text(req.w, http.StatusConflict, fmt.Sprintf("Object Etag %s does not match X-Symlink-Target-Etag header %s", pyRepr(final), pyRepr(targetEtag)))
		return
	}
	req.w.Header().Set("Content-Location", lastTarget)
	if p.serveSLO(req, cur) || p.serveDLO(req, cur) {
		return
	}
	relay(req.w, req.r, cur)
}

// copyRecorded answers w with a recorded answer.
func copyRecorded(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

// redirectSymlinkPost is handle_post's answer when the POST landed on a
// link: 307 to the target, the POST having been applied to the link.
func (p *Proxy) redirectSymlinkPost(req *request, w http.ResponseWriter, h http.Header) bool {
	target := h.Get(sysmetaSymlinkTarget)
	if target == "" {
		return false
	}
	account := h.Get(sysmetaSymlinkTargetAccount)
	if account == "" {
		account = quote(req.account, "/")
	}
	etag := h.Get(sysmetaSymlinkTargetEtag)
	for k := range h {
		if isSysmetaHeader(k) || k == "Content-Type" {
			delete(h, k)
		}
	}
	h.Set("Location", "/"+req.version+"/"+account+"/"+target)
	if etag != "" {
		h.Set("X-Symlink-Target-Etag", etag)
	}
	swob.Write(w, http.StatusTemporaryRedirect, "text/html; charset=UTF-8",
		"The requested POST was applied to a symlink. POST directly to the target to apply requested metadata.")
	return true
}
