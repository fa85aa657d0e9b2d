package image

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestKeystonePasswordAuth: a project-scoped password login in the default
// domain; the token, its expiry and the catalog's public object-store URL come
// back; a refused login or a catalog without an object store is an error.
func TestKeystonePasswordAuth(t *testing.T) {
	catalog := `[{"type":"image","endpoints":[{"interface":"public","url":"http://127.0.0.1:9292"}]},
		{"type":"object-store","endpoints":[{"interface":"internal","url":"http://10.0.0.1:8080/v1/AUTH_p"},
		{"interface":"public","url":"http://127.0.0.1:8080/v1/AUTH_p"}]}]`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Auth struct {
				Identity struct {
					Methods  []string
					Password struct {
						User struct {
							Name, Password string
							Domain         struct{ ID string }
						}
					}
				}
				Scope struct {
					Project struct {
						Name   string
						Domain struct{ ID string }
					}
				}
			}
		}
		if r.URL.Path != "/v3/auth/tokens" || json.NewDecoder(r.Body).Decode(&body) != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		a := body.Auth
		if a.Identity.Password.User.Password != "pw" || a.Identity.Password.User.Name != "admin" ||
			a.Identity.Password.User.Domain.ID != "default" || a.Scope.Project.Name != "admin" || a.Scope.Project.Domain.ID != "default" {
			http.Error(w, `{"error":{"code":401}}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("X-Subject-Token", "tok")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"token":{"expires_at":"2030-01-02T03:04:05.000000Z","catalog":` + catalog + `}}`))
	}))
	defer srv.Close()
	token, url, expires, err := KeystonePasswordAuth(srv.URL, "admin", "pw", "admin")(context.Background())
	if err != nil || token != "tok" || url != "http://127.0.0.1:8080/v1/AUTH_p" ||
		!expires.Equal(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Fatalf("login: %q %q %v %v", token, url, expires, err)
	}
	if _, _, _, err := KeystonePasswordAuth(srv.URL+"/v3", "admin", "wrong", "admin")(context.Background()); err == nil ||
		!strings.Contains(err.Error(), "401") {
		t.Errorf("refused login: %v", err)
	}
	noStore := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Subject-Token", "tok")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"token":{"catalog":[]}}`))
	}))
	defer noStore.Close()
	if _, _, _, err := KeystonePasswordAuth(noStore.URL, "admin", "pw", "admin")(context.Background()); err == nil ||
		!strings.Contains(err.Error(), "object-store") {
		t.Errorf("no object store in the catalog: %v", err)
	}
}
