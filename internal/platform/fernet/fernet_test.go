package fernet

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func newCBC(b cipher.Block, iv []byte) cipher.BlockMode { return cipher.NewCBCEncrypter(b, iv) }

func mustKey(t testing.TB) Key {
	t.Helper()
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustEncrypt(t testing.TB, k Key, payload []byte, now time.Time) []byte {
	t.Helper()
	tok, err := Encrypt(&k, payload, now)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestRoundTrip(t *testing.T) {
	k := mustKey(t)
	now := time.Unix(1700000000, 0)
	for _, n := range []int{0, 1, 15, 16, 17, 31, 32, 33, 100, 1000} {
		payload := bytes.Repeat([]byte{byte(n)}, n)
		tok := mustEncrypt(t, k, payload, now)
		if bytes.ContainsAny(tok, "=+/") {
			t.Errorf("len %d: token %q is not unpadded url-safe base64", n, tok)
		}
		raw, err := base64.RawURLEncoding.DecodeString(string(tok))
		if err != nil {
			t.Fatalf("len %d: %v", n, err)
		}
		if raw[0] != 0x80 {
			t.Errorf("len %d: version byte %#x", n, raw[0])
		}
		if want := overhead + (n/aes.BlockSize+1)*aes.BlockSize; len(raw) != want {
			t.Errorf("len %d: raw token length %d, want %d", n, len(raw), want)
		}
		got, ts, err := Decrypt(tok, []Key{k})
		if err != nil {
			t.Fatalf("len %d: Decrypt: %v", n, err)
		}
		if !bytes.Equal(got, payload) {
			t.Errorf("len %d: payload %x, want %x", n, got, payload)
		}
		if !ts.Equal(now) {
			t.Errorf("len %d: timestamp %v, want %v", n, ts, now)
		}
	}
}

func TestEncryptIsRandomised(t *testing.T) {
	k := mustKey(t)
	now := time.Now()
	a := mustEncrypt(t, k, []byte("same"), now)
	b := mustEncrypt(t, k, []byte("same"), now)
	if bytes.Equal(a, b) {
		t.Fatal("two encryptions of the same payload are identical (IV reuse)")
	}
}

// TestInteroperates decrypts a token built by hand per the Fernet spec, as Python's
// cryptography.fernet (and so Keystone) produces it.
func TestInteroperates(t *testing.T) {
	k := mustKey(t)
	iv := bytes.Repeat([]byte{7}, aes.BlockSize)
	payload := []byte("hello keystone")
	block, _ := aes.NewCipher(k[16:])
	padded := append(slices.Clone(payload), bytes.Repeat([]byte{2}, 2)...)
	ct := make([]byte, len(padded))
	cbc := newCBC(block, iv)
	cbc.CryptBlocks(ct, padded)
	msg := []byte{0x80, 0, 0, 0, 0, 0x65, 0x53, 0xf1, 0x00}
	msg = append(msg, iv...)
	msg = append(msg, ct...)
	mac := hmac.New(sha256.New, k[:16])
	mac.Write(msg)
	msg = mac.Sum(msg)
	tok := base64.URLEncoding.EncodeToString(msg) // padded, as Python emits it
	got, ts, err := Decrypt([]byte(tok), []Key{k})
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(payload) || ts.Unix() != 0x6553f100 {
		t.Fatalf("got %q at %d", got, ts.Unix())
	}
}

func TestTamperingFails(t *testing.T) {
	// Payload sizes giving raw token lengths of 0, 1 and 2 modulo 3, so that the
	// last base64 character carries 0, 4 or 2 spare bits.
	for _, n := range []int{35, 0, 16} {
		payload := bytes.Repeat([]byte("p"), n)
		t.Run("payload"+strconv.Itoa(n), func(t *testing.T) { testTampering(t, payload) })
	}
}

func testTampering(t *testing.T, payload []byte) {
	k := mustKey(t)
	tok := mustEncrypt(t, k, payload, time.Now())
	raw, err := base64.RawURLEncoding.DecodeString(string(tok))
	if err != nil {
		t.Fatal(err)
	}
	// Flip every bit of every byte of the decoded token.
	for i := range raw {
		for bit := 0; bit < 8; bit++ {
			m := slices.Clone(raw)
			m[i] ^= 1 << bit
			enc := []byte(base64.RawURLEncoding.EncodeToString(m))
			if p, _, err := Decrypt(enc, []Key{k}); !errors.Is(err, ErrInvalid) || p != nil {
				t.Fatalf("byte %d bit %d flipped: err=%v payload=%q", i, bit, err, p)
			}
		}
	}
	// Replace every character of the token string with every other base64 character.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := range tok {
		for _, c := range []byte(alphabet) {
			if c == tok[i] {
				continue
			}
			m := slices.Clone(tok)
			m[i] = c
			if p, _, err := Decrypt(m, []Key{k}); !errors.Is(err, ErrInvalid) || p != nil {
				t.Fatalf("char %d replaced by %q: err=%v payload=%q", i, c, err, p)
			}
		}
	}
	// Characters outside the alphabet.
	for _, bad := range []string{"+", "/", "!", " ", ".", "\x00", "\n", "\r", "\r\n", "="} {
		m := append(slices.Clone(tok[:10]), bad...)
		m = append(m, tok[10:]...)
		if _, _, err := Decrypt(m, []Key{k}); !errors.Is(err, ErrInvalid) {
			t.Errorf("token with %q inserted: err=%v", bad, err)
		}
	}
}

func TestWrongKeyFails(t *testing.T) {
	k1, k2, k3 := mustKey(t), mustKey(t), mustKey(t)
	tok := mustEncrypt(t, k1, []byte("payload"), time.Now())
	if _, _, err := Decrypt(tok, []Key{k2}); !errors.Is(err, ErrInvalid) {
		t.Errorf("wrong key: err=%v", err)
	}
	if _, _, err := Decrypt(tok, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("no keys: err=%v", err)
	}
	if p, _, err := Decrypt(tok, []Key{k2, k3, k1}); err != nil || string(p) != "payload" {
		t.Errorf("key among several: %q %v", p, err)
	}
	// The right encryption key with a wrong signing key must not verify.
	var k4 Key
	copy(k4[:16], k2[:16])
	copy(k4[16:], k1[16:])
	if _, _, err := Decrypt(tok, []Key{k4}); !errors.Is(err, ErrInvalid) {
		t.Errorf("wrong signing key: err=%v", err)
	}
}

func TestPaddedAndUnpadded(t *testing.T) {
	k := mustKey(t)
	for _, n := range []int{0, 1, 2, 16, 17, 18} { // cover all three base64 remainders
		payload := bytes.Repeat([]byte("x"), n)
		tok := mustEncrypt(t, k, payload, time.Now())
		raw, _ := base64.RawURLEncoding.DecodeString(string(tok))
		padded := base64.URLEncoding.EncodeToString(raw)
		for name, s := range map[string]string{"unpadded": string(tok), "padded": padded} {
			p, _, err := Decrypt([]byte(s), []Key{k})
			if err != nil || !bytes.Equal(p, payload) {
				t.Errorf("len %d %s: %q %v", n, name, p, err)
			}
		}
	}
}

func TestTruncatedAndGarbage(t *testing.T) {
	k := mustKey(t)
	tok := mustEncrypt(t, k, []byte("some payload that spans blocks!!!"), time.Now())
	for i := 0; i < len(tok); i++ {
		if _, _, err := Decrypt(tok[:i], []Key{k}); !errors.Is(err, ErrInvalid) {
			t.Fatalf("truncated to %d: err=%v", i, err)
		}
	}
	raw, _ := base64.RawURLEncoding.DecodeString(string(tok))
	for i := 0; i < len(raw); i++ {
		s := base64.RawURLEncoding.EncodeToString(raw[:i])
		if _, _, err := Decrypt([]byte(s), []Key{k}); !errors.Is(err, ErrInvalid) {
			t.Fatalf("raw truncated to %d: err=%v", i, err)
		}
	}
	// Extra data appended.
	for _, extra := range []string{"A", "AA", "AAAA", "\n", "\r\n", string(tok)} {
		if _, _, err := Decrypt(append(slices.Clone(tok), extra...), []Key{k}); !errors.Is(err, ErrInvalid) {
			t.Errorf("appended %q: err=%v", extra, err)
		}
	}
	for _, g := range []string{"", "=", "====", "gAAAAA", strings.Repeat("A", 200), "not a token"} {
		if _, _, err := Decrypt([]byte(g), []Key{k}); !errors.Is(err, ErrInvalid) {
			t.Errorf("garbage %q: err=%v", g, err)
		}
	}
}

// TestBadPaddingWithValidMAC checks that a correctly signed token whose plaintext
// padding is wrong is rejected (and does not panic).
func TestBadPaddingWithValidMAC(t *testing.T) {
	k := mustKey(t)
	block, _ := aes.NewCipher(k[16:])
	iv := make([]byte, aes.BlockSize)
	for _, last := range []byte{0, 17, 255} {
		plain := bytes.Repeat([]byte{last}, aes.BlockSize)
		plain[0] = 'x'
		ct := make([]byte, len(plain))
		newCBC(block, iv).CryptBlocks(ct, plain)
		msg := append([]byte{0x80, 0, 0, 0, 0, 0, 0, 0, 1}, iv...)
		msg = append(msg, ct...)
		mac := hmac.New(sha256.New, k[:16])
		mac.Write(msg)
		msg = mac.Sum(msg)
		if _, _, err := Decrypt([]byte(base64.RawURLEncoding.EncodeToString(msg)), []Key{k}); !errors.Is(err, ErrInvalid) {
			t.Errorf("pad byte %d: err=%v", last, err)
		}
	}
}

func TestParseKey(t *testing.T) {
	k := mustKey(t)
	got, err := ParseKey(k.String())
	if err != nil || got != k {
		t.Fatalf("ParseKey(String()) = %v, %v", got, err)
	}
	for _, bad := range []string{"", "short", base64.URLEncoding.EncodeToString(make([]byte, 31)),
		base64.URLEncoding.EncodeToString(make([]byte, 33)), strings.Repeat("!", 44)} {
		if _, err := ParseKey(bad); err == nil {
			t.Errorf("ParseKey(%q) accepted", bad)
		}
	}
}

func readKeyFile(t *testing.T, dir string, idx string) Key {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, idx))
	if err != nil {
		t.Fatal(err)
	}
	k, err := ParseKey(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func keyFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return names
}

func TestOpenRepositoryCreatesKeys(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "fernet-keys")
	r, err := OpenRepository(dir, 3)
	if err != nil {
		t.Fatal(err)
	}
	if got := keyFiles(t, dir); !slices.Equal(got, []string{"0", "1"}) {
		t.Fatalf("key files %v, want [0 1]", got)
	}
	st, err := os.Stat(dir)
	if err != nil || st.Mode().Perm()&0o077 != 0 {
		t.Errorf("repository mode %v, %v: must not be group/world accessible", st.Mode(), err)
	}
	for _, f := range []string{"0", "1"} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil || st.Mode().Perm()&0o077 != 0 {
			t.Errorf("key %s mode %v, %v: must not be group/world readable", f, st.Mode(), err)
		}
	}
	staged, primary := readKeyFile(t, dir, "0"), readKeyFile(t, dir, "1")
	if staged == primary {
		t.Fatal("staged and primary keys are equal")
	}
	if *r.Primary() != primary {
		t.Error("Primary() is not key 1")
	}
	if keys := r.Keys(); len(keys) != 2 || keys[0] != primary || keys[1] != staged {
		t.Errorf("Keys() not [primary, staged]")
	}
	// The staged key decrypts: another node may already have promoted it.
	tok := mustEncrypt(t, staged, []byte("from a node that rotated first"), time.Now())
	if _, _, err := Decrypt(tok, r.Keys()); err != nil {
		t.Errorf("token sealed with the staged key: %v", err)
	}

	// Reopening keeps the same keys.
	r2, err := OpenRepository(dir, 3)
	if err != nil {
		t.Fatal(err)
	}
	if *r2.Primary() != primary || len(r2.Keys()) != 2 {
		t.Error("reopened repository has different keys")
	}
}

func TestOpenRepositoryRejectsBadKeys(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "0"), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenRepository(dir, 3); err == nil {
		t.Fatal("repository with a malformed key opened")
	}
}

func TestRotate(t *testing.T) {
	for _, maxActive := range []int{2, 3, 5} {
		t.Run("max"+strconv.Itoa(maxActive), func(t *testing.T) {
			dir := t.TempDir()
			r, err := OpenRepository(dir, maxActive)
			if err != nil {
				t.Fatal(err)
			}
			oldPrimary := *r.Primary()
			staged := readKeyFile(t, dir, "0")
			tok := mustEncrypt(t, oldPrimary, []byte("sealed before rotation"), time.Now())

			if err := r.Rotate(); err != nil {
				t.Fatal(err)
			}
			// The staged key was promoted to primary under the next index.
			if *r.Primary() != staged {
				t.Fatal("Rotate did not promote the staged key")
			}
			if readKeyFile(t, dir, "2") != staged {
				t.Fatal("promoted key is not file 2")
			}
			if newStaged := readKeyFile(t, dir, "0"); newStaged == staged || newStaged == oldPrimary {
				t.Fatal("Rotate did not stage a fresh key")
			}
			// Tokens from the old primary keep working for maxActive-2 rotations
			// (staged + primary + maxActive-2 secondaries are kept) ...
			for i := 1; i <= maxActive-2; i++ {
				if i > 1 {
					if err := r.Rotate(); err != nil {
						t.Fatal(err)
					}
				}
				if _, _, err := Decrypt(tok, r.Keys()); err != nil {
					t.Fatalf("after %d rotations: %v", i, err)
				}
			}
			// ... and stop after maxActive rotations at the latest.
			for i := max(maxActive-2, 1); i < maxActive; i++ {
				if err := r.Rotate(); err != nil {
					t.Fatal(err)
				}
			}
			if _, _, err := Decrypt(tok, r.Keys()); !errors.Is(err, ErrInvalid) {
				t.Fatalf("after %d rotations the retired key still verifies: %v", maxActive, err)
			}
			if files := keyFiles(t, dir); len(files) != maxActive || files[0] != "0" {
				t.Fatalf("key files after rotations: %v, want %d incl. staged", files, maxActive)
			}
			if len(r.Keys()) != maxActive {
				t.Fatalf("Keys() has %d keys, want %d", len(r.Keys()), maxActive)
			}
			// New tokens use the newest primary and verify.
			tok2 := mustEncrypt(t, *r.Primary(), []byte("new"), time.Now())
			if _, _, err := Decrypt(tok2, r.Keys()); err != nil {
				t.Fatal(err)
			}
			if r.Keys()[0] != *r.Primary() {
				t.Fatal("Keys() does not list the primary first")
			}
		})
	}
}

func TestRotateExactRetirement(t *testing.T) {
	// With 3 active keys (Keystone's default), the primary becomes secondary on the
	// first rotation and is retired on the second.
	dir := t.TempDir()
	r, err := OpenRepository(dir, 3)
	if err != nil {
		t.Fatal(err)
	}
	tok := mustEncrypt(t, *r.Primary(), []byte("x"), time.Now())
	if err := r.Rotate(); err != nil {
		t.Fatal(err)
	}
	if got := keyFiles(t, dir); !slices.Equal(got, []string{"0", "1", "2"}) {
		t.Fatalf("after 1 rotation: %v", got)
	}
	if _, _, err := Decrypt(tok, r.Keys()); err != nil {
		t.Fatalf("after 1 rotation: %v", err)
	}
	if err := r.Rotate(); err != nil {
		t.Fatal(err)
	}
	if got := keyFiles(t, dir); !slices.Equal(got, []string{"0", "2", "3"}) {
		t.Fatalf("after 2 rotations: %v", got)
	}
	if _, _, err := Decrypt(tok, r.Keys()); !errors.Is(err, ErrInvalid) {
		t.Fatalf("after 2 rotations: %v", err)
	}
}

func TestReloadSeesOtherProcessRotation(t *testing.T) {
	dir := t.TempDir()
	a, err := OpenRepository(dir, 3)
	if err != nil {
		t.Fatal(err)
	}
	b, err := OpenRepository(dir, 3)
	if err != nil {
		t.Fatal(err)
	}
	if *a.Primary() != *b.Primary() {
		t.Fatal("two openings disagree")
	}
	before := *a.Primary()
	if err := b.Rotate(); err != nil {
		t.Fatal(err)
	}
	// b's new primary is a's staged key, so a already accepts b's new tokens.
	tok := mustEncrypt(t, *b.Primary(), []byte("from b"), time.Now())
	if _, _, err := Decrypt(tok, a.Keys()); err != nil {
		t.Fatalf("a rejects b's token before reloading: %v", err)
	}
	if *a.Primary() != before {
		t.Fatal("a changed without Reload")
	}
	if err := a.Reload(); err != nil {
		t.Fatal(err)
	}
	if *a.Primary() != *b.Primary() {
		t.Fatal("Reload did not pick up the rotation")
	}
	if !slices.Equal(a.Keys(), b.Keys()) {
		t.Fatal("Keys differ after Reload")
	}
}

func TestReloadEmptyRepository(t *testing.T) {
	dir := t.TempDir()
	r, err := OpenRepository(dir, 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"0", "1"} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Reload(); err == nil {
		t.Fatal("Reload of an empty repository succeeded")
	}
}

func TestPrimaryIsACopy(t *testing.T) {
	r, err := OpenRepository(t.TempDir(), 3)
	if err != nil {
		t.Fatal(err)
	}
	p := r.Primary()
	want := *p
	p[0] ^= 0xff
	if *r.Primary() != want {
		t.Fatal("mutating Primary()'s result changed the repository")
	}
}

func FuzzDecrypt(f *testing.F) {
	k, err := GenerateKey()
	if err != nil {
		f.Fatal(err)
	}
	other, _ := GenerateKey()
	tok, _ := Encrypt(&other, []byte("seed payload"), time.Unix(1, 0))
	f.Add(tok)
	f.Add([]byte(""))
	f.Add([]byte("gAAAAA"))
	f.Add([]byte("===="))
	f.Add(append(slices.Clone(tok), "=="...))
	f.Add(tok[:len(tok)/2])
	f.Fuzz(func(t *testing.T, b []byte) {
		p, ts, err := Decrypt(b, []Key{k})
		if err == nil {
			t.Fatalf("random input %q verified: %q", b, p)
		}
		if !errors.Is(err, ErrInvalid) || p != nil || !ts.IsZero() {
			t.Fatalf("Decrypt(%q) = %q, %v, %v", b, p, ts, err)
		}
	})
}
