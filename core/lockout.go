package core

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/gatehouse-auth/gatehouse/store"
)

const (
	ActionUserLock   = "user.lock"
	ActionUserUnlock = "user.unlock"
	// ActionDeviceLock: one trusted device of a user failed too often and
	// is locked; the account is not (devicecookies.go).
	ActionDeviceLock = "user.device_lock"
)

// A sign-in attempt is judged either by its account (an untrusted client:
// no valid device cookie for the user) or by one trusted device of the
// user (device is the device id from trustedDevice). Each has its own
// failure count and lock, in the store under lockoutKey.
//
// What counts as a failure: a wrong password, and a wrong second step
// (TOTP code, backup code, refused security key) after a right password.
// A right password does not clear the count: only a completed sign-in
// does (clearFailures), so "right password, wrong code" repeated locks
// like wrong passwords do.

// lockoutKey is the store key of the failures and lock of the user id, or
// of that user's trusted device.
func lockoutKey(id, device string) string {
	if device == "" {
		return id
	}
	return "device:" + id + ":" + device
}

// Locked reports whether u's account is locked out after too many failed
// sign-ins from untrusted clients.
func (s *Auth) Locked(u *store.User) (bool, error) {
	return s.LockedFor(u, "")
}

// LockedFor reports whether an attempt judged by device ("" for the
// account) is locked out.
func (s *Auth) LockedFor(u *store.User, device string) (bool, error) {
	return s.lockedAt(lockoutKey(u.ID, device), s.now())
}

// lockedAt is LockedFor of the lockout key (lockoutKey) at now, for a
// caller that has read the clock.
func (s *Auth) lockedAt(key string, now time.Time) (bool, error) {
	_, locked, err := s.store.Lock(key, now)
	if err != nil {
		return false, storeDown("read lockout", err)
	}
	return locked, nil
}

// RecordFailureFor counts a failed sign-in (a wrong password or second
// step) of u judged by device ("" for the account) and, when the count
// reaches the lockout threshold, locks the account or that device for the
// lockout duration. Failures are counted over one lockout duration from
// the first of them.
//
// It fails closed: when the count or the lock cannot be written (the
// store is down), it returns an error wrapping ErrBusy, and the caller
// refuses the attempt with it (503) rather than as a wrong password: that
// answer would be a guess the lockout never counted.
func (s *Auth) RecordFailureFor(a *Actor, u *store.User, device string, now time.Time) error {
	st := s.Settings()
	if st.LockoutThreshold <= 0 {
		return nil
	}
	d := time.Duration(st.LockoutDuration)
	key := lockoutKey(u.ID, device)
	n, _, err := s.store.AddFailure(key, d, now)
	if err != nil {
		s.log.Error("count sign-in failure", "user", u.Username, "error", err)
		return storeDown("count sign-in failure", err)
	}
	if n < st.LockoutThreshold {
		return nil
	}
	if err := s.store.PutLock(key, now.Add(d)); err != nil {
		s.log.Error("lock account", "user", u.Username, "error", err)
		return storeDown("lock account", err)
	}
	_ = s.store.ClearFailures(key)
	s.metrics.Lockout()
	until := now.Add(d).UTC().Format(time.RFC3339)
	if device != "" {
		s.Audit(a, store.Event{Action: ActionDeviceLock, Resource: "user:" + u.Username, Outcome: OutcomeSuccess,
			Reason: strconv.Itoa(n) + " failed sign-ins from one trusted device (" + DeviceLabel(device) + "); that device is locked until " +
				until + ", the account is not"})
		return nil
	}
	s.Audit(a, store.Event{Action: ActionUserLock, Resource: "user:" + u.Username, Outcome: OutcomeSuccess,
		Reason: strconv.Itoa(n) + " failed sign-ins; locked until " + until + " for devices " + u.Username + " has not signed in from before"})
	s.Notify(a, u, NoticeLocked, Say("mail.detail.locked", "Count", n, "Until", now.Add(d)))
	return nil
}

// storeDown is the error of a lockout read or write the store failed:
// ErrBusy (503, try again), so a sign-in is never judged without its
// lockout.
func storeDown(what string, err error) error {
	return fmt.Errorf("core: %s: %w: %w", what, ErrBusy, err)
}

// ClearFailures forgets the failures of u judged by device ("" for the
// account) after a completed sign-in.
func (s *Auth) ClearFailures(u *store.User, device string) {
	if err := s.store.ClearFailures(lockoutKey(u.ID, device)); err != nil {
		s.log.Error("clear sign-in failures", "user", u.Username, "error", err)
	}
}

// UnlockUser lifts a lockout on behalf of c.
func (s *Auth) UnlockUser(c *Actor, ref string) error {
	u, err := s.Users.FindUser(ref)
	if err != nil {
		return err
	}
	if err := s.Users.MayManage(c, u); err != nil {
		return err
	}
	if err := s.store.ClearLock(u.ID); err != nil {
		return fmt.Errorf("core: unlock: %w", err)
	}
	_ = s.store.ClearFailures(u.ID)
	s.Audit(c, store.Event{Actor: c.User.Username, Action: ActionUserUnlock, Resource: "user:" + u.Username, Outcome: OutcomeSuccess})
	return nil
}

// Audit action of a session ended for wrong re-proofs.
const actionSessionReproofEnd = "session.end_reproof"

// verifyCurrentPassword checks pw, typed in c's signed-in session to
// re-prove who is at the keyboard (a password, email or factor change).
// A wrong password counts as a failed re-proof (reproofFailed).
func (s *Auth) verifyCurrentPassword(ctx context.Context, c *Actor, pw string) (bool, error) {
	ok, err := s.checkPassword(ctx, c.User, pw)
	if err != nil {
		return false, err
	}
	if !ok {
		if err := s.ReproofFailed(c); err != nil {
			return false, err
		}
	}
	return ok, nil
}

// ReproofFailed counts a wrong password or code typed in c's session to
// re-prove itself: as a failed sign-in of the account, and against the
// session itself, which ends when its count reaches the lockout threshold.
// So a stolen session cannot guess the password without end, while the
// account's own lock (which a stranger can set) does not stop its owner
// re-proving herself from her session. Like RecordFailureFor, it fails
// closed: an error when a count cannot be written.
func (s *Auth) ReproofFailed(c *Actor) error {
	now := s.now()
	if err := s.RecordFailureFor(c, c.User, "", now); err != nil {
		return err
	}
	st := s.Settings()
	if st.LockoutThreshold <= 0 || c.SessionID == (store.SessionID{}) {
		return nil
	}
	n, _, err := s.store.AddFailure("session:"+c.SessionID.String(), time.Duration(st.LockoutDuration), now)
	if err != nil {
		s.log.Error("count re-proof failure", "user", c.User.Username, "error", err)
		return storeDown("count re-proof failure", err)
	}
	if n < st.LockoutThreshold {
		return nil
	}
	if err := s.store.DeleteSession(c.SessionID); err != nil {
		s.log.Error("end session after wrong re-proofs", "user", c.User.Username, "error", err)
		return storeDown("end session after wrong re-proofs", err)
	}
	s.Audit(c, store.Event{Action: actionSessionReproofEnd, Resource: "user:" + c.User.Username, Outcome: OutcomeSuccess,
		Reason: strconv.Itoa(n) + " wrong passwords or codes typed to confirm a change; the session was ended"})
	return nil
}

// DeviceLabel names a device in the audit log without its whole nonce.
func DeviceLabel(device string) string {
	if len(device) > 8 {
		device = device[:8]
	}
	return "device " + device
}

// FreshProof checks that c has freshly proven itself before changing how
// its account proves itself: a session younger than FreshWindow, or the
// current password pw or a code from the authenticator app. A wrong pw or
// code counts like a failed sign-in (ReproofFailed).
func (s *Auth) FreshProof(ctx context.Context, c *Actor, pw, code string) error {
	var err error
	now := s.now()
	if pw == "" && code == "" {
		if now.Sub(c.Session.CreatedAt) < FreshWindow {
			return nil
		}
		return ErrNotFresh
	}
	ok := false
	if pw != "" {
		if ok, err = s.checkPassword(ctx, c.User, pw); err != nil {
			return err
		}
	}
	if !ok && code != "" {
		ok = s.CheckTOTP(c.User, code) == nil
	}
	if !ok {
		if err := s.ReproofFailed(c); err != nil {
			return err
		}
		return ErrBadProof
	}
	return nil
}
