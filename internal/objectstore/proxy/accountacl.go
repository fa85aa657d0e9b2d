package proxy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/swob"
)

// Account ACLs, as upstream's tempauth and acl.py (version 2): the account's
// owner sets X-Account-Access-Control to a JSON object whose "admin",
// "read-write" and "read-only" lists name who may own the account, write its
// containers and objects (and read it), or only read it. It is kept in the
// account's system metadata (X-Account-Sysmeta-Core-Access-Control) and shown
// to owners only, re-formatted as format_acl does. Tempauth users match by
// their groups ("<account>", "<account>:<user>"); identity users, where
// upstream's keystoneauth ignores account ACLs, match "<project>:<user>" as
// container ACLs do (ids, "*", default-domain names).

// accountACLHeader and accountACLSysmeta are the client's and the stored header.
const (
	accountACLHeader  = "X-Account-Access-Control"
	accountACLSysmeta = "X-Account-Sysmeta-Core-Access-Control"
)

// accountACLKeys are the keys tempauth understands.
var accountACLKeys = []string{"admin", "read-write", "read-only"}

// parseACLv2 is upstream's parse_acl_v2: nil for anything but a JSON object,
// an empty map for an empty string.
func parseACLv2(data string) map[string]any {
	if data == "" {
		return map[string]any{}
	}
	dec := json.NewDecoder(strings.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return nil
	}
	m, _ := v.(map[string]any)
	return m
}

// accountACLError is tempauth's extract_acl_and_report_errors: why the ACL
// is refused, or "".
func accountACLError(data string) string {
	acl := parseACLv2(data)
	if acl == nil {
		return "Syntax error in input (" + pyRepr(data) + ")"
	}
	for _, k := range sortedKeys(acl) {
		if !containsString(accountACLKeys, k) {
			return "Key " + jsonASCII(k) + " not recognized"
		}
	}
	for _, k := range accountACLKeys {
		v, ok := acl[k]
		if !ok {
			continue
		}
		list, ok := v.([]any)
		if !ok {
			return "Value for key " + jsonASCII(k) + " must be a list"
		}
		for _, g := range list {
			if _, ok := g.(string); !ok {
				return "Elements of " + jsonASCII(k) + " list must be strings"
			}
		}
	}
	return ""
}

// checkAccountACLHeader answers 400 as tempauth does when the request
// carries an invalid account ACL.
func checkAccountACLHeader(req *request) bool {
	values, ok := req.r.Header[accountACLHeader]
	if !ok {
		return true
	}
	if msg := accountACLError(values[0]); msg != "" {
		swob.Write(req.w, http.StatusBadRequest, "text/plain; charset=UTF-8",
			fmt.Sprintf("X-Account-Access-Control invalid: %s\n\nInput: %s\n", msg, values[0]))
		return false
	}
	return true
}

// accountACLs reads the account's ACL lists; nil when none is set.
func (p *Proxy) accountACLs(req *request) map[string][]string {
	rg := p.opts.Rings.Account
	h := http.Header{}
	h.Set("X-Trans-Id", req.transID)
	resp := p.readFirst(req.r.Context(), rg, rg.Partition(req.account), http.MethodHead, "/"+req.account, "", h)
	if resp == nil {
		return nil
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return nil
	}
	acl := parseACLv2(resp.Header.Get(accountACLSysmeta))
	out := map[string][]string{}
	found := false
	for _, k := range accountACLKeys {
		list, _ := acl[k].([]any)
		for _, g := range list {
			if s, ok := g.(string); ok {
				out[k] = append(out[k], s)
				found = true
			}
		}
	}
	if !found {
		return nil
	}
	return out
}

// accountACLAllows is tempauth's account ACL check: admin owns the account,
// read-write may do anything to its containers and objects and read it,
// read-only may read. matches tells whether a grantee list names the caller.
func (p *Proxy) accountACLAllows(req *request, matches func(grantees []string) bool) bool {
	acls := p.accountACLs(req)
	if acls == nil {
		return false
	}
	read := req.r.Method == http.MethodGet || req.r.Method == http.MethodHead
	switch {
	case matches(acls["admin"]):
		req.owner = true
		return true
	case matches(acls["read-write"]) && (req.container != "" || read):
		return true
	case matches(acls["read-only"]) && read:
		return true
	}
	return false
}

// accountACLToBackend moves an owner's X-Account-Access-Control into the
// system metadata the account server keeps.
func accountACLToBackend(req *request, h http.Header) {
	if values, ok := req.r.Header[accountACLHeader]; ok && req.owner {
		h.Set(accountACLSysmeta, values[0])
	}
}

// accountACLFromBackend is the proxy's add_acls_from_sys_metadata: the
// stored ACL shown, re-formatted, to owners only, never the system metadata.
func accountACLFromBackend(req *request, h http.Header) {
	stored := h.Get(accountACLSysmeta)
	for k := range h {
		if strings.HasPrefix(k, "X-Account-Sysmeta-") {
			h.Del(k)
		}
	}
	if !req.owner {
		return
	}
	if acl := parseACLv2(stored); len(acl) > 0 {
		h.Set(accountACLHeader, jsonASCII(acl))
	}
}

// jsonASCII is json.dumps(v, ensure_ascii=True, separators=(',', ':'),
// sort_keys=True).
func jsonASCII(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	out := bytes.TrimRight(buf.Bytes(), "\n")
	var sb strings.Builder
	for len(out) > 0 {
		r, size := utf8.DecodeRune(out)
		out = out[size:]
		switch {
		case r < utf8.RuneSelf:
			sb.WriteRune(r)
		case r > 0xFFFF:
			r -= 0x10000
			fmt.Fprintf(&sb, `\u%04x\u%04x`, 0xD800+(r>>10), 0xDC00+(r&0x3FF))
		default:
			fmt.Fprintf(&sb, `\u%04x`, r)
		}
	}
	return sb.String()
}

// pyRepr is Python's repr of a str, enough for error messages.
func pyRepr(s string) string {
	q := "'"
	if strings.Contains(s, "'") && !strings.Contains(s, `"`) {
		q = `"`
	}
	var sb strings.Builder
	sb.WriteString(q)
	for _, r := range s {
		switch {
		case r == '\\':
			sb.WriteString(`\\`)
		case string(r) == q:
			sb.WriteString(`\` + q)
		case r == '\n':
			sb.WriteString(`\n`)
		case r == '\r':
			sb.WriteString(`\r`)
		case r == '\t':
			sb.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&sb, `\x%02x`, r)
		default:
			sb.WriteRune(r)
		}
	}
	sb.WriteString(q)
	return sb.String()
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
