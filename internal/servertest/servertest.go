// Package servertest holds what the real servers the tests start
// (apachetest, nginxtest, slapdtest) share: a free loopback port, starting
// a server's process and waiting until it accepts connections, and
// stopping it.
package servertest

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"sync"
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

// Process is a server's process a test started with Start.
type Process struct {
	mu     sync.Mutex
	cmd    *exec.Cmd // nil once stopped
	exited chan struct{}
}

// Start runs cmd with its output to out and waits until something accepts
// connections on addr (see WaitListening); name is the server's, for the
// errors. When the server does not come up, its process is killed and the
// error says why; out then holds what it printed.
func Start(name string, cmd *exec.Cmd, addr string, out io.Writer) (*Process, error) {
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	if err := WaitListening(name, addr, exited); err != nil {
		_ = cmd.Process.Kill()
		<-exited
		return nil, err
	}
	return &Process{cmd: cmd, exited: exited}, nil
}

// Stop ends the process as Stop does. It may be called more than once,
// and on a nil Process (a server that never started).
func (p *Process) Stop() { p.end(false) }

// Kill ends the process at once, as a crash would. It may be called more
// than once.
func (p *Process) Kill() { p.end(true) }

func (p *Process) end(kill bool) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return
	}
	if kill {
		_ = p.cmd.Process.Kill()
		<-p.exited
	} else {
		Stop(p.cmd.Process, p.exited)
	}
	p.cmd = nil
}
