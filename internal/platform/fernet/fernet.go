// Package fernet implements the Fernet token spec (AES-128-CBC + HMAC-SHA256) and a
// key repository laid out like Keystone's fernet-keys directory, with rotation.
package fernet

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

const (
	version  = 0x80
	overhead = 1 + 8 + aes.BlockSize + sha256.Size
)

// ErrInvalid is returned for any token that does not verify under any key: tampered,
// truncated, foreign or garbage. Callers must not learn which.
var ErrInvalid = errors.New("fernet: invalid token")

// Key is a Fernet key: 16 bytes signing key then 16 bytes encryption key.
type Key [32]byte

// GenerateKey returns a new random key.
func GenerateKey() (Key, error) {
	var k Key
	_, err := rand.Read(k[:])
	return k, err
}

// ParseKey decodes the url-safe base64 form stored in key files.
func ParseKey(s string) (Key, error) {
	var k Key
	b, err := base64.URLEncoding.DecodeString(s)
	if err != nil || len(b) != len(k) {
		return k, fmt.Errorf("fernet: malformed key")
	}
	copy(k[:], b)
	return k, nil
}

// String encodes the key for a key file.
func (k Key) String() string { return base64.URLEncoding.EncodeToString(k[:]) }

// Encrypt seals payload at time now with key k and returns the token without base64
// padding, as Keystone emits it.
func Encrypt(k *Key, payload []byte, now time.Time) ([]byte, error) {
	var iv [aes.BlockSize]byte
	if _, err := rand.Read(iv[:]); err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(k[16:])
	if err != nil {
		return nil, err
	}
	pad := aes.BlockSize - len(payload)%aes.BlockSize
	msg := make([]byte, 1+8+aes.BlockSize+len(payload)+pad, 1+8+aes.BlockSize+len(payload)+pad+sha256.Size)
	msg[0] = version
	binary.BigEndian.PutUint64(msg[1:9], uint64(now.Unix()))
	copy(msg[9:], iv[:])
	body := msg[9+aes.BlockSize:]
	copy(body, payload)
	for i := len(payload); i < len(body); i++ {
		body[i] = byte(pad)
	}
	cipher.NewCBCEncrypter(block, iv[:]).CryptBlocks(body, body)
	mac := hmac.New(sha256.New, k[:16])
	mac.Write(msg)
	msg = mac.Sum(msg)
	out := make([]byte, base64.RawURLEncoding.EncodedLen(len(msg)))
	base64.RawURLEncoding.Encode(out, msg)
	return out, nil
}

var strictRawURL = base64.RawURLEncoding.Strict()

// Decrypt verifies token under any of keys and returns its payload and timestamp.
func Decrypt(token []byte, keys []Key) ([]byte, time.Time, error) {
	// Accept tokens with or without base64 padding.
	for len(token) > 0 && token[len(token)-1] == '=' {
		token = token[:len(token)-1]
	}
	// Strict: spare bits of the last character must be zero, and line breaks (which
	// the decoder would skip) are refused, so that no other string than the one
	// issued verifies.
	if bytes.ContainsAny(token, "\r\n") {
		return nil, time.Time{}, ErrInvalid
	}
	raw := make([]byte, strictRawURL.DecodedLen(len(token)))
	n, err := strictRawURL.Decode(raw, token)
	if err != nil {
		return nil, time.Time{}, ErrInvalid
	}
	raw = raw[:n]
	if len(raw) < overhead+aes.BlockSize || raw[0] != version || (len(raw)-overhead)%aes.BlockSize != 0 {
		return nil, time.Time{}, ErrInvalid
	}
	signed, sum := raw[:len(raw)-sha256.Size], raw[len(raw)-sha256.Size:]
	for i := range keys {
		k := &keys[i]
		mac := hmac.New(sha256.New, k[:16])
		mac.Write(signed)
		if subtle.ConstantTimeCompare(mac.Sum(nil), sum) != 1 {
			continue
		}
		ts := time.Unix(int64(binary.BigEndian.Uint64(raw[1:9])), 0)
		iv := raw[9 : 9+aes.BlockSize]
		body := make([]byte, len(signed)-9-aes.BlockSize)
		copy(body, signed[9+aes.BlockSize:])
		block, err := aes.NewCipher(k[16:])
		if err != nil {
			return nil, time.Time{}, ErrInvalid
		}
		cipher.NewCBCDecrypter(block, iv).CryptBlocks(body, body)
		pad := int(body[len(body)-1])
		if pad == 0 || pad > aes.BlockSize || pad > len(body) {
			return nil, time.Time{}, ErrInvalid
		}
		for _, b := range body[len(body)-pad:] {
			if int(b) != pad {
				return nil, time.Time{}, ErrInvalid
			}
		}
		return body[:len(body)-pad], ts, nil
	}
	return nil, time.Time{}, ErrInvalid
}
