package store

import (
	"fmt"
	"testing"
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
