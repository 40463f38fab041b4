package kratostest

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"strings"
	"time"
)

// TOTPCode returns the RFC 6238 TOTP code (HMAC-SHA1, 30 s step, 6 digits,
// T0 = Unix epoch) for the base32 secret at time t, as Kratos' TOTP method
// expects it. It panics if secret is not valid base32 (test helper).
func TOTPCode(secret string, t time.Time) string {
	s := strings.ToUpper(strings.TrimRight(strings.ReplaceAll(secret, " ", ""), "="))
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(s)
	if err != nil {
		panic(fmt.Sprintf("kratostest: TOTP secret is not base32: %v", err))
	}
	return hotp(key, uint64(t.Unix()/30))
}

// hotp is RFC 4226 HOTP with 6 digits.
func hotp(key []byte, counter uint64) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	m := hmac.New(sha1.New, key)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	v := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	return fmt.Sprintf("%06d", v%1_000_000)
}
