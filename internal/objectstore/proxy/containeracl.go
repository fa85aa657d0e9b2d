package proxy

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/swob"
)

// cleanACL is upstream's clean_acl: the ACL with spaces and empty items
// removed and referrer designations (.r, .ref, .referer, .referrer, with "-"
// and "*." forms) shortened to ".r:", or the error that makes it 400.
func cleanACL(name, value string) (string, error) {
	write := strings.Contains(strings.ToLower(name), "write")
	var values []string
	for _, raw := range strings.Split(value, ",") {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		first, second, ok := strings.Cut(raw, ":")
		if !ok {
			values = append(values, raw)
			continue
		}
		first, second = strings.TrimSpace(first), strings.TrimSpace(second)
		switch first {
		case ".r", ".ref", ".referer", ".referrer":
		default:
			if first == "" || !strings.HasPrefix(first, ".") {
				values = append(values, raw)
				continue
			}
			return "", fmt.Errorf("Unknown designator %s in ACL: %s", pyRepr(first), pyRepr(raw))
		}
		if write {
			return "", fmt.Errorf("Referrers not allowed in write ACL: %s", pyRepr(raw))
		}
		negate := false
		if strings.HasPrefix(second, "-") {
			negate, second = true, strings.TrimSpace(second[1:])
		}
		if second != "" && second != "*" && strings.HasPrefix(second, "*") {
			second = strings.TrimSpace(second[1:])
		}
		if second == "" || second == "." {
			return "", fmt.Errorf("No host/domain value after referrer designation in ACL: %s", pyRepr(raw))
		}
		if negate {
			second = "-" + second
		}
		values = append(values, ".r:"+second)
	}
	return strings.Join(values, ","), nil
}

// cleanContainerACLs is the container controller's clean_acls: the request's
// ACL headers cleaned in place, or 400 with clean_acl's message.
func cleanContainerACLs(req *request) bool {
	for _, name := range []string{"X-Container-Read", "X-Container-Write"} {
		values, ok := req.r.Header[name]
		if !ok {
			continue
		}
		cleaned, err := cleanACL(name, values[0])
		if err != nil {
			swob.Write(req.w, http.StatusBadRequest, "text/html; charset=UTF-8", err.Error())
			return false
		}
		req.r.Header.Set(name, cleaned)
	}
	return true
}
