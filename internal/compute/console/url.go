package console

import (
	"net/url"
	"strings"
)

// URL returns the console URL a user opens for token, as upstream's
// ConsoleAuthToken.access_url builds it for novnc: noVNC 1.1+ dropped the top-level
// token parameter, so the token rides inside the websocket path noVNC connects to:
//
//	http://host:6080/vnc_lite.html?path=%3Ftoken%3D<token>
//
// When base already carries a path parameter the token is appended to it, as upstream.
// A base that does not parse is returned with the path parameter appended as text.
func URL(base string, token string) string {
	u, err := url.Parse(base)
	if err != nil {
		sep := "?"
		if strings.Contains(base, "?") {
			sep = "&"
		}
		return base + sep + url.Values{"path": {"?token=" + token}}.Encode()
	}
	q := u.Query()
	if p := q.Get("path"); p != "" {
		q.Set("path", p+"?token="+token)
	} else {
		q.Set("path", "?token="+token)
	}
	u.RawQuery = q.Encode()
	return u.String()
}
