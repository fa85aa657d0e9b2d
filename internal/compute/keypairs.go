package compute

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// KeyPair is a user's SSH public key.
type KeyPair struct {
	UserID      string
	Name        string
	Type        string
	PublicKey   string
	Fingerprint string
	CreatedAt   string
}

// keypairName is upstream's allowed set: letters, digits, spaces, '.', '_', '-', '@'.
var keypairName = regexp.MustCompile(`^[a-zA-Z0-9 ._@-]{1,255}$`)

func (s *Service) keypairRoutes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Path: "/v2.1/os-keypairs", Handler: s.listKeypairs},
		{Method: "POST", Path: "/v2.1/os-keypairs", Handler: s.createKeypair},
		{Method: "GET", Path: "/v2.1/os-keypairs/{name}", Handler: s.showKeypair},
		{Method: "DELETE", Path: "/v2.1/os-keypairs/{name}", Handler: s.deleteKeypair},
	}
}

// keypairUser is whose key pairs a request is about: the caller's, or with
// ?user_id (2.10+, policy permitting) another user's.
func (s *Service) keypairUser(r *http.Request, rule string, requested string) (string, error) {
	creds := auth.FromContext(r.Context())
	user := creds.UserID
	if requested != "" {
		user = requested
	}
	if err := s.enforce(r, rule, map[string]any{"target.user_id": user}); err != nil {
		return "", err
	}
	return user, nil
}

func scanKeypair(sc db.Scanner) (KeyPair, error) {
	var k KeyPair
	err := sc.Scan(&k.UserID, &k.Name, &k.Type, &k.PublicKey, &k.Fingerprint, &k.CreatedAt)
	return k, err
}

const keypairColumns = `user_id, name, type, public_key, fingerprint, created_at`

func (s *Service) listKeypairs(r *http.Request) (httpapi.Response, error) {
	q := r.URL.Query()
	user, err := s.keypairUser(r, "os_compute_api:os-keypairs:index", userParam(r))
	if err != nil {
		return httpapi.Response{}, err
	}
	query, args := `SELECT `+keypairColumns+` FROM keypairs WHERE user_id = ?`, []any{user}
	limit := -1
	if since(r, 35) {
		// 2.35: paged by name, as upstream's keypairs table is by id in creation order.
		if limit, err = pageLimit(q.Get("limit")); err != nil {
			return httpapi.Response{}, err
		}
		if marker := q.Get("marker"); marker != "" {
			if _, err := s.keypair(r, user, marker); err != nil {
				return httpapi.Response{}, badRequest("marker [%s] not found", marker)
			}
			query, args = query+` AND name > ?`, append(args, marker)
		}
	}
	query += ` ORDER BY name`
	if limit >= 0 {
		query, args = query+` LIMIT ?`, append(args, limit)
	}
	keys, err := db.QueryAll(r.Context(), s.db, scanKeypair, query, args...)
	if err != nil {
		return httpapi.Response{}, err
	}
	list := []map[string]any{}
	for _, k := range keys {
		item := map[string]any{"name": k.Name, "public_key": k.PublicKey, "fingerprint": k.Fingerprint}
		if since(r, 2) {
			item["type"] = k.Type
		}
		list = append(list, map[string]any{"keypair": item})
	}
	body := map[string]any{"keypairs": list}
	if limit > 0 && len(keys) == limit {
		next := url.Values{"limit": {strconv.Itoa(limit)}, "marker": {keys[len(keys)-1].Name}}
		if u := q.Get("user_id"); u != "" && since(r, 10) {
			next.Set("user_id", u)
		}
		body["keypairs_links"] = []httpapi.Link{{Rel: "next", Href: s.base() + "/v2.1/os-keypairs?" + next.Encode()}}
	}
	return httpapi.OK(body), nil
}

// userParam is the user_id query parameter, which upstream reads from 2.10 on.
func userParam(r *http.Request) string {
	if since(r, 10) {
		return r.URL.Query().Get("user_id")
	}
	return ""
}

func (s *Service) keypair(r *http.Request, user, name string) (KeyPair, error) {
	k, err := scanKeypair(s.db.QueryRowContext(r.Context(), `SELECT `+keypairColumns+` FROM keypairs WHERE user_id = ? AND name = ?`, user, name))
	if db.IsNoRows(err) {
		return k, notFound("Keypair %s not found for user %s", name, user)
	}
	return k, err
}

func (s *Service) showKeypair(r *http.Request) (httpapi.Response, error) {
	user, err := s.keypairUser(r, "os_compute_api:os-keypairs:show", userParam(r))
	if err != nil {
		return httpapi.Response{}, err
	}
	k, err := s.keypair(r, user, r.PathValue("name"))
	if err != nil {
		return httpapi.Response{}, err
	}
	body := map[string]any{"name": k.Name, "public_key": k.PublicKey,
		"fingerprint": k.Fingerprint, "user_id": k.UserID, "created_at": k.CreatedAt, "updated_at": nil,
		"deleted": false, "deleted_at": nil, "id": 0}
	if since(r, 2) {
		body["type"] = k.Type
	}
	return httpapi.OK(map[string]any{"keypair": body}), nil
}

func (s *Service) createKeypair(r *http.Request) (httpapi.Response, error) {
	var req struct {
		Keypair *struct {
			Name      *string `json:"name"`
			PublicKey *string `json:"public_key"`
			Type      *string `json:"type"`
			UserID    *string `json:"user_id"`
		} `json:"keypair"`
	}
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		return httpapi.Response{}, err
	}
	if req.Keypair == nil {
		return httpapi.Response{}, badRequest("Invalid input for field/attribute keypair. Value: None. 'keypair' is a required property")
	}
	in := req.Keypair
	if in.Name == nil {
		return httpapi.Response{}, badRequest("Invalid input for field/attribute keypair. 'name' is a required property")
	}
	name := strings.TrimSpace(*in.Name)
	if !keypairName.MatchString(name) {
		return httpapi.Response{}, badRequest("Keypair data is invalid: Keypair name contains unsafe characters")
	}
	if (in.Type != nil && !since(r, 2)) || (in.UserID != nil && !since(r, 10)) {
		return httpapi.Response{}, badRequest("Invalid input for field/attribute keypair. Additional properties are not allowed")
	}
	typ := "ssh"
	if in.Type != nil {
		if *in.Type != "ssh" && *in.Type != "x509" {
			return httpapi.Response{}, badRequest("Invalid input for field/attribute type. Value: %s. '%s' is not one of ['ssh', 'x509']", *in.Type, *in.Type)
		}
		typ = *in.Type
	}
	if in.PublicKey == nil && since(r, 92) {
		return httpapi.Response{}, badRequest("Invalid input for field/attribute keypair. 'public_key' is a required property")
	}
	requested := ""
	if in.UserID != nil {
		requested = *in.UserID
	}
	user, err := s.keypairUser(r, "os_compute_api:os-keypairs:create", requested)
	if err != nil {
		return httpapi.Response{}, err
	}
	k := KeyPair{UserID: user, Name: name, Type: typ, CreatedAt: stampMicro(s.now())}
	var private string
	switch {
	case in.PublicKey != nil:
		// Kept as given, as upstream: a client compares it with what it sent.
		k.PublicKey = *in.PublicKey
		fingerprint := sshFingerprint
		if typ == "x509" {
			fingerprint = x509Fingerprint
		}
		if k.Fingerprint, err = fingerprint(strings.TrimSpace(k.PublicKey)); err != nil {
			return httpapi.Response{}, badRequest("Keypair data is invalid: failed to generate fingerprint")
		}
	case typ == "x509":
		if k.PublicKey, private, k.Fingerprint, err = generateX509(user); err != nil {
			return httpapi.Response{}, err
		}
	default:
		if k.PublicKey, private, k.Fingerprint, err = generateSSHKey(name); err != nil {
			return httpapi.Response{}, err
		}
	}
	// The quota's count and the insert are one transaction, so concurrent
	// creates cannot all pass the count and together exceed it.
	err = s.db.InTx(r.Context(), func(tx *db.Tx) error {
		limits, err := s.quotaLimits(r.Context(), tx, auth.FromContext(r.Context()).ProjectID)
		if err != nil {
			return err
		}
		if limit := limits["key_pairs"]; limit >= 0 {
			var n int
			if err := tx.QueryRowContext(r.Context(), `SELECT COUNT(*) FROM keypairs WHERE user_id = ?`, user).Scan(&n); err != nil {
				return err
			}
			if n >= limit {
				return forbidden("Quota exceeded, too many key pairs.")
			}
		}
		_, err = tx.ExecContext(r.Context(), `INSERT INTO keypairs (`+keypairColumns+`) VALUES (?, ?, ?, ?, ?, ?)`,
			k.UserID, k.Name, k.Type, k.PublicKey, k.Fingerprint, k.CreatedAt)
		if db.IsUniqueViolation(err) {
			return conflict("Key pair '%s' already exists.", name)
		}
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	body := map[string]any{"name": k.Name, "public_key": k.PublicKey, "fingerprint": k.Fingerprint, "user_id": k.UserID}
	if since(r, 2) {
		body["type"] = k.Type
	}
	if private != "" {
		body["private_key"] = private
	}
	// As upstream: 200 to 2.1, 201 Created from 2.2.
	status := http.StatusOK
	if since(r, 2) {
		status = http.StatusCreated
	}
	return httpapi.Response{Status: status, Body: map[string]any{"keypair": body}}, nil
}

func (s *Service) deleteKeypair(r *http.Request) (httpapi.Response, error) {
	user, err := s.keypairUser(r, "os_compute_api:os-keypairs:delete", userParam(r))
	if err != nil {
		return httpapi.Response{}, err
	}
	res, err := s.db.ExecContext(r.Context(), `DELETE FROM keypairs WHERE user_id = ? AND name = ?`, user, r.PathValue("name"))
	if err != nil {
		return httpapi.Response{}, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return httpapi.Response{}, notFound("Keypair %s not found for user %s", r.PathValue("name"), user)
	}
	// As upstream: 202 to 2.1, 204 from 2.2.
	if since(r, 2) {
		return httpapi.NoContent(), nil
	}
	return httpapi.Response{Status: http.StatusAccepted}, nil
}

// sshFingerprint is the MD5 fingerprint OpenSSH printed before SHA256 (what Nova
// stores): colon-separated hex of the key blob's MD5. The blob must name the same
// key type as the line.
func sshFingerprint(line string) (string, error) {
	fields := strings.Fields(line)
	if len(fields) < 2 {
		return "", fmt.Errorf("not an OpenSSH public key")
	}
	blob, err := base64.StdEncoding.DecodeString(fields[1])
	if err != nil || len(blob) < 4 {
		return "", fmt.Errorf("not an OpenSSH public key")
	}
	n := binary.BigEndian.Uint32(blob)
	if int(n) > len(blob)-4 || string(blob[4:4+n]) != fields[0] {
		return "", fmt.Errorf("key type mismatch")
	}
	sum := md5.Sum(blob)
	return colonHex(sum[:]), nil
}

// colonHex is a digest as key fingerprints print it: aa:bb:cc...
func colonHex(sum []byte) string {
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02x", b)
	}
	return strings.Join(parts, ":")
}

// generateSSHKey makes an RSA key as Nova did before 2.92: the OpenSSH public
// line, the PEM private key and the fingerprint.
func generateSSHKey(comment string) (public, private, fingerprint string, err error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", "", "", fmt.Errorf("generate key pair: %w", err)
	}
	var blob []byte
	putString := func(b []byte) {
		blob = binary.BigEndian.AppendUint32(blob, uint32(len(b)))
		blob = append(blob, b...)
	}
	mpint := func(n *big.Int) []byte {
		b := n.Bytes()
		if len(b) > 0 && b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
		return b
	}
	putString([]byte("ssh-rsa"))
	putString(mpint(big.NewInt(int64(key.E))))
	putString(mpint(key.N))
	public = "ssh-rsa " + base64.StdEncoding.EncodeToString(blob) + " Generated-by-Nova"
	private = string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	fingerprint, err = sshFingerprint(public)
	return public, private, fingerprint, err
}
