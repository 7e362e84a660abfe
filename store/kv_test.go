package store

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// The engine contract (kv.go), checked on both engines by the same tests.

// walk collects the keys an iterator over opts yields from seek (Rewind when
// nil), stopping at stopPrefix when set (ValidForPrefix).
func walk(t *testing.T, s *Store, opts iterOptions, seek, stopPrefix []byte) []string {
	t.Helper()
	var out []string
	err := s.db.View(func(txn kvTxn) error {
		it := txn.NewIterator(opts)
		defer it.Close()
		if seek == nil {
			it.Rewind()
		} else {
			it.Seek(seek)
		}
		for ; it.Valid(); it.Next() {
			if stopPrefix != nil && !it.ValidForPrefix(stopPrefix) {
				break
			}
			out = append(out, string(it.Item().Key()))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestEngineIteration(t *testing.T) {
	s := openTest(t, "", Options{})
	// Keys around the edges of a prefix (0xff bytes, the prefix itself),
	// and enough under one prefix to cross pages (first page 16, last
	// 1024).
	var keys []string
	for i := range 2100 {
		keys = append(keys, fmt.Sprintf("zz/%05d", i))
	}
	keys = append(keys, "zy", "zz", "zz/", "zz0", "zz/\xff", "zz/\xff\xff", "zz\xff", "\xff\xff", "zz/\x00")
	wb := s.db.NewWriteBatch()
	for _, k := range keys {
		if err := wb.Set([]byte(k), []byte("v"+k)); err != nil {
			t.Fatal(err)
		}
	}
	if err := wb.Flush(); err != nil {
		t.Fatal(err)
	}
	// An expired record is invisible to iterators as to Get.
	if err := s.db.Update(func(txn kvTxn) error { return txn.SetTTL([]byte("zz/expired"), []byte("x"), 0) }); err != nil {
		t.Fatal(err)
	}
	var all []string
	err := s.db.View(func(txn kvTxn) error {
		return scanKeys(txn, nil, func(k []byte) error { all = append(all, string(k)); return nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	var under []string // keys with prefix zz/, in order
	for _, k := range all {
		if len(k) >= 3 && k[:3] == "zz/" {
			under = append(under, k)
		}
	}
	if len(under) != 2104 {
		t.Fatalf("%d keys under zz/, want 2104 (all: %d)", len(under), len(all))
	}
	rev := slices.Clone(under)
	slices.Reverse(rev)
	p := []byte("zz/")
	for _, tc := range []struct {
		name       string
		opts       iterOptions
		seek, stop []byte
		want       []string
	}{
		{"prefix forward", iterOptions{Prefix: p}, nil, nil, under},
		{"prefix reverse from its end", iterOptions{Prefix: p, Reverse: true}, []byte("zz/\xff\xff\xff"), nil, rev},
		// As Badger: a reverse Rewind starts at the prefix itself.
		{"prefix reverse rewind", iterOptions{Prefix: p, Reverse: true}, nil, nil, []string{"zz/"}},
		{"prefix seek", iterOptions{Prefix: p}, []byte("zz/01000"), nil, under[slices.Index(under, "zz/01000"):]},
		{"prefix seek between keys", iterOptions{Prefix: p}, []byte("zz/01000a"), nil, under[slices.Index(under, "zz/01001"):]},
		// As Badger: a seek lands on the next key, invalid when outside
		// the prefix.
		{"prefix seek before prefix", iterOptions{Prefix: p}, []byte("a"), nil, nil},
		{"prefix seek just before prefix", iterOptions{Prefix: p}, []byte("zz"), nil, nil},
		{"prefix seek after prefix", iterOptions{Prefix: p}, []byte("zz0"), nil, nil},
		{"reverse seek", iterOptions{Prefix: p, Reverse: true}, []byte("zz/01000"), nil, rev[slices.Index(rev, "zz/01000"):]},
		{"reverse seek between keys", iterOptions{Prefix: p, Reverse: true}, []byte("zz/01000a"), nil, rev[slices.Index(rev, "zz/01000"):]},
		{"reverse seek past prefix", iterOptions{Prefix: p, Reverse: true}, []byte("zz0"), nil, nil},
		{"no prefix, seek and stop", iterOptions{}, p, p, under},
		{"all 0xff prefix", iterOptions{Prefix: []byte("\xff")}, nil, nil, []string{"\xff\xff"}},
		{"all keys reverse", iterOptions{Reverse: true}, nil, nil, reversed(all)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := walk(t, s, tc.opts, tc.seek, tc.stop)
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %d keys %q…, want %d %q…", len(got), head(got), len(tc.want), head(tc.want))
			}
		})
	}
	if slices.Contains(all, "zz/expired") {
		t.Error("an expired key is listed")
	}
}

func reversed(s []string) []string {
	s = slices.Clone(s)
	slices.Reverse(s)
	return s
}

func head(s []string) []string { return s[:min(len(s), 4)] }

// TestEngineReadsOwnWrites: a transaction sees its writes and deletes,
// in Get and in iterators; nothing is visible outside before commit, and
// nothing after a failed one.
func TestEngineReadsOwnWrites(t *testing.T) {
	s := openTest(t, "", Options{})
	boom := errors.New("boom")
	err := s.db.Update(func(txn kvTxn) error {
		if err := txn.Set([]byte("t/a"), []byte("1")); err != nil {
			return err
		}
		if err := txn.Set([]byte("t/b"), nil); err != nil {
			return err
		}
		if err := txn.Delete([]byte("t/b")); err != nil {
			return err
		}
		if err := txn.Set([]byte("t/c"), nil); err != nil {
			return err
		}
		item, err := txn.Get([]byte("t/a"))
		if err != nil {
			return err
		}
		if v, _ := item.ValueCopy(nil); string(v) != "1" {
			t.Errorf("own write reads %q", v)
		}
		if _, err := txn.Get([]byte("t/b")); !errors.Is(err, errKeyNotFound) {
			t.Errorf("own delete: Get = %v", err)
		}
		var keys []string
		_ = scanKeys(txn, []byte("t/"), func(k []byte) error { keys = append(keys, string(k)); return nil })
		if !slices.Equal(keys, []string{"t/a", "t/c"}) {
			t.Errorf("own writes iterated: %q", keys)
		}
		// Meanwhile, outside: nothing yet.
		verr := s.db.View(func(v kvTxn) error {
			_, err := v.Get([]byte("t/a"))
			return err
		})
		if !errors.Is(verr, errKeyNotFound) {
			t.Errorf("uncommitted write visible outside: %v", verr)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want fn's error", err)
	}
	if err := s.db.View(func(txn kvTxn) error { _, err := txn.Get([]byte("t/a")); return err }); !errors.Is(err, errKeyNotFound) {
		t.Errorf("write of a failed transaction: %v", err)
	}
	// An empty value reads back empty, not missing.
	if err := s.db.Update(func(txn kvTxn) error { return txn.Set([]byte("t/e"), nil) }); err != nil {
		t.Fatal(err)
	}
	if ok, err := existsKey(s, []byte("t/e")); !ok || err != nil {
		t.Errorf("empty value: exists = %v, %v", ok, err)
	}
}

func existsKey(s *Store, key []byte) (ok bool, err error) {
	err = s.db.View(func(txn kvTxn) error { ok, err = exists(txn, key); return err })
	return ok, err
}

// TestEngineConflictRetry: a transaction whose read was overwritten by
// another that committed first is run again (Store.update), and sees the
// other's write: no lost update. Without the retry it would fail (or, on an
// engine without conflict detection, lose the other write).
func TestEngineConflictRetry(t *testing.T) {
	s := openTest(t, "", Options{})
	k := []byte("t/counter")
	if err := s.db.Update(func(txn kvTxn) error { return txn.Set(k, []byte("0")) }); err != nil {
		t.Fatal(err)
	}
	attempts := 0
	err := s.update(func(txn kvTxn) error {
		attempts++
		item, err := txn.Get(k)
		if err != nil {
			return err
		}
		v, _ := item.ValueCopy(nil)
		if attempts == 1 {
			// Another node writes the key meanwhile.
			if err := s.db.Update(func(o kvTxn) error { return o.Set(k, []byte("other")) }); err != nil {
				t.Errorf("concurrent write: %v", err)
			}
		}
		return txn.Set(k, append(v, "+1"...))
	})
	if err != nil {
		t.Fatal(err)
	}
	if attempts != 2 {
		t.Errorf("fn ran %d times, want 2 (one conflict, one retry)", attempts)
	}
	var got []byte
	_ = s.db.View(func(txn kvTxn) error {
		item, err := txn.Get(k)
		if err == nil {
			got, err = item.ValueCopy(nil)
		}
		return err
	})
	if string(got) != "other+1" {
		t.Errorf("counter = %q, want other+1", got)
	}

	// Many writers of one counter: every acknowledged increment counts (a
	// writer that exhausts the retries, as a hot key under -race can, tries
	// again: the point is that no acknowledged write is lost).
	const writers, each = 4, 25
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for done := 0; done < each; {
				err := s.update(func(txn kvTxn) error {
					item, err := txn.Get([]byte("t/n"))
					n := 0
					if err == nil {
						err = item.Value(func(v []byte) error { _, err := fmt.Sscan(string(v), &n); return err })
					}
					if err != nil && !errors.Is(err, errKeyNotFound) {
						return err
					}
					return txn.Set([]byte("t/n"), fmt.Appendf(nil, "%d", n+1))
				})
				if errors.Is(err, errTxnConflict) {
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				done++
			}
		})
	}
	wg.Wait()
	var n []byte
	_ = s.db.View(func(txn kvTxn) error {
		item, err := txn.Get([]byte("t/n"))
		if err == nil {
			n, err = item.ValueCopy(nil)
		}
		return err
	})
	if string(n) != fmt.Sprint(writers*each) {
		t.Errorf("counter = %s after %d increments", n, writers*each)
	}
}

// TestEngineExpiry: a record with a TTL reads until it expires, then is
// gone for Get and iterators; one without stays.
func TestEngineExpiry(t *testing.T) {
	s := openTest(t, "", Options{})
	err := s.db.Update(func(txn kvTxn) error {
		return errors.Join(txn.SetTTL([]byte("t/short"), []byte("x"), time.Second), txn.Set([]byte("t/long"), []byte("y")))
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.db.View(func(txn kvTxn) error {
		item, err := txn.Get([]byte("t/short"))
		if err != nil {
			return err
		}
		if exp := int64(item.ExpiresAt()); exp < time.Now().Unix() || exp > time.Now().Add(time.Second).Unix() {
			t.Errorf("ExpiresAt = %d, now %d", exp, time.Now().Unix())
		}
		return nil
	})
	if err != nil {
		t.Fatalf("before expiry: %v", err)
	}
	time.Sleep(time.Until(time.Unix(time.Now().Unix()+2, 0)))
	if ok, err := existsKey(s, []byte("t/short")); ok || err != nil {
		t.Errorf("expired record: exists = %v, %v", ok, err)
	}
	if got := walk(t, s, iterOptions{Prefix: []byte("t/")}, nil, nil); !slices.Equal(got, []string{"t/long"}) {
		t.Errorf("iteration after expiry: %q", got)
	}
	if !bytes.Equal([]byte("t/long"), []byte(walk(t, s, iterOptions{Prefix: []byte("t/l")}, nil, nil)[0])) {
		t.Error("the record without TTL is gone")
	}
}

// TestEngineWriteBatch: a batch larger than one of the engine's
// transactions writes everything; the last write of a key wins, across
// the points where it is written out.
func TestEngineWriteBatch(t *testing.T) {
	s := openTest(t, "", Options{})
	wb := s.db.NewWriteBatch()
	const n = 12_000
	for i := range n {
		if err := wb.Set(fmt.Appendf(nil, "b/%05d", i), []byte("first")); err != nil {
			t.Fatal(err)
		}
	}
	for _, op := range []func() error{
		func() error { return wb.Set([]byte("b/00001"), []byte("second")) },
		func() error { return wb.Delete([]byte("b/00002")) },
		func() error { return wb.SetTTL([]byte("b/00003"), []byte("gone"), 0) },
	} {
		if err := op(); err != nil {
			t.Fatal(err)
		}
	}
	if err := wb.Flush(); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	err := s.db.View(func(txn kvTxn) error {
		return scan(txn, []byte("b/"), func(k, v []byte) error { got[string(k)] = string(v); return nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n-2 || got["b/00001"] != "second" || got["b/00000"] != "first" || got["b/11999"] != "first" {
		t.Errorf("%d records (want %d), b/00001 = %q", len(got), n-2, got["b/00001"])
	}
	for _, k := range []string{"b/00002", "b/00003"} {
		if _, ok := got[k]; ok {
			t.Errorf("%s: deleted or expired, still there", k)
		}
	}
}
