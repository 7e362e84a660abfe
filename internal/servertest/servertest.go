// Package servertest holds what the real servers the tests start
// (apachetest, nginxtest, slapdtest) share: a free loopback port, and
// waiting until a started server accepts connections.
package servertest

import (
	"fmt"
	"net"
	"os"
	"syscall"
	"time"
)

// FreePort returns a loopback port nobody listened on a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// WaitListening waits up to 10 s until something accepts connections on
// addr, or until exited is closed (the server's process ended); name is
// the server's, for the error.
func WaitListening(name, addr string, exited <-chan struct{}) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("%s exited", name)
		default:
		}
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("%s does not listen on %s after 10s", name, addr)
}

// Stop ends a server's process p, whose Wait closes exited: SIGTERM, so
// a master process ends its workers (a kill would leave them running),
// then a kill if it is still there after 10 s.
func Stop(p *os.Process, exited <-chan struct{}) {
	_ = p.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		_ = p.Kill()
		<-exited
	}
}
