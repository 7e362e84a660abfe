package servertest

import (
	"fmt"
	"net"
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
