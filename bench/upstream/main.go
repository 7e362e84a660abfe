// Command upstream is the benchmark's stand-in app: it answers every request
// with 200 and a short body, and counts how many requests arrived carrying
// Remote-User equal to -user (set by the Gatehouse guard; with -user '*', any
// non-empty Remote-User) versus all others.
// GET /_count answers {"user": N, "other": M} and is not counted itself;
// /_empty answers 200 without a body and is not counted (a bare Go auth
// server for nginx's auth_request, whose subrequest reads no body: one
// would cost nginx its kept-alive connection).
//
//	go run ./bench/upstream -addr 127.0.0.1:9000 -user bench
package main

import (
	"encoding/json"
	"flag"
	"log"
	"net/http"
	"sync/atomic"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address (loopback)")
	user := flag.String("user", "bench", `username expected in Remote-User ("*": any non-empty one)`)
	flag.Parse()

	var asUser, other atomic.Int64
	body := []byte("ok\n")
	mux := http.NewServeMux()
	mux.HandleFunc("/_count", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]int64{"user": asUser.Load(), "other": other.Load()})
	})
	mux.HandleFunc("/_empty", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if ru := r.Header.Get("Remote-User"); ru == *user || *user == "*" && ru != "" {
			asUser.Add(1)
		} else {
			other.Add(1)
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(body)
	})
	log.Printf("upstream listening on %s (user %q)", *addr, *user)
	log.Fatal(http.ListenAndServe(*addr, mux))
}
