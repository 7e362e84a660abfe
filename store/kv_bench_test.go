package store

import (
	"fmt"
	"testing"
	"time"
)

// The engine benchmarks: what a call costs that reaches the key-value engine
// (the request path reads memory only; these are the portal's and the
// admin API's calls). Run on both engines: see TestMain.

func BenchmarkEngineSettingRead(b *testing.B) {
	s := openTest(b, "", Options{})
	if err := s.PutSetting("k", map[string]string{"a": "b"}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		var v map[string]string
		if err := s.Setting("k", &v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEngineCreateUser(b *testing.B) {
	s := openTest(b, "", Options{})
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if err := s.CreateUser(&User{Username: fmt.Sprintf("user%d", i), Email: fmt.Sprintf("u%d@example.com", i)}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEngineSessionCreateDelete(b *testing.B) {
	s := openTest(b, "", Options{})
	u := &User{Username: "alice"}
	if err := s.CreateUser(u); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		sess := &Session{ID: sid(i), UserID: u.ID, ExpiresAt: time.Now().Add(time.Hour)}
		if err := s.CreateSession(sess); err != nil {
			b.Fatal(err)
		}
		if err := s.DeleteSession(sess.ID); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEngineAuditAppendList(b *testing.B) {
	s := openTest(b, "", Options{})
	b.ReportAllocs()
	for b.Loop() {
		if err := s.AppendAudit(&Event{Action: "login", Outcome: "success", Actor: "alice", Resource: "user:alice"}); err != nil {
			b.Fatal(err)
		}
	}
	if _, _, err := s.ListAudit(AuditFilter{}, "", 100); err != nil {
		b.Fatal(err)
	}
}

// sid is a session id made of i.
func sid(i int) SessionID {
	var id SessionID
	copy(id[:], fmt.Sprintf("bench%027d", i))
	return id
}
