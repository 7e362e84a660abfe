// Command ldapdriver is the load generator of bench/ldap: it runs one kind
// of LDAP operation from many connections for a while against one server
// and prints what it measured as one JSON line.
//
//	ldapdriver -url ldap://127.0.0.1:3890 -op search-uid \
//	    -bind-dn cn=bench,ou=system,dc=gatehouse -bind-pw SECRET \
//	    -base dc=gatehouse -users 10000 -c 16 -d 10s
//
// Operations:
//
//	search-uid    a subtree search for one user by uid (a random one of
//	              user000000 … user<users-1>), as an app looking up who signs in;
//	search-group  a subtree search for the users of one group by memberOf,
//	              as an app listing a group (a random one of team-000 …);
//	paged-all     a paged search (500 a page) of every user, as an app
//	              synchronising its user list: one operation is the whole list;
//	bind          a simple bind as a random user with -user-pw (a password
//	              or, with -pw-file, each user's own app password).
//
// Each connection binds once with -bind-dn/-bind-pw before searching. Every
// operation's answer is checked (the user found, the group non-empty, the
// whole list, the bind accepted): a wrong answer is an error, and any error
// makes the exit status 1, so a fast failure is never reported as speed.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-ldap/ldap/v3"
)

type result struct {
	Op      string  `json:"op"`
	Ops     int64   `json:"ops"`
	Errors  int64   `json:"errors"`
	Seconds float64 `json:"seconds"`
	Rate    float64 `json:"rate"`
	P50ms   float64 `json:"p50_ms"`
	P99ms   float64 `json:"p99_ms"`
	First   string  `json:"first_error,omitempty"`
}

func main() {
	url := flag.String("url", "", "server URL, ldap://host:port (required)")
	op := flag.String("op", "search-uid", "search-uid, search-group, paged-all or bind")
	bindDN := flag.String("bind-dn", "", "DN every connection binds as before searching")
	bindPW := flag.String("bind-pw", "", "its password")
	base := flag.String("base", "dc=gatehouse", "base DN")
	users := flag.Int("users", 10000, "users user000000 … in the directory")
	groups := flag.Int("groups", 50, "groups in the directory, named by -group-format")
	groupFmt := flag.String("group-format", "team-%03d", "printf format of the group names")
	userPW := flag.String("user-pw", "", "the users' password, for -op bind")
	pwFile := flag.String("pw-file", "", "file of \"username password\" lines, for -op bind (instead of -user-pw)")
	conns := flag.Int("c", 16, "connections")
	dur := flag.Duration("d", 10*time.Second, "how long to run")
	flag.Parse()
	if *url == "" {
		flag.Usage()
		os.Exit(2)
	}
	pws := map[string]string{}
	if *pwFile != "" {
		f, err := os.Open(*pwFile)
		if err != nil {
			log.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var u, p string
			if _, err := fmt.Sscan(sc.Text(), &u, &p); err == nil {
				pws[u] = p
			}
		}
		f.Close()
	}
	names := make([]string, 0, len(pws))
	for u := range pws {
		names = append(names, u)
	}
	slices.Sort(names)

	var ops, errs atomic.Int64
	var firstErr atomic.Value
	fail := func(err error) {
		errs.Add(1)
		firstErr.CompareAndSwap(nil, err.Error())
	}
	lat := make([][]time.Duration, *conns)
	deadline := time.Now().Add(*dur)
	start := time.Now()
	var wg sync.WaitGroup
	for c := range *conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), uint64(time.Now().UnixNano())))
			l, err := ldap.DialURL(*url)
			if err != nil {
				fail(err)
				return
			}
			defer l.Close()
			if *op != "bind" && *bindDN != "" {
				if err := l.Bind(*bindDN, *bindPW); err != nil {
					fail(fmt.Errorf("bind as %s: %w", *bindDN, err))
					return
				}
			}
			for time.Now().Before(deadline) {
				t0 := time.Now()
				var err error
				switch *op {
				case "search-uid":
					uid := fmt.Sprintf("user%06d", 1+rng.IntN(*users-1))
					var res *ldap.SearchResult
					res, err = l.Search(ldap.NewSearchRequest("ou=users,"+*base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
						0, 0, false, "(&(objectClass=person)(uid="+uid+"))", []string{"uid", "mail", "cn", "memberOf"}, nil))
					if err == nil && (len(res.Entries) != 1 || res.Entries[0].GetAttributeValue("uid") != uid) {
						err = fmt.Errorf("search for %s: %d entries", uid, len(res.Entries))
					}
				case "search-group":
					g := "cn=" + fmt.Sprintf(*groupFmt, rng.IntN(*groups)) + ",ou=groups," + *base
					var res *ldap.SearchResult
					res, err = l.Search(ldap.NewSearchRequest("ou=users,"+*base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
						0, 0, false, "(&(objectClass=person)(memberOf="+g+"))", []string{"uid"}, nil))
					if err == nil && len(res.Entries) == 0 {
						err = fmt.Errorf("group %s: no members", g)
					}
				case "paged-all":
					var res *ldap.SearchResult
					res, err = l.SearchWithPaging(ldap.NewSearchRequest("ou=users,"+*base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
						0, 0, false, "(objectClass=person)", []string{"uid", "mail"}, nil), 500)
					if err == nil && len(res.Entries) < *users-1 {
						err = fmt.Errorf("paged listing: %d entries, want %d", len(res.Entries), *users)
					}
				case "bind":
					var u, p string
					if len(names) > 0 {
						u = names[rng.IntN(len(names))]
						p = pws[u]
					} else {
						u, p = fmt.Sprintf("user%06d", 1+rng.IntN(*users-1)), *userPW
					}
					err = l.Bind("uid="+u+",ou=users,"+*base, p)
				default:
					log.Fatalf("unknown -op %q", *op)
				}
				if err != nil {
					fail(err)
					continue
				}
				ops.Add(1)
				lat[c] = append(lat[c], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	pct := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		return float64(all[min(len(all)-1, int(p*float64(len(all))))].Microseconds()) / 1000
	}
	r := result{Op: *op, Ops: ops.Load(), Errors: errs.Load(), Seconds: secs, Rate: float64(ops.Load()) / secs, P50ms: pct(0.50), P99ms: pct(0.99)}
	if e, ok := firstErr.Load().(string); ok {
		r.First = e
	}
	_ = json.NewEncoder(os.Stdout).Encode(r)
	if r.Errors > 0 || r.Ops == 0 {
		os.Exit(1)
	}
}
