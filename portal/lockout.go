package portal

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse-auth/gatehouse/store"
)

const (
	actionUserLock   = "user.lock"
	actionUserUnlock = "user.unlock"
)

// locked reports whether u is locked out after too many failed sign-ins.
func (s *Service) locked(u *store.User) (bool, error) {
	_, locked, err := s.store.Lock(u.ID, s.now())
	if err != nil {
		return false, fmt.Errorf("portal: read lockout: %w", err)
	}
	return locked, nil
}

// recordFailure counts a wrong password for u and locks the account when
// the count reaches the lockout threshold. Failures are counted over one
// lockout duration from the first of them.
func (s *Service) recordFailure(r *http.Request, u *store.User, now time.Time) {
	st := s.cfg()
	if st.LockoutThreshold <= 0 {
		return
	}
	d := time.Duration(st.LockoutDuration)
	n, _, err := s.store.AddFailure(u.ID, d, now)
	if err != nil {
		s.log.Error("count sign-in failure", "user", u.Username, "error", err)
		return
	}
	if n < st.LockoutThreshold {
		return
	}
	if err := s.store.PutLock(u.ID, now.Add(d)); err != nil {
		s.log.Error("lock account", "user", u.Username, "error", err)
		return
	}
	_ = s.store.ClearFailures(u.ID)
	s.audit(r, store.Event{Action: actionUserLock, Resource: "user:" + u.Username, Outcome: outcomeSuccess,
		Reason: strconv.Itoa(n) + " failed sign-ins; locked until " + now.Add(d).UTC().Format(time.RFC3339)})
}

// unlockUser lifts a lockout on behalf of c.
func (s *Service) unlockUser(c *caller, r *http.Request, ref string) error {
	u, err := s.findUser(ref)
	if err != nil {
		return err
	}
	if err := s.mayManage(c, u); err != nil {
		return err
	}
	if err := s.store.ClearLock(u.ID); err != nil {
		return fmt.Errorf("portal: unlock: %w", err)
	}
	_ = s.store.ClearFailures(u.ID)
	s.audit(r, store.Event{Actor: c.user.Username, Action: actionUserUnlock, Resource: "user:" + u.Username, Outcome: outcomeSuccess})
	return nil
}
