// Command seed fills a Gatehouse storage directory with a large, realistic
// data set for the scale benchmark (bench/scale): users spread over groups,
// sessions spread over the users, and an audit log spread over the last 30
// days. It writes through store.Batch, so a million records take seconds.
//
//	go run ./bench/seed -storage DIR -tokens FILE \
//	    -users 100000 -groups 500 -sessions 1000000 -events 1000000
//
// Every user's password is -password (one argon2id hash, computed once);
// user "owner" has the owner role. The session tokens (the cookie values)
// are written to -tokens, one per line, in random order. The directory must
// not hold a Gatehouse database already, and Gatehouse must not be running.
package main

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"flag"
	"fmt"
	"log"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/gatehouse-auth/gatehouse/core/password"
	"github.com/gatehouse-auth/gatehouse/store"
)

func main() {
	dir := flag.String("storage", "", "Gatehouse storage directory to create (required)")
	tokens := flag.String("tokens", "", "file to write the session tokens to (required)")
	users := flag.Int("users", 100_000, "number of users (including owner)")
	groups := flag.Int("groups", 500, "number of groups; each user is in one or two")
	sessions := flag.Int("sessions", 1_000_000, "number of sessions, spread evenly over the users")
	events := flag.Int("events", 1_000_000, "number of audit events over the last 30 days")
	pw := flag.String("password", "Seed-passw0rd", "every user's password")
	disabledEvery := flag.Int("disabled-every", 50, "about one user in this many is disabled; 0: none")
	flag.Parse()
	if *dir == "" || *tokens == "" || *users < 1 || *groups < 1 || *sessions < 0 || *events < 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := seed(*dir, *tokens, *users, *groups, *sessions, *events, *pw, *disabledEvery); err != nil {
		log.Fatalf("seed: %v", err)
	}
}

func seed(dir, tokenFile string, nUsers, nGroups, nSessions, nEvents int, pw string, disabledEvery int) error {
	if _, err := os.Stat(filepath.Join(dir, "MANIFEST")); err == nil {
		return fmt.Errorf("%s already holds a database", dir)
	}
	start := time.Now()
	s, err := store.Open(dir, store.Options{})
	if err != nil {
		return err
	}
	defer s.Close()
	hash, err := password.Hash(pw, password.DefaultParams())
	if err != nil {
		return err
	}
	now := time.Now()
	// Fixed seed: the same data set every run (tokens stay random).
	rng := mrand.New(mrand.NewPCG(1, 2))

	// Users and groups.
	b, err := s.NewBatch()
	if err != nil {
		return err
	}
	for g := range nGroups {
		if err := b.AddGroup(&store.Group{Name: groupName(g), Description: "Seeded group"}); err != nil {
			return abort(b, err)
		}
	}
	names := make([]string, nUsers)
	// Sessions go to enabled users only: disabling a user ends their
	// sessions.
	var enabled []string
	for i := range nUsers {
		u := &store.User{
			Username:          fmt.Sprintf("user%06d", i),
			Email:             fmt.Sprintf("user%06d@example.org", i),
			FullName:          fmt.Sprintf("%s %s", first[rng.IntN(len(first))], last[rng.IntN(len(last))]),
			Role:              "user",
			Groups:            []string{groupName(rng.IntN(nGroups))},
			PasswordHash:      hash,
			PasswordChangedAt: now,
			CreatedAt:         now.Add(-time.Duration(rng.IntN(365*24)) * time.Hour),
		}
		if i == 0 {
			u.Username, u.Email, u.Role = "owner", "owner@example.org", "owner"
		}
		if rng.IntN(3) == 0 {
			u.Groups = append(u.Groups, groupName(rng.IntN(nGroups)))
		}
		if disabledEvery > 0 && rng.IntN(disabledEvery) == 0 {
			u.Disabled = true
		}
		if err := b.AddUser(u); err != nil {
			return abort(b, err)
		}
		names[i] = u.Username
		if !u.Disabled {
			enabled = append(enabled, u.ID)
		}
	}
	if err := b.Commit(); err != nil {
		return err
	}
	log.Printf("seed: %d users in %d groups (%s)", nUsers, nGroups, time.Since(start).Round(time.Millisecond))

	// Sessions, committed in chunks to bound the batch's memory.
	t := time.Now()
	f, err := os.OpenFile(tokenFile, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	order := rng.Perm(nSessions)
	toks := make([]string, nSessions)
	const chunk = 200_000
	for lo := 0; lo < nSessions; lo += chunk {
		b, err := s.NewBatch()
		if err != nil {
			return err
		}
		for i := lo; i < min(lo+chunk, nSessions); i++ {
			var raw [32]byte
			_, _ = rand.Read(raw[:])
			tok := base64.RawURLEncoding.EncodeToString(raw[:])
			// Every session is in use (the benchmark sends requests on
			// all of them): active in the last ten minutes. Two in three
			// are ordinary sessions (12 h, 1 h idle timeout), one in
			// three "keep me signed in" (30 days, no idle timeout).
			created := now.Add(-time.Duration(600+rng.IntN(6*3600)) * time.Second)
			sess := &store.Session{
				ID:          sha256.Sum256([]byte(tok)), // as the portal derives it
				UserID:      enabled[i%len(enabled)],
				CreatedAt:   created,
				LastSeen:    now.Add(-time.Duration(rng.IntN(600)) * time.Second),
				ExpiresAt:   created.Add(12 * time.Hour),
				IdleTimeout: time.Hour,
				Methods:     []string{"password"},
				IP:          fmt.Sprintf("10.%d.%d.%d", rng.IntN(256), rng.IntN(256), rng.IntN(256)),
				UserAgent:   "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
			}
			if i%3 == 2 {
				sess.Remember, sess.IdleTimeout, sess.ExpiresAt = true, 0, created.Add(30*24*time.Hour)
			}
			if err := b.AddSession(sess); err != nil {
				return abort(b, err)
			}
			toks[order[i]] = tok
		}
		if err := b.Commit(); err != nil {
			return err
		}
	}
	for _, tok := range toks {
		fmt.Fprintln(w, tok)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	log.Printf("seed: %d sessions (%s)", nSessions, time.Since(t).Round(time.Millisecond))

	// Audit events, oldest first, over the last 30 days.
	t = time.Now()
	span := 30 * 24 * time.Hour
	for lo := 0; lo < nEvents; lo += chunk {
		b, err := s.NewBatch()
		if err != nil {
			return err
		}
		for i := lo; i < min(lo+chunk, nEvents); i++ {
			at := now.Add(-span + time.Duration(int64(span)/int64(nEvents)*int64(i)))
			actor := names[rng.IntN(nUsers)]
			e := &store.Event{Time: at, Actor: actor, Outcome: "success",
				IP: fmt.Sprintf("10.%d.%d.%d", rng.IntN(256), rng.IntN(256), rng.IntN(256)), UserAgent: "Mozilla/5.0"}
			switch r := rng.IntN(10); {
			case r < 6:
				e.Action, e.Resource = "login", "user:"+actor
			case r < 8:
				e.Action, e.Resource = "logout", "user:"+actor
			case r < 9:
				e.Action, e.Resource, e.Outcome, e.Reason = "login", "user:"+actor, "failure", "wrong password"
			default:
				e.Actor = "owner"
				e.Action, e.Resource = "user.update", "user:"+actor
			}
			if err := b.AddAudit(e); err != nil {
				return abort(b, err)
			}
		}
		if err := b.Commit(); err != nil {
			return err
		}
	}
	log.Printf("seed: %d audit events (%s)", nEvents, time.Since(t).Round(time.Millisecond))
	t = time.Now()
	if err := s.Compact(); err != nil {
		return err
	}
	log.Printf("seed: compacted (%s)", time.Since(t).Round(time.Millisecond))
	if err := s.Close(); err != nil {
		return err
	}
	log.Printf("seed: done in %s", time.Since(start).Round(time.Millisecond))
	return nil
}

// abort cancels b and returns err.
func abort(b *store.Batch, err error) error { b.Cancel(); return err }

func groupName(i int) string { return fmt.Sprintf("team-%03d", i) }

var (
	first = []string{"Ada", "Alan", "Grace", "Linus", "Margaret", "Ken", "Barbara", "Dennis", "Frances", "Edsger", "Radia", "Niklaus"}
	last  = []string{"Lovelace", "Turing", "Hopper", "Torvalds", "Hamilton", "Thompson", "Liskov", "Ritchie", "Allen", "Dijkstra", "Perlman", "Wirth"}
)
