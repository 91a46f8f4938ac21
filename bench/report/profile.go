package main

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// profileRow is one function of `go tool pprof -top`.
type profileRow struct {
	FlatPct float64
	CumPct  float64
	Name    string
}

// profile is one CPU profile as run.sh saved it.
type profile struct {
	Scenario string `json:"scenario"`
	Target   string `json:"target"`
	Note     string `json:"note,omitempty"` // why there is no profile
	Header   []string
	Rows     []profileRow
	Groups   []group `json:"groups"`
}

// group is a share of the profile's samples (flat time), with its largest
// members.
type group struct {
	Name    string   `json:"name"`
	Pct     float64  `json:"percent"`
	Members []string `json:"top_members"`
}

// groups, in the order the paragraph names them; a function belongs to the
// first group whose test it passes, and what passes none is "other".
var groupTests = []struct {
	name string
	test func(fn string) bool
}{
	{"system calls and the netpoller", func(fn string) bool {
		return hasAnyPrefix(fn, "syscall.", "internal/runtime/syscall", "runtime/internal/syscall", "internal/poll.",
			"net.", "os.", "runtime.netpoll", "runtime.epoll")
	}},
	{"fasthttp parsing and writing", func(fn string) bool {
		return hasAnyPrefix(fn, "github.com/valyala/fasthttp", "bufio.")
	}},
	{"gateway stages", func(fn string) bool { return strings.HasPrefix(fn, "github.com/edgegate/gateway/") }},
	{"logging (zap)", func(fn string) bool { return strings.HasPrefix(fn, "go.uber.org/zap") }},
	{"GC and allocation", func(fn string) bool {
		if !hasAnyPrefix(fn, "runtime.", "internal/runtime/") {
			return false
		}
		f := strings.ToLower(fn)
		for _, k := range []string{"gc", "mark", "sweep", "scan", "malloc", "heap", "span", "mcache", "mcentral",
			"greyobject", "findobject", "bulkbarrier", "wbbuf", "newobject", "makeslice", "growslice", "memclr"} {
			if strings.Contains(f, k) {
				return true
			}
		}
		return false
	}},
	{"scheduler, timers and the rest of the runtime", func(fn string) bool {
		return hasAnyPrefix(fn, "runtime.", "internal/runtime/", "internal/sync.", "sync.", "sync/atomic.", "time.", "internal/race")
	}},
}

func hasAnyPrefix(s string, prefixes ...string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// parseProfile reads the text of `go tool pprof -top`.
func parseProfile(text string) profile {
	var p profile
	if strings.HasPrefix(text, "NOTE:") {
		p.Note = strings.TrimSpace(strings.TrimPrefix(text, "NOTE:"))
		return p
	}
	inRows := false
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if !inRows {
			p.Header = append(p.Header, line)
			inRows = len(f) >= 5 && f[0] == "flat" && f[1] == "flat%"
			continue
		}
		if len(f) < 6 {
			continue
		}
		flat, err1 := strconv.ParseFloat(strings.TrimSuffix(f[1], "%"), 64)
		cum, err2 := strconv.ParseFloat(strings.TrimSuffix(f[4], "%"), 64)
		if err1 != nil || err2 != nil {
			continue
		}
		p.Rows = append(p.Rows, profileRow{FlatPct: flat, CumPct: cum, Name: strings.TrimSuffix(strings.Join(f[5:], " "), " (inline)")})
	}
	p.Groups = groupProfile(p.Rows)
	return p
}

func groupProfile(rows []profileRow) []group {
	gs := make([]group, len(groupTests)+1)
	for i, t := range groupTests {
		gs[i].Name = t.name
	}
	gs[len(groupTests)].Name = "other (standard library, crypto, hashing)"
	for _, r := range rows {
		i := len(groupTests)
		for j, t := range groupTests {
			if t.test(r.Name) {
				i = j
				break
			}
		}
		gs[i].Pct += r.FlatPct
		if len(gs[i].Members) < 3 && r.FlatPct >= 0.5 {
			gs[i].Members = append(gs[i].Members, fmt.Sprintf("`%s` %.1f%%", shortName(r.Name), r.FlatPct))
		}
	}
	return gs
}

// shortName drops the module path of a function name.
func shortName(fn string) string {
	for _, p := range []string{"github.com/edgegate/gateway/", "github.com/valyala/", "go.uber.org/", "internal/runtime/"} {
		fn = strings.TrimPrefix(fn, p)
	}
	return fn
}

// gatewayPackages splits the gateway's own share by package, largest first.
func gatewayPackages(rows []profileRow) string {
	by := map[string]float64{}
	for _, r := range rows {
		if !strings.HasPrefix(r.Name, "github.com/edgegate/gateway/") {
			continue
		}
		pkg := strings.TrimPrefix(r.Name, "github.com/edgegate/gateway/")
		if i := strings.Index(pkg, "."); i > 0 {
			pkg = pkg[:i]
		}
		by[pkg] += r.FlatPct
	}
	type kv struct {
		k string
		v float64
	}
	var s []kv
	for k, v := range by {
		s = append(s, kv{k, v})
	}
	sort.Slice(s, func(i, j int) bool { return s[i].v > s[j].v })
	var parts []string
	for _, e := range s {
		if e.v >= 0.1 {
			parts = append(parts, fmt.Sprintf("%s %.1f%%", e.k, e.v))
		}
	}
	return strings.Join(parts, ", ")
}

// paragraph says where the time went, in one paragraph of prose.
func (p profile) paragraph() string {
	if p.Note != "" || len(p.Rows) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Of the gateway's CPU time (flat samples, grouped by function):")
	first := true
	for _, g := range p.Groups {
		if g.Pct < 0.5 {
			continue // a group the profile barely saw is noise
		}
		sep := ";"
		if first {
			sep, first = "", false
		}
		fmt.Fprintf(&b, "%s **%.0f%% %s**", sep, g.Pct, g.Name)
		if len(g.Members) > 0 {
			fmt.Fprintf(&b, " (%s)", strings.Join(g.Members, ", "))
		}
	}
	b.WriteString(".")
	if pk := gatewayPackages(p.Rows); pk != "" {
		fmt.Fprintf(&b, " The gateway's own share by package: %s.", pk)
	}
	return b.String()
}

// top returns the profile's header and its first n rows as pprof printed them.
func topText(text string, n int) string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	for i, l := range lines {
		f := strings.Fields(l)
		if len(f) >= 5 && f[0] == "flat" && f[1] == "flat%" {
			end := min(len(lines), i+1+n)
			return strings.Join(lines[:end], "\n")
		}
	}
	return strings.Join(lines, "\n")
}
