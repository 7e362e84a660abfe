package password

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"
)

// safetyNet bounds how long a broken pool can hang a test; it is never
// expected to fire.
const safetyNet = 5 * time.Second

func TestHasherRoundTrip(t *testing.T) {
	h := NewHasher(HasherOptions{Params: cheap})
	ctx := context.Background()
	encoded, err := h.Hash(ctx, "Correct9horse")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		try  string
		want bool
	}{
		{name: "right password", try: "Correct9horse", want: true},
		{name: "wrong password", try: "correct9horse", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := h.Verify(ctx, tt.try, encoded)
			if err != nil || ok != tt.want {
				t.Errorf("Verify = %v, %v; want %v, nil", ok, err, tt.want)
			}
		})
	}
	if _, err := h.Verify(ctx, "x", "garbage"); !errors.Is(err, ErrMalformedHash) {
		t.Errorf("Verify(garbage) = %v; want ErrMalformedHash", err)
	}
	if h.NeedsRehash(encoded) {
		t.Error("NeedsRehash = true for the Hasher's own hash")
	}
}

func TestHasherDefaults(t *testing.T) {
	h := NewHasher(HasherOptions{Params: Params{Memory: 64, Time: 1}})
	want := Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
	if h.Params() != want {
		t.Errorf("Params() = %+v; want %+v", h.Params(), want)
	}
	if workers := max(1, runtime.GOMAXPROCS(0)/2); cap(h.slots) != workers || h.maxWaiting != DefaultMaxWaiting {
		t.Errorf("workers %d, max waiting %d; want %d, %d", cap(h.slots), h.maxWaiting, workers, DefaultMaxWaiting)
	}
}

func TestHasherVerifyUnknown(t *testing.T) {
	h := NewHasher(HasherOptions{Params: cheap})
	for _, pw := range []string{"", "Correct9horse", "password"} {
		ok, err := h.VerifyUnknown(context.Background(), pw)
		if ok || err != nil {
			t.Errorf("VerifyUnknown(%q) = %v, %v; want false, nil", pw, ok, err)
		}
	}
	if NeedsRehash(h.fake, cheap) {
		t.Error("the fake hash does not use the Hasher's params, so its timing differs")
	}
}

// TestHasherBusy fills a one-worker, one-waiter pool and sends 10 calls at
// once: one waits, the other nine fail at once with ErrBusy; none hangs.
func TestHasherBusy(t *testing.T) {
	h := NewHasher(HasherOptions{Params: cheap, Workers: 1, MaxWaiting: 1})
	encoded, err := Hash("pw", cheap)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), safetyNet)
	defer cancel()

	// Occupy the only worker, as a long hash would.
	if err := h.acquire(ctx); err != nil {
		t.Fatal(err)
	}
	type result struct {
		ok  bool
		err error
	}
	const calls = 10
	results := make(chan result, calls)
	for range calls {
		go func() {
			ok, err := h.Verify(ctx, "pw", encoded)
			results <- result{ok, err}
		}()
	}
	var busy, verified int
	for i := range calls {
		if i == calls-1 {
			h.release() // let the waiter run
		}
		r := <-results
		switch {
		case errors.Is(r.err, ErrBusy):
			busy++
		case r.err == nil && r.ok:
			verified++
		default:
			t.Errorf("Verify = %v, %v", r.ok, r.err)
		}
	}
	if busy != calls-1 || verified != 1 {
		t.Errorf("%d busy, %d verified; want %d, 1", busy, verified, calls-1)
	}
	if n := h.waiting.Load(); n != 0 {
		t.Errorf("%d calls still counted as waiting", n)
	}
}

func TestHasherContextEndsWhileWaiting(t *testing.T) {
	tests := []struct {
		name  string
		end   func(context.Context) (context.Context, context.CancelFunc)
		cause error
	}{
		{name: "canceled", cause: context.Canceled, end: func(ctx context.Context) (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(ctx)
			cancel()
			return ctx, cancel
		}},
		{name: "deadline", cause: context.DeadlineExceeded, end: func(ctx context.Context) (context.Context, context.CancelFunc) {
			return context.WithTimeout(ctx, time.Millisecond)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := NewHasher(HasherOptions{Params: cheap, Workers: 1, MaxWaiting: 1})
			if err := h.acquire(context.Background()); err != nil {
				t.Fatal(err)
			}
			defer h.release()
			ctx, cancel := tt.end(context.Background())
			defer cancel()
			_, err := h.Hash(ctx, "pw")
			if !errors.Is(err, ErrBusy) || !errors.Is(err, tt.cause) {
				t.Errorf("Hash = %v; want ErrBusy wrapping %v", err, tt.cause)
			}
		})
	}
}

func TestHasherNoWaiting(t *testing.T) {
	h := NewHasher(HasherOptions{Params: cheap, Workers: 1, MaxWaiting: -1})
	if err := h.acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), safetyNet)
	defer cancel()
	if _, err := h.VerifyUnknown(ctx, "pw"); !errors.Is(err, ErrBusy) || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("VerifyUnknown = %v; want ErrBusy at once", err)
	}
	h.release()
	if ok, err := h.VerifyUnknown(ctx, "pw"); ok || err != nil {
		t.Errorf("VerifyUnknown after release = %v, %v; want false, nil", ok, err)
	}
}

func TestNewHasherInvalidParamsPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("NewHasher with 2 GiB of memory did not panic")
		}
	}()
	NewHasher(HasherOptions{Params: Params{Memory: 2 << 20}})
}

// TestHasherFlood sends many real calls at a small pool: each either
// verifies or fails with ErrBusy, and all return.
func TestHasherFlood(t *testing.T) {
	p := Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
	h := NewHasher(HasherOptions{Params: p, Workers: 1, MaxWaiting: 1})
	encoded, err := Hash("pw", p)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), safetyNet)
	defer cancel()
	const calls = 50
	errs := make(chan error, calls)
	for range calls {
		go func() {
			ok, err := h.Verify(ctx, "pw", encoded)
			if err == nil && !ok {
				err = ErrMismatch
			}
			errs <- err
		}()
	}
	for range calls {
		if err := <-errs; err != nil && !errors.Is(err, ErrBusy) {
			t.Errorf("Verify = %v; want success or ErrBusy", err)
		}
	}
	if ctx.Err() != nil {
		t.Error("calls only returned when the safety net fired")
	}
}

// TestHasherDutyCycle: after a hash the worker keeps its slot for a rest
// proportional to the hash's duration (equal to it at the default duty of
// one half), in the background: the caller has its answer at once, and the
// next call waits for the rest to end.
func TestHasherDutyCycle(t *testing.T) {
	for _, tc := range []struct {
		duty      float64
		wantRatio float64
	}{{0, 1}, {0.5, 1}, {0.25, 3}, {1, 0}} {
		h := NewHasher(HasherOptions{Params: Params{Memory: 1024, Time: 1}, Workers: 1, MaxWaiting: -1, Duty: tc.duty})
		rests := make(chan time.Duration, 1)
		wake := make(chan struct{})
		h.sleep = func(d time.Duration) { rests <- d; <-wake }
		start := time.Now()
		if _, err := h.Hash(context.Background(), "pw"); err != nil {
			t.Fatal(err)
		}
		took := time.Since(start)
		if tc.wantRatio == 0 {
			if _, err := h.Hash(context.Background(), "pw"); err != nil {
				t.Errorf("duty 1: second hash = %v; want no rest", err)
			}
			continue
		}
		rest := <-rests
		if max := time.Duration(float64(took) * tc.wantRatio); rest <= 0 || rest > max {
			t.Errorf("duty %v: rest %v after a hash of at most %v; want (0, %v]", tc.duty, rest, took, max)
		}
		// Resting: the only slot is taken, and nobody may wait.
		if _, err := h.Hash(context.Background(), "pw"); !errors.Is(err, ErrBusy) {
			t.Errorf("duty %v: hash during the rest = %v; want ErrBusy", tc.duty, err)
		}
		close(wake)
		deadline := time.Now().Add(5 * time.Second)
		for {
			h.sleep = func(time.Duration) {}
			if _, err := h.Hash(context.Background(), "pw"); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("duty %v: the slot never came back after the rest", tc.duty)
			}
			time.Sleep(time.Millisecond)
		}
	}
}
