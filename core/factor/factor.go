// Package factor is the pure part of second factors: TOTP secrets and
// codes (RFC 6238, the defaults every authenticator app supports) and
// backup codes. It keeps no state; the core stores what it makes.
package factor

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// TOTP parameters.
const (
	// Period is the seconds one code lasts.
	Period = 30
	// Digits is a code's length.
	Digits = otp.DigitsSix
	// Skew is the steps accepted either side of now.
	Skew = 1
	// BackupCodes is how many backup codes a set holds.
	BackupCodes = 10
)

// NewSecret returns a new TOTP secret: 160 random bits in base32.
func NewSecret() (string, error) {
	var b [20]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("factor: make totp secret: %w", err)
	}
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]), nil
}

// Match returns the time step whose code is code for secret, within Skew
// steps of now, or -1.
func Match(secret, code string, now time.Time) int64 {
	code = strings.TrimSpace(strings.ReplaceAll(code, " ", ""))
	if len(code) != Digits.Length() {
		return -1
	}
	step := now.Unix() / Period
	for d := -Skew; d <= Skew; d++ {
		at := time.Unix((step+int64(d))*Period, 0)
		want, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: Period, Digits: Digits, Algorithm: otp.AlgorithmSHA1})
		if err == nil && subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return step + int64(d)
		}
	}
	return -1
}

// NewBackupCodes returns a fresh set of backup codes (xxxxx-xxxxx) and
// their hashes, which are what is stored.
func NewBackupCodes() (codes, hashes []string) {
	enc := base32.NewEncoding("abcdefghijkmnpqrstuvwxyz23456789").WithPadding(base32.NoPadding)
	for range BackupCodes {
		var b [7]byte
		_, _ = rand.Read(b[:])
		c := enc.EncodeToString(b[:])[:10]
		c = c[:5] + "-" + c[5:]
		codes = append(codes, c)
		hashes = append(hashes, HashBackupCode(c))
	}
	return codes, hashes
}

// HashBackupCode is the stored form of the backup code c, however it was
// typed (case, spaces, the dash left out).
func HashBackupCode(c string) string {
	c = strings.ToLower(strings.ReplaceAll(strings.TrimSpace(c), " ", ""))
	if len(c) == 10 && !strings.Contains(c, "-") {
		c = c[:5] + "-" + c[5:]
	}
	sum := sha256.Sum256([]byte("gatehouse-backup:" + c))
	return hex.EncodeToString(sum[:])
}
