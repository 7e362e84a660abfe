package metrics

import "github.com/prometheus/client_golang/prometheus"

// grid is a counter with one or two labels of fixed value sets, every
// series resolved up front: inc finds its counter by a short scan of the
// sets, with no label hashing and no allocation.
type grid struct {
	vec    *prometheus.CounterVec
	a, b   []string
	counts [][]prometheus.Counter // [index in a][index in b]
}

// newGrid makes the counter gatehouse_<name> with labels over the value
// sets sets (one or two of them, each ending in Other).
func newGrid(name, help string, labels []string, sets ...[]string) grid {
	g := grid{vec: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help}, labels), a: sets[0]}
	if len(sets) > 1 {
		g.b = sets[1]
	}
	g.counts = make([][]prometheus.Counter, len(g.a))
	for i, x := range g.a {
		if g.b == nil {
			g.counts[i] = []prometheus.Counter{g.vec.WithLabelValues(x)}
			continue
		}
		g.counts[i] = make([]prometheus.Counter, len(g.b))
		for j, y := range g.b {
			g.counts[i][j] = g.vec.WithLabelValues(x, y)
		}
	}
	return g
}

// inc counts one event of label values x and y (y ignored for a grid of
// one label); a value outside its set counts as Other.
func (g *grid) inc(x, y string) {
	j := 0
	if g.b != nil {
		j = index(g.b, y)
	}
	g.counts[index(g.a, x)][j].Inc()
}

// index is the position of v in set, or of Other (the last) when v is
// not in it.
func index(set []string, v string) int {
	for i, s := range set[:len(set)-1] {
		if s == v {
			return i
		}
	}
	return len(set) - 1
}
