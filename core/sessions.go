package core

import (
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/mileusna/useragent"

	"github.com/gatehouse-auth/gatehouse/policies"
	"github.com/gatehouse-auth/gatehouse/store"
)

const actionSessionRevoke = "session.revoke"

// SessionView is a session as the API and the pages show it: where and
// when, never its token.
type SessionView struct {
	// ID is the hex SHA-256 of the session token (not the token).
	ID        string    `json:"id"`
	Username  string    `json:"username,omitempty"`
	Browser   string    `json:"browser"`
	OS        string    `json:"os"`
	IP        string    `json:"ip"`
	CreatedAt time.Time `json:"created_at"`
	LastSeen  time.Time `json:"last_seen"`
	ExpiresAt time.Time `json:"expires_at"`
	Remember  bool      `json:"remember"`
	Current   bool      `json:"current"`
	// Impersonator names the administrator acting as the user in this
	// session, when it is an impersonation.
	Impersonator string `json:"impersonator,omitempty"`
}

// describeAgent names the browser and OS of a User-Agent string.
func describeAgent(ua string) (browser, os string) {
	if ua == "" {
		return "Unknown", "Unknown"
	}
	p := useragent.Parse(ua)
	browser, os = p.Name, p.OS
	if browser == "" {
		browser = "Unknown"
	}
	if v := p.VersionNoFull(); v != "" && browser != "Unknown" {
		browser += " " + v
	}
	if os == "" {
		os = "Unknown"
	}
	return browser, os
}

func (s *Sessions) sessionView(sess store.Session, username string, current store.SessionID) SessionView {
	b, o := describeAgent(sess.UserAgent)
	return SessionView{ID: sess.ID.String(), Username: username, Browser: b, OS: o, IP: sess.IP,
		CreatedAt: sess.CreatedAt, LastSeen: sess.LastSeen, ExpiresAt: sess.ExpiresAt, Remember: sess.Remember,
		Current: sess.ID == current, Impersonator: sess.ImpersonatorName}
}

// UserSessions lists u's live sessions, newest activity first; current marks
// the caller's own.
func (s *Sessions) UserSessions(u *store.User, current store.SessionID) ([]SessionView, error) {
	list, err := s.store.UserSessions(u.ID)
	if err != nil {
		return nil, fmt.Errorf("core: list sessions: %w", err)
	}
	now := s.now()
	out := []SessionView{}
	for _, sess := range list {
		if !sess.Expired(now) {
			out = append(out, s.sessionView(sess, u.Username, current))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].LastSeen.After(out[j].LastSeen) })
	return out, nil
}

// onlineWindow is how recent a session's activity must be for the
// "online" view.
const onlineWindow = 15 * time.Minute

// OnlineSessions lists the sessions active in the last onlineWindow, newest
// activity first, at most store.MaxActiveSessions of them (the "online
// users" view). They are chosen in memory, so the view costs the same with
// a million sessions in the store; each user's own list (userSessions) is
// complete.
func (s *Sessions) OnlineSessions(current store.SessionID) ([]SessionView, error) {
	now := s.now()
	list, err := s.store.ActiveSessions(now, now.Add(-onlineWindow))
	if err != nil {
		return nil, err
	}
	out := make([]SessionView, 0, len(list))
	names := map[string]string{}
	for _, sess := range list {
		name, ok := names[sess.UserID]
		if !ok {
			if u, err := s.store.User(sess.UserID); err == nil {
				name = u.Username
			}
			names[sess.UserID] = name
		}
		out = append(out, s.sessionView(sess, name, current))
	}
	return out, nil
}

// ParseSessionID reads the hex id of SessionView.
func ParseSessionID(v string) (store.SessionID, bool) {
	var id store.SessionID
	b, err := hex.DecodeString(v)
	if err != nil || len(b) != len(id) {
		return id, false
	}
	copy(id[:], b)
	return id, true
}

// RevokeSession ends one session. Anyone may end their own; ending someone
// else's needs sessions.revoke and outranking its owner.
func (s *Sessions) RevokeSession(c *Actor, idHex string) error {
	id, ok := ParseSessionID(idHex)
	if !ok {
		return NotFoundf("session")
	}
	sess, err := s.store.Session(id)
	if errors.Is(err, store.ErrNotFound) {
		return NotFoundf("session")
	} else if err != nil {
		return fmt.Errorf("core: session: %w", err)
	}
	owner := c.User
	if sess.UserID != c.User.ID {
		if !c.Can(policies.PermSessionsRevoke) {
			return fmt.Errorf("%w: ending other people's sessions needs the %s permission", ErrForbidden, policies.PermSessionsRevoke)
		}
		if owner, err = s.store.User(sess.UserID); err != nil {
			return fmt.Errorf("core: session owner: %w", err)
		}
		if err := s.outranks(c, owner); err != nil {
			return err
		}
	}
	if err := s.store.DeleteSession(id); err != nil {
		return fmt.Errorf("core: end session: %w", err)
	}
	s.Audit(c, store.Event{Actor: c.User.Username, Action: actionSessionRevoke, Resource: "user:" + owner.Username, Outcome: OutcomeSuccess})
	return nil
}

// RevokeUserSessions ends every session of u except keep (zero: all).
func (s *Sessions) RevokeUserSessions(c *Actor, u *store.User, keep store.SessionID) (int, error) {
	if u.ID != c.User.ID {
		if !c.Can(policies.PermSessionsRevoke) {
			return 0, fmt.Errorf("%w: ending other people's sessions needs the %s permission", ErrForbidden, policies.PermSessionsRevoke)
		}
		if err := s.outranks(c, u); err != nil {
			return 0, err
		}
	}
	var (
		n   int
		err error
	)
	if keep == (store.SessionID{}) {
		n, err = s.store.DeleteUserSessions(u.ID)
	} else {
		n, err = s.store.DeleteUserSessionsExcept(u.ID, keep)
	}
	if err != nil {
		return 0, fmt.Errorf("core: end sessions: %w", err)
	}
	s.Audit(c, store.Event{Actor: c.User.Username, Action: actionSessionRevoke, Resource: "user:" + u.Username,
		Outcome: OutcomeSuccess, Reason: fmt.Sprintf("%d sessions", n)})
	return n, nil
}

// outranks checks that c may act on u's account at all (owners only by
// owners, nobody on a stronger account).
func (s *Sessions) outranks(c *Actor, u *store.User) error {
	return policies.Outranks(c.Principal(), s.Users.Target(u.Role))
}

// Start stores a new session of u for the client of a, kept for the
// session lifetime (or, remembered, the remember lifetime), with set
// applied to it (its sign-in methods). A session begun by a password is
// refused with ErrPasswordChanged when u's password changed since it was
// checked. It returns the session's token, for the client, and the
// session.
func (s *Sessions) Start(a *Actor, u *store.User, remember bool, set func(*store.Session)) (string, store.Session, error) {
	now := s.now()
	tok, id := NewToken()
	sess := store.Session{
		ID:        id,
		UserID:    u.ID,
		CreatedAt: now,
		LastSeen:  now,
		Remember:  remember,
		IP:        a.IP,
		UserAgent: truncate(a.UserAgent, 512),
	}
	st := s.Settings()
	if remember {
		sess.ExpiresAt = now.Add(time.Duration(st.SessionRemember))
	} else {
		sess.ExpiresAt = now.Add(time.Duration(st.SessionLifetime))
		sess.IdleTimeout = time.Duration(st.SessionIdle)
	}
	set(&sess)
	var check func(*store.User) error
	if slices.ContainsFunc(sess.Methods, func(m string) bool { return m == MethodPassword || m == MethodTempPassword }) {
		check = SamePassword(u)
	}
	if err := s.store.CreateSessionIf(&sess, check); err != nil {
		return "", store.Session{}, err
	}
	return tok, sess, nil
}
