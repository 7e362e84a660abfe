package policies

import (
	"slices"
	"sort"
)

// Subject is who asks to reach an app, as the access decision sees them.
// Username and Groups are expected in normalized form (see NormalizeUsername).
type Subject struct {
	Username string
	Groups   []string
	// AccessAll is true when the subject holds PermAppsAccessAll (owners
	// and admins).
	AccessAll bool
}

// Reason says why a Decision allows or denies.
type Reason uint8

// The reasons of a Decision. The zero value is ReasonNotAllowed, so a
// forgotten Reason never reads as an allowance.
const (
	ReasonNotAllowed   Reason = iota // no rule lets the subject in
	ReasonAccessAll                  // the subject may reach every app
	ReasonAllowedUser                // the subject is listed by username
	ReasonAllowedGroup               // one of the subject's groups is listed
	ReasonOpen                       // the app is open to every signed-in user
)

// String returns the reason as written in logs and the audit trail, such as
// "allowed-group".
func (r Reason) String() string {
	switch r {
	case ReasonAccessAll:
		return "access-all"
	case ReasonAllowedUser:
		return "allowed-user"
	case ReasonAllowedGroup:
		return "allowed-group"
	case ReasonOpen:
		return "open-to-signed-in"
	default:
		return "not-allowed"
	}
}

// Decision is the outcome of Access.Decide.
type Decision struct {
	Allow  bool
	Reason Reason
}

// Access holds an app's compiled access rules: the groups and users allowed
// in. It is immutable once compiled and safe for concurrent use.
type Access struct {
	groups     map[string]struct{}
	users      map[string]struct{}
	groupNames []string // sorted
	userNames  []string // sorted
}

// CompileAccess compiles an app's allow_groups and allow_users lines. Names
// are normalized with NormalizeUsername; empty names and duplicates are
// dropped. With no names at all the app is open to every signed-in user.
func CompileAccess(allowGroups, allowUsers []string) *Access {
	a := &Access{}
	a.groups, a.groupNames = compileNames(allowGroups)
	a.users, a.userNames = compileNames(allowUsers)
	return a
}

func compileNames(names []string) (map[string]struct{}, []string) {
	set := make(map[string]struct{}, len(names))
	sorted := make([]string, 0, len(names))
	for _, n := range names {
		n = NormalizeUsername(n)
		if n == "" {
			continue
		}
		if _, dup := set[n]; dup {
			continue
		}
		set[n] = struct{}{}
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	return set, sorted
}

// Open reports whether the rules list nobody, so that every signed-in user
// may reach the app. A nil Access is not open.
func (a *Access) Open() bool {
	return a != nil && len(a.groupNames) == 0 && len(a.userNames) == 0
}

// AllowGroups returns the allowed groups, sorted. The result is a copy.
func (a *Access) AllowGroups() []string {
	if a == nil {
		return nil
	}
	return slices.Clone(a.groupNames)
}

// AllowUsers returns the allowed usernames, sorted. The result is a copy.
func (a *Access) AllowUsers() []string {
	if a == nil {
		return nil
	}
	return slices.Clone(a.userNames)
}

// Equal reports whether a and b hold the same rules, whatever the order and
// case in which they were written.
func (a *Access) Equal(b *Access) bool {
	if a == nil || b == nil {
		return a == b
	}
	return slices.Equal(a.groupNames, b.groupNames) && slices.Equal(a.userNames, b.userNames)
}

// Decide says whether s may reach the app: subjects with AccessAll always
// may; then everyone may when the app is open; then listed users; then
// members of a listed group. It does not allocate. A nil Access lets in only
// subjects with AccessAll.
func (a *Access) Decide(s Subject) Decision {
	if s.AccessAll {
		return Decision{Allow: true, Reason: ReasonAccessAll}
	}
	if a == nil {
		return Decision{Reason: ReasonNotAllowed}
	}
	if a.Open() {
		return Decision{Allow: true, Reason: ReasonOpen}
	}
	if _, ok := a.users[s.Username]; ok && s.Username != "" {
		return Decision{Allow: true, Reason: ReasonAllowedUser}
	}
	if len(a.groups) > 0 {
		for _, g := range s.Groups {
			if _, ok := a.groups[g]; ok {
				return Decision{Allow: true, Reason: ReasonAllowedGroup}
			}
		}
	}
	return Decision{Reason: ReasonNotAllowed}
}
