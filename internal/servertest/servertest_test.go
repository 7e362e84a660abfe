package servertest

import (
	"bytes"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
)

// TestWaitListening: a listener is found; a closed exited channel and a
// port nobody listens on are errors naming the server.
func TestWaitListening(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := WaitListening("demo", l.Addr().String(), nil); err != nil {
		t.Fatalf("a listening port: %v", err)
	}
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	close(exited)
	if err := WaitListening("demo", fmt.Sprintf("127.0.0.1:%d", port), exited); err == nil || !strings.Contains(err.Error(), "demo exited") {
		t.Fatalf("an exited server: %v", err)
	}
}

// TestStartStopKill: a server that listens is started and stopped (twice:
// the second Stop is a no-op), one that exits at once is an error with its
// output, and Kill ends a process at once.
func TestStartStopKill(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not installed")
	}
	serve := func() (*Process, int) {
		t.Helper()
		port, err := FreePort()
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		p, err := Start("http.server", exec.Command("python3", "-m", "http.server", "--bind", "127.0.0.1", fmt.Sprint(port)),
			fmt.Sprintf("127.0.0.1:%d", port), &out)
		if err != nil {
			t.Fatalf("start: %v\n%s", err, out.String())
		}
		return p, port
	}
	down := func(port int) bool {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
		}
		return err != nil
	}
	p, port := serve()
	p.Stop()
	p.Stop()
	if !down(port) {
		t.Error("the server still listens after Stop")
	}
	p, port = serve()
	p.Kill()
	if !down(port) {
		t.Error("the server still listens after Kill")
	}
	var nilProc *Process
	nilProc.Stop()

	var out bytes.Buffer
	if _, err := Start("quitter", exec.Command("sh", "-c", "echo bye; exit 3"), "127.0.0.1:1", &out); err == nil ||
		!strings.Contains(err.Error(), "quitter exited") || !strings.Contains(out.String(), "bye") {
		t.Errorf("a server that exits: %v, output %q", err, out.String())
	}
}
