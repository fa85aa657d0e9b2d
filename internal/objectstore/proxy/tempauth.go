package proxy

import (
	"bytes"
	"compress/zlib"
	"crypto/subtle"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/swob"
	"github.com/nimbus-cloud/nimbus/internal/platform/fernet"
)

// TempAuth, as upstream's tempauth middleware: users configured with the
// proxy (user_<account>_<user> = <key> [.admin] [.reseller_admin] [url]) get
// a token from GET /auth/v1.0 (X-Auth-User: <account>:<user>, X-Auth-Key)
// that lets them into AUTH_<account>. Tokens are upstream's Fernet tokens
// ("AUTH_ftk<fernet>", "AUTH_zftk<fernet of zlib>" when that is shorter):
// the payload is the user's groups, sealed with a key every proxy of the
// cluster shares, so any proxy accepts a token another issued without a
// shared store (upstream's alternative is memcache); the cost is that a token
// lives its whole token_life, as a memcache-held one does.
//
// Tempauth accounts and identity's (AUTH_<project id>) share the AUTH_
// namespace: a token starting with AUTH_ is tempauth's, any other identity's.

// DefaultTokenLife is upstream's token_life.
const DefaultTokenLife = 24 * time.Hour

// TempAuthUser is one configured user.
type TempAuthUser struct {
	Account, User, Key string
	// URL is the storage URL answered ("$HOST" is the proxy's scheme and
	// host); by default $HOST/v1/AUTH_<account>.
	URL    string
	Groups []string
}

// TempAuth is the tempauth configuration of a proxy.
type TempAuth struct {
	// Users by "<account>:<user>".
	Users map[string]TempAuthUser
	// Keys open tokens; the first seals new ones.
	Keys      []fernet.Key
	TokenLife time.Duration
}

// ParseTempAuthUsers reads upstream's user lines, one per line (or separated
// by ";"): "user_<account>_<user> = <key> [group ...] [storage url]".
func ParseTempAuthUsers(text string) (map[string]TempAuthUser, error) {
	users := map[string]TempAuthUser{}
	for _, line := range strings.FieldsFunc(text, func(r rune) bool { return r == '\n' || r == ';' }) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		name = strings.TrimSpace(name)
		rest, isUser := strings.CutPrefix(name, "user_")
		if !ok || !isUser {
			return nil, fmt.Errorf("tempauth: %q is not user_<account>_<user> = <key> [groups]", line)
		}
		// upstream splits on every "_": an account or user with one is an error
		parts := strings.Split(rest, "_")
		if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
			return nil, fmt.Errorf("tempauth: key %s was provided in an invalid format", name)
		}
		values := strings.Fields(value)
		if len(values) == 0 {
			return nil, fmt.Errorf("tempauth: %s has no key set", name)
		}
		u := TempAuthUser{Account: parts[0], User: parts[1], Key: values[0]}
		values = values[1:]
		if n := len(values); n > 0 && (strings.Contains(values[n-1], "://") || strings.Contains(values[n-1], "$HOST")) {
			u.URL, values = values[n-1], values[:n-1]
		} else {
			u.URL = "$HOST/v1/" + ResellerPrefix + quote(u.Account, "/")
		}
		u.Groups = values
		users[u.Account+":"+u.User] = u
	}
	return users, nil
}

// isTempAuthPath reports whether path is tempauth's (upstream's auth_prefix).
func isTempAuthPath(path string) bool { return strings.HasPrefix(path, "/auth/") }

// isTempAuthToken reports whether tempauth is the definitive auth of token:
// it starts with the reseller prefix, as identity's Fernet tokens never do.
func isTempAuthToken(token string) bool { return strings.HasPrefix(token, ResellerPrefix) }

// userGroups is upstream's _get_user_groups: the account, the account:user
// and the configured groups, .admin standing for the account's own name.
func (u TempAuthUser) userGroups() string {
	accountID := u.URL[strings.LastIndex(u.URL, "/")+1:]
	if unq, err := url.PathUnescape(accountID); err == nil {
		accountID = unq
	}
	groups := append([]string{u.Account, u.Account + ":" + u.User}, u.Groups...)
	if i := slices.Index(groups, ".admin"); i >= 0 {
		groups = slices.Delete(groups, i, i+1)
		groups = append(groups, ResellerPrefix+u.Account)
		if !slices.Contains(groups, accountID) {
			groups = append(groups, accountID)
		}
	}
	return strings.Join(groups, ",")
}

// newToken seals the user's groups, compressed when that is shorter.
func (ta *TempAuth) newToken(u TempAuthUser, now time.Time) (string, error) {
	groups := []byte(u.userGroups())
	prefix := "ftk"
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	_, _ = zw.Write(groups)
	_ = zw.Close()
	if z.Len() < len(groups) {
		prefix, groups = "zftk", z.Bytes()
	}
	tok, err := fernet.Encrypt(&ta.Keys[0], groups, now)
	if err != nil {
		return "", err
	}
	return ResellerPrefix + prefix + string(tok), nil
}

// groups is upstream's get_groups: the groups a token stands for, or nil
// when it is not a valid, unexpired tempauth token.
func (ta *TempAuth) groups(token string, now time.Time) []string {
	rest := strings.TrimPrefix(token, ResellerPrefix)
	compressed := false
	switch {
	case strings.HasPrefix(rest, "zftk"):
		rest, compressed = rest[4:], true
	case strings.HasPrefix(rest, "ftk"):
		rest = rest[3:]
	default:
		return nil // "tk" tokens live in upstream's memcache, which Nimbus has not
	}
	payload, issued, err := fernet.Decrypt([]byte(rest), ta.Keys)
	if err != nil || now.Sub(issued) > ta.TokenLife {
		return nil
	}
	if compressed {
		zr, err := zlib.NewReader(bytes.NewReader(payload))
		if err != nil {
			return nil
		}
		payload, err = io.ReadAll(io.LimitReader(zr, 64<<10))
		if err != nil {
			return nil
		}
	}
	if len(payload) == 0 {
		return nil
	}
	return strings.Split(string(payload), ",")
}

// serveTempAuth is upstream's tempauth handle and handle_get_token.
func (p *Proxy) serveTempAuth(w http.ResponseWriter, r *http.Request) {
	ta := p.opts.TempAuth
	if r.Method != http.MethodGet {
		swob.Error(w, http.StatusMethodNotAllowed)
		return
	}
	// split_path(path_info, 1, 3, True) after popping the auth prefix: the
	// rest of a longer path is the last segment
	segs := strings.SplitN(strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/auth"), "/"), "/", 3)
	if segs[0] == "" {
		swob.Error(w, http.StatusNotFound)
		return
	}
	seg := func(i int) string {
		if i < len(segs) {
			return segs[i]
		}
		return ""
	}
	unauthorized := func(realm string) {
		w.Header().Set("Www-Authenticate", `Swift realm="`+realm+`"`)
		swob.Error(w, http.StatusUnauthorized)
	}
	var account, user, key string
	switch {
	case seg(0) != "v1" && seg(0) != "v1.0" && seg(0) != "auth":
		swob.Error(w, http.StatusBadRequest)
		return
	case seg(0) == "v1" && seg(2) == "auth":
		account = seg(1)
		user = r.Header.Get("X-Storage-User")
		if user == "" {
			user = r.Header.Get("X-Auth-User")
			acct, u, ok := strings.Cut(user, ":")
			if !ok || acct != account {
				unauthorized(account)
				return
			}
			user = u
		}
		key = r.Header.Get("X-Storage-Pass")
		if key == "" {
			key = r.Header.Get("X-Auth-Key")
		}
	case seg(0) == "auth" || seg(0) == "v1.0":
		user = r.Header.Get("X-Auth-User")
		if user == "" {
			user = r.Header.Get("X-Storage-User")
		}
		var ok bool
		if account, user, ok = strings.Cut(user, ":"); !ok {
			unauthorized("unknown")
			return
		}
		key = r.Header.Get("X-Auth-Key")
		if key == "" {
			key = r.Header.Get("X-Storage-Pass")
		}
	default:
		swob.Error(w, http.StatusBadRequest)
		return
	}
	realm := account
	if realm == "" {
		realm = "unknown"
	}
	u, ok := ta.Users[account+":"+user]
	if account == "" || user == "" || key == "" || !ok || !constantTimeEqual(u.Key, key) {
		unauthorized(realm)
		return
	}
	now := time.Now()
	token, err := ta.newToken(u, now)
	if err != nil {
		p.log.Error("tempauth token", "error", err)
		swob.Error(w, http.StatusInternalServerError)
		return
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	h := w.Header()
	h.Set("X-Auth-Token", token)
	h.Set("X-Storage-Token", token)
	// str(int(expires - time())): a moment after issue, a second short
	expires := now.Add(ta.TokenLife)
	h.Set("X-Auth-Token-Expires", strconv.FormatInt(int64(time.Until(expires)/time.Second), 10))
	h.Set("X-Storage-Url", strings.ReplaceAll(u.URL, "$HOST", scheme+"://"+r.Host))
	swob.Write(w, http.StatusOK, "text/html; charset=UTF-8", "")
}

// constantTimeEqual compares keys without telling how much of one matched.
func constantTimeEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// authorizeTempAuth is upstream's tempauth authorize for a request carrying
// a token of its own: the reseller admin owns every account, an account's
// .admin users own it (all but its PUT and DELETE), others need a container
// ACL naming one of their groups or an account ACL. An invalid token is 401.
func (p *Proxy) authorizeTempAuth(req *request, token string) bool {
	r := req.r
	groups := p.opts.TempAuth.groups(token, time.Now())
	if groups == nil {
		req.w.Header().Set("Www-Authenticate", `Swift realm="`+req.account+`"`)
		swob.Error(req.w, http.StatusUnauthorized)
		return false
	}
	req.tempAuthGroups = groups
	deny := func() bool { swob.Error(req.w, http.StatusForbidden); return false }
	if !strings.HasPrefix(req.account, ResellerPrefix) {
		return deny()
	}
	if !checkAccountACLHeader(req) {
		return false
	}
	dotAccount := strings.HasPrefix(strings.TrimPrefix(req.account, ResellerPrefix), ".")
	if slices.Contains(groups, ".reseller_admin") && req.account != ResellerPrefix && !dotAccount {
		req.owner, req.resellerAdmin = true, true
		return true
	}
	if slices.Contains(groups, ".reseller_reader") && req.account != ResellerPrefix && !dotAccount &&
		(r.Method == http.MethodGet || r.Method == http.MethodHead) {
		return true
	}
	if slices.Contains(groups, req.account) && (req.container != "" || (r.Method != http.MethodDelete && r.Method != http.MethodPut)) {
		req.owner = true
		return true
	}
	if r.Method == http.MethodOptions {
		return true
	}
	if acl := p.containerACL(req); acl != "" {
		referrers, aclGroups := parseACL(acl)
		if referrerAllowed(r.Header.Get("Referer"), referrers) && (req.object != "" || slices.Contains(aclGroups, ".rlistings")) {
			return true
		}
		for _, g := range groups {
			if slices.Contains(aclGroups, g) {
				return true
			}
		}
	}
	if p.accountACLAllows(req, func(grantees []string) bool {
		return slices.ContainsFunc(groups, func(g string) bool { return slices.Contains(grantees, g) })
	}) {
		return true
	}
	return deny()
}
