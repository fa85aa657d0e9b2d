package metadata

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
)

// Sign is the X-Instance-ID-Signature of an instance ID, as upstream's metadata
// agent computes it and nova's metadata API checks it: the lower-case hex digest of
// HMAC-SHA256 keyed with metadata_proxy_shared_secret over the instance ID.
func Sign(secret, instanceID string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(instanceID))
	return hex.EncodeToString(m.Sum(nil))
}

// VerifySignature reports, in constant time, whether signature is instanceID's
// signature with secret: what the compute metadata API checks before it trusts
// X-Instance-ID (nova compares the hex strings exactly, so upper-case hex fails too).
func VerifySignature(secret, instanceID, signature string) bool {
	return subtle.ConstantTimeCompare([]byte(Sign(secret, instanceID)), []byte(signature)) == 1
}
