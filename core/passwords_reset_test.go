package core

import (
	"context"
	"testing"
)

// TestResetLinksReplacedAtOnce: requests for a reset link at the same time
// leave exactly one working link (deleting the old ones and storing the
// new one are two writes).
func TestResetLinksReplacedAtOnce(t *testing.T) {
	c, st := newTestCore(t)
	u := mustUser(t, c, "alice", "user")
	const n = 16
	done := make(chan error, n)
	start := make(chan struct{})
	for range n {
		go func() {
			<-start
			_, err := c.Credentials.issueReset(context.Background(), nil, u, false, nil)
			done <- err
		}()
	}
	close(start)
	for range n {
		if err := <-done; err != nil {
			t.Fatalf("issueReset: %v", err)
		}
	}
	list, err := st.ListTokens(tokenKindReset)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 {
		t.Errorf("%d reset links live after %d requests at once, want 1", len(list), n)
	}
}
