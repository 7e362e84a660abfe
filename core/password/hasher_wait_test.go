package password

import (
	"context"
	"sync"
	"testing"
	"time"
)

// TestHasherReportsWait: OnWait hears every call that got a worker, with
// zero for a free worker and the time spent queued otherwise, and Waiting
// counts the queued calls while they wait (the hash_wait_seconds and
// hash_queue_depth metrics).
func TestHasherReportsWait(t *testing.T) {
	var mu sync.Mutex
	var waits []time.Duration
	h := NewHasher(HasherOptions{Params: cheap, Workers: 1, Duty: 1, OnWait: func(d time.Duration) {
		mu.Lock()
		waits = append(waits, d)
		mu.Unlock()
	}})
	ctx, cancel := context.WithTimeout(context.Background(), safetyNet)
	defer cancel()
	if _, err := h.Hash(ctx, "pw"); err != nil {
		t.Fatal(err)
	}
	// Occupy the only worker; a second call queues.
	if err := h.acquire(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := h.Hash(ctx, "pw"); done <- err }()
	for h.Waiting() != 1 {
		if ctx.Err() != nil {
			t.Fatal("the second call never queued")
		}
		time.Sleep(time.Millisecond)
	}
	const held = 30 * time.Millisecond
	time.Sleep(held)
	h.release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if h.Waiting() != 0 {
		t.Errorf("Waiting = %d after the queue drained", h.Waiting())
	}
	mu.Lock()
	defer mu.Unlock()
	// The first Hash and the test's own acquire found a free worker.
	if len(waits) != 3 || waits[0] != 0 || waits[1] != 0 || waits[2] < held {
		t.Errorf("waits %v; want [0 0 ≥%v]", waits, held)
	}
}
