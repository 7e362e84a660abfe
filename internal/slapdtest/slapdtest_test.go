package slapdtest

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestRequireFailsInCI: without slapd, a test that needs it fails when CI
// is set and skips otherwise. The case runs in a child process, on a
// machine "without" slapd.
func TestRequireFailsInCI(t *testing.T) {
	if os.Getenv("SLAPDTEST_CHILD") == "1" {
		slapdPath = "/nonexistent/slapd"
		Require(t)
		return
	}
	for _, tc := range []struct {
		ci   string
		fail bool
		want string
	}{{"1", true, "--- FAIL"}, {"", false, "--- SKIP"}} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestRequireFailsInCI$", "-test.v")
		cmd.Env = append(os.Environ(), "SLAPDTEST_CHILD=1", "CI="+tc.ci)
		out, err := cmd.CombinedOutput()
		if (err != nil) != tc.fail || !strings.Contains(string(out), tc.want) || !strings.Contains(string(out), "slapd is not installed") {
			t.Errorf("CI=%q: %v\n%s", tc.ci, err, out)
		}
	}
}

// TestStartStop: the server answers, stops, and restarts on a new port.
func TestStartStop(t *testing.T) {
	s := Start(t, Options{LDIF: ExampleLDIF()})
	c := s.Admin(t)
	if err := c.Bind(ReaderDN, ReaderPassword); err != nil {
		t.Fatalf("bind as the reader: %v", err)
	}
	first := s.URL
	s.Stop()
	s.Stop()
	s.Restart()
	if s.URL == first {
		t.Log("restarted on the same port")
	}
	s.AddPerson(t, People, "dora", "dora-pw", "dora@example.org", "Dora")
	if err := s.Admin(t).Bind("uid=dora,"+People, "dora-pw"); err != nil {
		t.Errorf("bind as a person added at run time: %v", err)
	}
}
