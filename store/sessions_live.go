package store

import "time"

// LiveSessions returns how many sessions of s are live at now (indexed and
// not Expired), counted in memory: the gatehouse_sessions_active metric
// reads it at every scrape. A closed store has none. (A function, not a
// method: Store is at its method budget, see internal/sourceshape.)
func LiveSessions(s *Store, now time.Time) int {
	if err := s.enter(); err != nil {
		return 0
	}
	defer s.leave()
	n, t := 0, now.UnixNano()
	s.index.eachSlot(func(sl *sessionSlot) {
		if !sl.expired(t) {
			n++
		}
	})
	return n
}
