package core

import (
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/store"
)

// TestAuditReadsTheActor: an event records the actor's client, surface and
// impersonator, whichever door it came through, and nothing the client
// sent can forge another line of the log.
func TestAuditReadsTheActor(t *testing.T) {
	c, st := newTestCore(t)
	tests := []struct {
		name  string
		actor *Actor
		event store.Event
		want  store.Event
	}{
		{"ldap bind", &Actor{Via: ViaLDAP, IP: "192.0.2.7", UserAgent: ""},
			store.Event{Actor: "alice", Action: "t.ldap"},
			store.Event{Actor: "alice", Action: "t.ldap", IP: "192.0.2.7", Via: "ldap"}},
		{"impersonated portal request", &Actor{Via: ViaPortal, IP: "198.51.100.1", UserAgent: "Firefox", Impersonator: "olga", Impersonated: "Bob"},
			store.Event{Actor: "bob", Action: "t.imp"},
			store.Event{Actor: "bob", Action: "t.imp", IP: "198.51.100.1", UserAgent: "Firefox", Via: "portal", Impersonator: "olga"}},
		{"impersonator not named for another actor", &Actor{Via: ViaAPI, Impersonator: "olga", Impersonated: "bob"},
			store.Event{Actor: "carol", Action: "t.other"},
			store.Event{Actor: "carol", Action: "t.other", Via: "api"}},
		{"no actor: a start-up duty", nil,
			store.Event{Action: "t.none"},
			store.Event{Action: "t.none"}},
		{"control characters escaped", &Actor{Via: ViaCLI, UserAgent: "x\nforged line"},
			store.Event{Actor: "eve\r\n", Action: "t.esc"},
			store.Event{Actor: `eve\r\n`, Action: "t.esc", UserAgent: `x\nforged line`, Via: "cli"}},
	}
	for _, tc := range tests {
		c.Audit(tc.actor, tc.event)
		evs, _, err := st.ListAudit(store.AuditFilter{Action: tc.event.Action}, "", 10)
		if err != nil || len(evs) != 1 {
			t.Fatalf("%s: %d events, %v", tc.name, len(evs), err)
		}
		got := *evs[0]
		got.ID, got.Time = "", tc.want.Time
		if got != tc.want {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.name, got, tc.want)
		}
		if strings.Contains(got.UserAgent, "\n") {
			t.Errorf("%s: a newline reached the log", tc.name)
		}
	}
}
