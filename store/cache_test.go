package store

import (
	"fmt"
	"testing"
	"time"
)

func TestUserCacheBounded(t *testing.T) {
	s := openTest(t, "", Options{UserCacheSize: 5})
	var ids []string
	for i := range 20 {
		u := mustCreateUser(t, s, &User{Username: fmt.Sprintf("u%d", i)})
		ids = append(ids, u.ID)
	}
	for _, id := range ids {
		u, err := s.User(id)
		if err != nil || u.ID != id {
			t.Fatalf("User(%s) = %v, %v", id, u, err)
		}
	}
	if n := s.users.len(); n > 5 {
		t.Errorf("user cache holds %d, limit 5", n)
	}
}

func TestUserCacheGeneration(t *testing.T) {
	c := newUserCache(10)
	gen := c.generation()
	c.remove("x") // an invalidation while a reader was loading
	c.insertIfGen(&User{ID: "x"}, gen)
	if c.get("x") != nil {
		t.Error("stale read inserted after an invalidation")
	}
	gen = c.generation()
	c.insertIfGen(&User{ID: "x", Username: "new"}, gen)
	c.insertIfGen(&User{ID: "x", Username: "other"}, gen)
	if u := c.get("x"); u == nil || u.Username != "new" {
		t.Errorf("cached %+v, want the first insert kept", u)
	}
	c.replace(&User{ID: "x", Username: "replaced"})
	if u := c.get("x"); u.Username != "replaced" {
		t.Errorf("replace: cached %+v", u)
	}
}

func TestSessionCacheGeneration(t *testing.T) {
	c := newSessionCache(2)
	e := newSessionEntry(Session{ID: SessionID{1}})
	gen := c.generation()
	c.remove(SessionID{1})
	if ev := c.insertIfGen(e, gen); ev != nil || c.get(SessionID{1}) != nil {
		t.Error("stale read inserted after an invalidation")
	}
	gen = c.generation()
	for i := range 3 {
		d := newSessionEntry(Session{ID: SessionID{byte(i + 10)}})
		d.touch(time.Unix(int64(i+1), 0))
		c.insertIfGen(d, gen)
	}
	if c.len() > 2 {
		t.Errorf("cache holds %d, limit 2", c.len())
	}
}

func TestSessionEntrySnapshot(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	e := newSessionEntry(Session{ID: SessionID{1}, LastSeen: t0})
	if got := e.snapshot().LastSeen; got != t0 {
		t.Errorf("untouched snapshot LastSeen = %v, want the original value", got)
	}
	e.touch(t0.Add(-time.Second))
	if e.dirty.Load() {
		t.Error("an older touch marked the entry dirty")
	}
	e.touch(t0.Add(time.Second))
	if !e.dirty.Load() || !e.snapshot().LastSeen.Equal(t0.Add(time.Second)) {
		t.Errorf("touch: dirty %v, LastSeen %v", e.dirty.Load(), e.snapshot().LastSeen)
	}
	z := newSessionEntry(Session{})
	z.touch(t0)
	if !z.snapshot().LastSeen.Equal(t0) {
		t.Error("touch of an entry with zero LastSeen lost")
	}
}
