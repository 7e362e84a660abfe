package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestCodecRoundTrip(t *testing.T) {
	in := Group{Name: "ops", Description: "on call"}
	b, err := encode(&in)
	if err != nil {
		t.Fatal(err)
	}
	if b[0] != versionJSON {
		t.Fatalf("version byte = %d", b[0])
	}
	var out Group
	if err := decode(b, &out); err != nil {
		t.Fatal(err)
	}
	if out != in {
		t.Errorf("decoded %+v, want %+v", out, in)
	}
}

func TestCodecErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "empty record"},
		{"unknown version", []byte{42, '{', '}'}, "unknown record version 42"},
		{"bad json", []byte{1, '{'}, "decode"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var g Group
			err := decode(tc.in, &g)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("decode = %v, want error containing %q", err, tc.want)
			}
		})
	}
}

// binarySessions and binaryUsers are records with every field set, and
// with none.
func binarySessions() []Session {
	at := time.Date(2026, 11, 23, 12, 0, 0, 123456789, time.UTC)
	return []Session{
		{},
		{UserID: "u1", CreatedAt: at, LastSeen: at.Add(time.Minute), ExpiresAt: at.Add(12 * time.Hour),
			IdleTimeout: time.Hour, Remember: true, Methods: []string{"password", "totp"}, SecondFactor: true,
			IP: "203.0.113.7", UserAgent: "Mozilla/5.0 (X11; Linux x86_64) ünïcode",
			ImpersonatorID: "u0", ImpersonatorName: "olga", ActorSession: "ab12"},
		{UserID: "u2", CreatedAt: time.Unix(-5, 0).UTC(), ExpiresAt: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)},
	}
}

func binaryUsers() []User {
	at := time.Date(2026, 11, 23, 12, 0, 0, 1, time.UTC)
	return []User{
		{},
		{ID: "id1", Username: "alice", Email: "a@example.com", FallbackEmail: "b@example.com", FullName: "Alice Ä",
			Role: "admin", Groups: []string{"dev", "ops"}, Disabled: true, PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
			PasswordChangedAt: at, CreatedAt: at, UpdatedAt: at.Add(time.Second), LastLoginAt: at.Add(time.Hour), ExpiresAt: at.Add(24 * time.Hour),
			PendingEmail: "new@example.com", Source: SourceLDAP, ExternalID: "uid=alice,ou=people,dc=example,dc=org",
			ExternalGroups: []string{"Ops Team", "dev"}, UIDNumber: 4294967295,
			SSHKeys:  []string{"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq alice@laptop"},
			Language: "de", TimeZone: "Europe/Berlin"},
	}
}

func TestBinaryRecordRoundTrip(t *testing.T) {
	for i, in := range binarySessions() {
		b, err := encode(&in)
		if err != nil {
			t.Fatal(err)
		}
		if b[0] != versionBinary {
			t.Fatalf("session %d: version byte %d, want %d", i, b[0], versionBinary)
		}
		out := Session{ID: SessionID{1}}
		if err := decode(b, &out); err != nil {
			t.Fatalf("session %d: %v", i, err)
		}
		in.ID = SessionID{1} // the id lives in the key and is kept
		if !reflect.DeepEqual(out, in) {
			t.Errorf("session %d:\n got %+v\nwant %+v", i, out, in)
		}
	}
	for i, in := range binaryUsers() {
		b, err := encode(&in)
		if err != nil {
			t.Fatal(err)
		}
		var out User
		if err := decode(b, &out); err != nil {
			t.Fatalf("user %d: %v", i, err)
		}
		if !reflect.DeepEqual(out, in) {
			t.Errorf("user %d:\n got %+v\nwant %+v", i, out, in)
		}
		var d dirRecord
		if err := decode(b, &d); err != nil || d.Username != in.Username || d.Disabled != in.Disabled || !slices.Equal(d.Groups, in.Groups) {
			t.Errorf("user %d as a directory record: %+v, %v", i, d, err)
		}
	}
}

// TestJSONRecordsStillRead: records written before the binary form (JSON,
// version 1) are read as before.
func TestJSONRecordsStillRead(t *testing.T) {
	in := binarySessions()[1]
	j, err := json.Marshal(&in)
	if err != nil {
		t.Fatal(err)
	}
	var out Session
	if err := decode(append([]byte{versionJSON}, j...), &out); err != nil {
		t.Fatal(err)
	}
	if out.UserID != in.UserID || !out.ExpiresAt.Equal(in.ExpiresAt) || out.UserAgent != in.UserAgent || !out.SecondFactor {
		t.Errorf("got %+v", out)
	}
	u := binaryUsers()[1]
	j, _ = json.Marshal(&u)
	var d dirRecord
	if err := decode(append([]byte{versionJSON}, j...), &d); err != nil || d.FullName != u.FullName {
		t.Errorf("directory record from JSON: %+v, %v", d, err)
	}
}

func TestBinaryRecordErrors(t *testing.T) {
	full := binaryUsers()[1]
	b, _ := encode(&full)
	for _, tc := range []struct {
		name string
		in   []byte
		into any
		want string
	}{
		{"inside a string", b[:4], &User{}, "cut short"},
		{"between fields", b[:1+1+len(full.ID)], &User{}, "cut short"},
		{"trailing bytes", append(slices.Clone(b), 7), &User{}, "after the last field"},
		{"string longer than the record", []byte{versionBinary, 0x7f, 'a'}, &User{}, "cut short"},
		{"varint overflow", append([]byte{versionBinary}, bytes.Repeat([]byte{0xff}, 11)...), &User{}, "overflows"},
		{"huge list count", []byte{versionBinary, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}, &User{}, "cut short"},
		{"bad nanoseconds", []byte{versionBinary, 0, 0xff, 0xff, 0xff, 0xff, 0x0f, 0}, &Session{}, "nanoseconds"},
		{"type without a binary form", []byte{versionBinary}, &Group{}, "without a binary form"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := decode(tc.in, tc.into)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("decode = %v, want error containing %q", err, tc.want)
			}
		})
	}
}

// FuzzDecodeBinary: no input makes the binary decoders panic or allocate
// beyond the input's size, and whatever decodes re-encodes to a record
// that decodes the same.
func FuzzDecodeBinary(f *testing.F) {
	for _, s := range binarySessions() {
		b, _ := encode(&s)
		f.Add(b[1:])
	}
	for _, u := range binaryUsers() {
		b, _ := encode(&u)
		f.Add(b[1:])
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		rec := append([]byte{versionBinary}, in...)
		var s Session
		if decode(rec, &s) == nil {
			b, _ := encode(&s)
			var again Session
			if err := decode(b, &again); err != nil || !reflect.DeepEqual(again, s) {
				t.Fatalf("session re-encoded: %+v, %v; was %+v", again, err, s)
			}
		}
		var u User
		if decode(rec, &u) == nil {
			b, _ := encode(&u)
			var again User
			if err := decode(b, &again); err != nil || !reflect.DeepEqual(again, u) {
				t.Fatalf("user re-encoded: %+v, %v; was %+v", again, err, u)
			}
		}
		var d dirRecord
		_ = decode(rec, &d)
	})
}

// BenchmarkDecodeSession compares reading a session record in each format:
// this is what every session-cache miss on the request path pays.
func BenchmarkDecodeSession(b *testing.B) {
	in := binarySessions()[1]
	in.ImpersonatorID, in.ImpersonatorName, in.ActorSession = "", "", ""
	bin, _ := encode(&in)
	j, _ := json.Marshal(&in)
	for _, f := range []struct {
		name string
		rec  []byte
	}{{"json", append([]byte{versionJSON}, j...)}, {"binary", bin}} {
		b.Run(f.name, func(b *testing.B) {
			b.ReportAllocs()
			b.ReportMetric(float64(len(f.rec)), "bytes/record")
			for b.Loop() {
				var s Session
				if err := decode(f.rec, &s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestUserRecordBeforePendingEmail: a binary user record written before
// PendingEmail existed (it ends after ExpiresAt) still reads.
func TestUserRecordBeforePendingEmail(t *testing.T) {
	in := binaryUsers()[1]
	in.PendingEmail, in.Source, in.ExternalID, in.ExternalGroups = "", "", "", nil
	in.UIDNumber, in.SSHKeys, in.Language, in.TimeZone = 0, nil, "", ""
	b, _ := encode(&in)
	old := b[:len(b)-8] // the empty PendingEmail, Source and ExternalID are a length byte each, ExternalGroups a count, UIDNumber a 0, SSHKeys a count
	var out User
	if err := decode(old, &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out, in) {
		t.Errorf("got %+v\nwant %+v", out, in)
	}
}

// TestUserRecordBeforeSource: a binary user record written before the
// external directory's fields existed (it ends after PendingEmail) still
// reads, as an account of Gatehouse's own.
func TestUserRecordBeforeSource(t *testing.T) {
	in := binaryUsers()[1]
	in.Source, in.ExternalID, in.ExternalGroups = "", "", nil
	in.UIDNumber, in.SSHKeys, in.Language, in.TimeZone = 0, nil, "", ""
	b, _ := encode(&in)
	old := b[:len(b)-7]
	if !bytes.HasSuffix(old, []byte(in.PendingEmail)) {
		t.Fatal("the cut record does not end with PendingEmail")
	}
	var out User
	if err := decode(old, &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out, in) {
		t.Errorf("got %+v\nwant %+v", out, in)
	}
}

// TestUserRecordBeforePosix: a binary user record written before the POSIX
// fields existed (it ends after ExternalGroups) still reads, without a uid
// number or SSH keys; a uid number past 32 bits is refused.
func TestUserRecordBeforePosix(t *testing.T) {
	in := binaryUsers()[1]
	in.UIDNumber, in.SSHKeys, in.Language, in.TimeZone = 0, nil, "", ""
	b, _ := encode(&in)
	old := b[:len(b)-4]
	if !bytes.HasSuffix(old, []byte("dev")) {
		t.Fatal("the cut record does not end with ExternalGroups")
	}
	var out User
	if err := decode(old, &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out, in) {
		t.Errorf("got %+v\nwant %+v", out, in)
	}
	big := binary.AppendUvarint(slices.Clone(old), 1<<32)
	if err := decode(append(big, 0), &out); err == nil {
		t.Error("a uid number of 2^32 was read")
	}
}

// TestUserRecordBeforeLanguage: a binary user record written before the
// language and time zone existed (it ends after SSHKeys) still reads,
// with both empty (from the browser, UTC).
func TestUserRecordBeforeLanguage(t *testing.T) {
	in := binaryUsers()[1]
	in.Language, in.TimeZone = "", ""
	b, _ := encode(&in)
	old := b[:len(b)-2]
	if !bytes.HasSuffix(old, []byte("alice@laptop")) {
		t.Fatal("the cut record does not end with SSHKeys")
	}
	var out User
	if err := decode(old, &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out, in) {
		t.Errorf("got %+v\nwant %+v", out, in)
	}
}
