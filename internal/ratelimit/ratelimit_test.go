package ratelimit

import (
	"testing"
	"time"
)

// TestBuckets: a burst, then refusals with a wait; refunds give back what
// was spent and never more than the burst; the first refusal is flagged
// once.
func TestBuckets(t *testing.T) {
	b := New(10, 3, time.Second)
	now := time.Unix(1e9, 0)
	for i := range 3 {
		if d, _ := b.Take("a", now); d != 0 {
			t.Fatalf("attempt %d refused within the burst", i+1)
		}
	}
	d, first := b.Take("a", now)
	if d <= 0 || !first {
		t.Fatalf("past the burst: wait %v first %v, want a wait and first", d, first)
	}
	if _, first := b.Take("a", now); first {
		t.Fatal("second refusal flagged as first")
	}
	b.Refund("a", now)
	if d, _ := b.Take("a", now); d != 0 {
		t.Fatal("a refunded attempt is not available")
	}
	for range 10 {
		b.Refund("a", now)
	}
	for range 3 {
		b.Take("a", now)
	}
	if d, _ := b.Take("a", now); d <= 0 {
		t.Fatal("refunds grew the bucket past its burst")
	}
	if d, _ := b.Take("a", now.Add(time.Second)); d != 0 {
		t.Fatal("no attempt back after Every")
	}
	if d, _ := b.Take("b", now); d != 0 {
		t.Fatal("another key shares the bucket")
	}
}

// TestBucketsBounded: never more than the capacity of keys.
func TestBucketsBounded(t *testing.T) {
	b := New(5, 2, time.Second)
	now := time.Unix(1e9, 0)
	for i := range 50 {
		b.Take(string(rune('a'+i)), now)
		if b.Len() > 5 {
			t.Fatalf("%d keys tracked, cap 5", b.Len())
		}
	}
}

// TestKey: IPv6 per /64, IPv4 (mapped too) per address.
func TestKey(t *testing.T) {
	same := [][2]string{{"2001:db8:1:2:aaaa::1", "2001:db8:1:2:ffff::9"}, {"::ffff:192.0.2.1", "192.0.2.1"}, {"x", "x"}}
	for _, p := range same {
		if Key(p[0]) != Key(p[1]) {
			t.Errorf("%s and %s: different buckets", p[0], p[1])
		}
	}
	for _, p := range [][2]string{{"2001:db8:1:2::1", "2001:db8:1:3::1"}, {"192.0.2.1", "192.0.2.2"}} {
		if Key(p[0]) == Key(p[1]) {
			t.Errorf("%s and %s share a bucket", p[0], p[1])
		}
	}
	// The spellings ParseAddr refuses stay as given: they never share
	// the bucket of the address they look like.
	for _, ip := range []string{"192.0.2.01", "192.0.2.1%eth0", " 192.0.2.1"} {
		if Key(ip) != ip || Key(ip) == Key("192.0.2.1") {
			t.Errorf("%q: bucket %q", ip, Key(ip))
		}
	}
	if Key("192.0.2.1") != "192.0.2.1" {
		t.Errorf("192.0.2.1: bucket %q", Key("192.0.2.1"))
	}
	if n := testing.AllocsPerRun(100, func() { _ = Key("192.0.2.1") }); n != 0 {
		t.Errorf("Key of an IPv4 address: %v allocations, want 0 (the guard's hot path)", n)
	}
}
