package store

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestBackupHistory: the history comes back newest first and keeps only
// the newest MaxBackupHistory entries.
func TestBackupHistory(t *testing.T) {
	s := openTest(t, "", Options{})
	log := NewBackupLog(s)
	if hist, err := log.BackupHistory(); err != nil || len(hist) != 0 {
		t.Fatalf("empty history: %v %v", hist, err)
	}
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range MaxBackupHistory + 5 {
		if err := log.AddBackupRecord(BackupRecord{Time: base.Add(time.Duration(i) * time.Minute), File: fmt.Sprint(i), Result: "ok", Actor: "schedule"}); err != nil {
			t.Fatal(err)
		}
	}
	hist, err := log.BackupHistory()
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != MaxBackupHistory || hist[0].File != fmt.Sprint(MaxBackupHistory+4) || hist[len(hist)-1].File != "5" {
		t.Errorf("history of %d, first %q, last %q; want %d from %d down to 5", len(hist), hist[0].File, hist[len(hist)-1].File, MaxBackupHistory, MaxBackupHistory+4)
	}
}

// TestTakeLease: a lease is one holder's until it expires; its holder may
// take it again (extending it); after expiry another holder gets it; and
// of many holders racing for a free lease, exactly one wins (on
// PostgreSQL also across two Stores on one database, as two nodes).
func TestTakeLease(t *testing.T) {
	clk := newClock()
	dir := t.TempDir()
	s := openTest(t, dir, Options{Now: clk.Now})
	log := NewBackupLog(s)
	take := func(holder string, want bool) {
		t.Helper()
		if got, err := log.TakeLease("backup", holder, time.Minute); err != nil || got != want {
			t.Fatalf("TakeLease(%s) = %v, %v; want %v", holder, got, err, want)
		}
	}
	take("a", true)
	take("b", false)
	clk.Advance(50 * time.Second)
	take("a", true) // extended to 50s + 1m
	clk.Advance(30 * time.Second)
	take("b", false)
	clk.Advance(31 * time.Second)
	take("b", true)
	take("a", false)
	if _, err := log.TakeLease("", "a", time.Minute); err == nil {
		t.Error("a lease without a name was taken")
	}

	clk.Advance(2 * time.Minute) // free again
	logs := []BackupLog{log}
	if testPG != nil {
		logs = append(logs, NewBackupLog(openTest(t, dir, Options{Now: clk.Now})))
	}
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			won, err := logs[i%len(logs)].TakeLease("race", fmt.Sprint("node", i), time.Minute)
			if err != nil {
				t.Errorf("node%d: %v", i, err)
			}
			if won {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Errorf("%d holders won the lease, want 1", wins.Load())
	}
}

// TestVerifyBackup: a backup reads through; a truncated one, a corrupt
// one and a stream that is not a Gatehouse backup do not.
func TestVerifyBackup(t *testing.T) {
	s := openTest(t, "", Options{})
	if err := s.CreateUser(&User{Username: "alice", Role: "user"}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := s.Backup(&buf); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	if n, err := VerifyBackup(bytes.NewReader(good)); err != nil || n < 2 {
		t.Fatalf("VerifyBackup of a backup: %d records, %v", n, err)
	}
	corrupt := bytes.Clone(good)
	for i := 8; i < len(corrupt) && i < 40; i++ {
		corrupt[i] ^= 0xff
	}
	for _, tc := range []struct {
		name, want string
		data       []byte
	}{
		{"truncated", "unexpected EOF", good[:len(good)-3]},
		{"corrupt", "malformed", corrupt},
		{"empty", "not a Gatehouse backup", nil},
		{"huge frame", "malformed backup", []byte{0, 0, 0, 0, 0, 0, 0, 0x7f}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := VerifyBackup(bytes.NewReader(tc.data))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("VerifyBackup: %v, want an error saying %q", err, tc.want)
			}
		})
	}
}
