package policies

import (
	"slices"
	"testing"
)

func TestAccessDecide(t *testing.T) {
	open := CompileAccess(nil, nil)
	rules := CompileAccess([]string{"Devs", " ops ", "devs", ""}, []string{"Alice"})

	tests := []struct {
		name    string
		access  *Access
		subject Subject
		want    Decision
	}{
		{name: "access all beats rules", access: rules, subject: Subject{Username: "mallory", AccessAll: true},
			want: Decision{Allow: true, Reason: ReasonAccessAll}},
		{name: "open app", access: open, subject: Subject{Username: "bob"},
			want: Decision{Allow: true, Reason: ReasonOpen}},
		{name: "listed user", access: rules, subject: Subject{Username: "alice"},
			want: Decision{Allow: true, Reason: ReasonAllowedUser}},
		{name: "listed group", access: rules, subject: Subject{Username: "bob", Groups: []string{"sales", "ops"}},
			want: Decision{Allow: true, Reason: ReasonAllowedGroup}},
		{name: "group normalized at compile", access: rules, subject: Subject{Username: "bob", Groups: []string{"devs"}},
			want: Decision{Allow: true, Reason: ReasonAllowedGroup}},
		{name: "not listed", access: rules, subject: Subject{Username: "bob", Groups: []string{"sales"}},
			want: Decision{Reason: ReasonNotAllowed}},
		{name: "no groups", access: rules, subject: Subject{Username: "bob"},
			want: Decision{Reason: ReasonNotAllowed}},
		{name: "empty username never listed", access: CompileAccess([]string{"x"}, []string{""}), subject: Subject{},
			want: Decision{Reason: ReasonNotAllowed}},
		{name: "nil access denies", access: nil, subject: Subject{Username: "alice"},
			want: Decision{Reason: ReasonNotAllowed}},
		{name: "nil access still lets access all in", access: nil, subject: Subject{AccessAll: true},
			want: Decision{Allow: true, Reason: ReasonAccessAll}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.access.Decide(tt.subject); got != tt.want {
				t.Errorf("Decide(%+v) = %+v; want %+v", tt.subject, got, tt.want)
			}
		})
	}
}

func TestAccessCompile(t *testing.T) {
	a := CompileAccess([]string{"Ops", "devs", "ops", "  "}, []string{"Bob", "alice", "BOB"})
	if got, want := a.AllowGroups(), []string{"devs", "ops"}; !slices.Equal(got, want) {
		t.Errorf("AllowGroups() = %v; want %v", got, want)
	}
	if got, want := a.AllowUsers(), []string{"alice", "bob"}; !slices.Equal(got, want) {
		t.Errorf("AllowUsers() = %v; want %v", got, want)
	}
	a.AllowGroups()[0] = "mutated"
	if a.AllowGroups()[0] != "devs" {
		t.Error("AllowGroups returns shared storage")
	}
	if a.Open() {
		t.Error("Open() = true with rules")
	}
	if !CompileAccess([]string{""}, nil).Open() {
		t.Error("Open() = false with only empty names")
	}
	var nilAccess *Access
	if nilAccess.Open() {
		t.Error("nil Access is open")
	}
}

func TestAccessEqual(t *testing.T) {
	base := CompileAccess([]string{"ops", "devs"}, []string{"alice"})
	tests := []struct {
		name  string
		a, b  *Access
		equal bool
	}{
		{name: "same order", a: base, b: CompileAccess([]string{"ops", "devs"}, []string{"alice"}), equal: true},
		{name: "other order and case", a: base, b: CompileAccess([]string{"DEVS", "ops", "ops"}, []string{"Alice"}), equal: true},
		{name: "group missing", a: base, b: CompileAccess([]string{"ops"}, []string{"alice"})},
		{name: "group became user", a: CompileAccess([]string{"x1"}, nil), b: CompileAccess(nil, []string{"x1"})},
		{name: "both open", a: CompileAccess(nil, nil), b: CompileAccess([]string{}, []string{}), equal: true},
		{name: "both nil", equal: true},
		{name: "one nil", a: base},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.a.Equal(tt.b); got != tt.equal {
				t.Errorf("Equal = %v; want %v", got, tt.equal)
			}
			if got := tt.b.Equal(tt.a); got != tt.equal {
				t.Errorf("reverse Equal = %v; want %v", got, tt.equal)
			}
		})
	}
}

func TestReasonString(t *testing.T) {
	tests := []struct {
		r    Reason
		want string
	}{
		{ReasonAccessAll, "access-all"},
		{ReasonAllowedUser, "allowed-user"},
		{ReasonAllowedGroup, "allowed-group"},
		{ReasonOpen, "open-to-signed-in"},
		{ReasonNotAllowed, "not-allowed"},
		{Reason(200), "not-allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.r.String(); got != tt.want {
				t.Errorf("Reason(%d).String() = %q; want %q", tt.r, got, tt.want)
			}
		})
	}
	var zero Decision
	if zero.Allow || zero.Reason != ReasonNotAllowed {
		t.Error("zero Decision is not a denial")
	}
}

func TestAccessDecideAllocs(t *testing.T) {
	a := CompileAccess([]string{"devs", "ops"}, []string{"alice"})
	s := Subject{Username: "bob", Groups: []string{"sales", "support", "ops"}}
	deny := Subject{Username: "carol", Groups: []string{"sales"}}
	allocs := testing.AllocsPerRun(1000, func() {
		if !a.Decide(s).Allow || a.Decide(deny).Allow {
			t.Fatal("wrong decision")
		}
	})
	if allocs != 0 {
		t.Errorf("Decide allocates %v times; want 0", allocs)
	}
}

func BenchmarkAccessDecide(b *testing.B) {
	a := CompileAccess([]string{"devs", "ops", "admins"}, []string{"alice", "bob"})
	s := Subject{Username: "carol", Groups: []string{"sales", "support", "ops"}}
	b.ReportAllocs()
	for b.Loop() {
		_ = a.Decide(s)
	}
}
