package caddymodule

import (
	"bytes"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// runCLI runs `caddy gatehouse user …` in-process with stdin, returning
// what it printed and its error.
func runCLI(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	return runCommand(t, userCommand(), stdin, args...)
}

// runCommand runs one `caddy gatehouse` subcommand in-process.
func runCommand(t *testing.T, cmd *cobra.Command, stdin string, args ...string) (string, error) {
	t.Helper()
	inR, inW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	oldIn, oldOut := os.Stdin, os.Stdout
	os.Stdin, os.Stdout = inR, outW
	defer func() { os.Stdin, os.Stdout = oldIn, oldOut }()
	go func() {
		_, _ = io.WriteString(inW, stdin)
		inW.Close()
	}()
	var out bytes.Buffer
	done := make(chan struct{})
	go func() { _, _ = io.Copy(&out, outR); close(done) }()

	cmd.SetArgs(args)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	runErr := cmd.Execute()
	outW.Close()
	<-done
	return out.String(), runErr
}

func TestCLIUserAddAndList(t *testing.T) {
	h := newHarness(t)
	h.start(h.caddyfile("", ""))
	addr := "127.0.0.1:" + strconv.Itoa(h.admin)

	out, err := runCLI(t, alicePW+"\n", "add", "--address", addr, "--username", "Alice", "--password-stdin",
		"--email", "alice@example.com", "--name", "Alice Liddell", "--role", "owner", "--groups", "admins, ops")
	if err != nil || !strings.Contains(out, "created user alice (role owner") {
		t.Fatalf("user add: %v\n%s", err, out)
	}

	// Bad input is refused with the reason, and creates nothing.
	tests := []struct {
		name, stdin string
		args        []string
		want        string
	}{
		{"duplicate", bobPW + "\n", []string{"--username", "alice"}, "taken"},
		{"weak password", "short\n", []string{"--username", "bob"}, "password"},
		{"bad role", bobPW + "\n", []string{"--username", "bob", "--role", "wizard"}, "unknown role"},
		{"no password flag", "", []string{"--username", "bob"}, "--password-stdin is required"},
		{"empty stdin", "", []string{"--username", "bob", "--password-stdin"}, "no password"},
	}
	for _, tc := range tests {
		args := append([]string{"add", "--address", addr}, tc.args...)
		if tc.name != "no password flag" && tc.name != "empty stdin" {
			args = append(args, "--password-stdin")
		}
		_, err := runCLI(t, tc.stdin, args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to mention %q", tc.name, err, tc.want)
		}
	}

	out, err = runCLI(t, "", "list", "--address", addr)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], "alice") || !strings.Contains(lines[1], "admins,ops") || strings.Contains(out, "bob") {
		t.Fatalf("user list:\n%s", out)
	}

	// The user made by the CLI can sign in and reach the restricted app.
	c := h.client()
	h.apiLogin(c, "alice", alicePW)
	if resp, _ := do(t, c, "GET", h.adminsURL("/"), nil, jsonAPI); resp.StatusCode != 200 {
		t.Fatalf("CLI-made owner reaching admins-only: %d", resp.StatusCode)
	}
}
