package cluster

import (
	"bufio"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
)

// ipFamilies are the iptables front ends whose rules a cluster changes: the kubelet
// makes its chains (KUBE-IPTABLES-HINT, KUBE-KUBELET-CANARY in mangle, nat and filter,
// KUBE-FIREWALL with jumps from INPUT and OUTPUT) for IPv4 and IPv6 and never removes
// them; the harness adds its FORWARD drops.
var ipFamilies = []string{"iptables", "ip6tables"}

// saveRules returns the output of iptables-save and ip6tables-save, by front end.
// A front end that is not installed is left out.
func saveRules() (map[string]string, error) {
	out := map[string]string{}
	for _, f := range ipFamilies {
		if _, err := exec.LookPath(f + "-save"); err != nil {
			continue
		}
		b, err := exec.Command(f + "-save").Output()
		if err != nil {
			return nil, fmt.Errorf("read the %s rules: %w", f, err)
		}
		out[f] = string(b)
	}
	return out, nil
}

// undoRules removes, for each front end, the chains and rules of the cluster that are
// in the rules now and were not in before: chains named KUBE-*, and rules that refer
// to such a chain or to one of the bridges.
func undoRules(before map[string]string, bridges []string) error {
	now, err := saveRules()
	if err != nil {
		return err
	}
	var errs []error
	for f, cur := range now {
		old, ok := before[f]
		if !ok {
			continue
		}
		script := rulesAdded(old, cur, bridges)
		if script == "" {
			continue
		}
		cmd := exec.Command(f+"-restore", "--noflush", "--wait")
		cmd.Stdin = strings.NewReader(script)
		if out, err := cmd.CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("remove the cluster's %s rules: %w: %s\n%s", f, err, strings.TrimSpace(string(out)), script))
		}
	}
	return errors.Join(errs...)
}

// rulesAdded returns an iptables-restore --noflush script that deletes what the
// cluster added between two iptables-save outputs: its rules in chains that were there
// before, then its chains (flushed, then deleted, as they may refer to each other).
// Empty when there is nothing to delete.
func rulesAdded(before, now string, bridges []string) string {
	old := parseSave(before)
	var b strings.Builder
	for _, t := range parseSave(now).tables {
		prev := old.table(t.name)
		var newChains []string
		for _, c := range t.chains {
			if strings.HasPrefix(c, "KUBE-") && !prev.hasChain(c) {
				newChains = append(newChains, c)
			}
		}
		var deletes []string
		for _, r := range t.rules {
			if prev.hasRule(r) || !ours(r, bridges) {
				continue
			}
			chain := strings.Fields(r)[1]
			if slices.Contains(newChains, chain) {
				continue // flushed with its chain
			}
			deletes = append(deletes, "-D"+strings.TrimPrefix(r, "-A"))
		}
		if len(deletes) == 0 && len(newChains) == 0 {
			continue
		}
		fmt.Fprintf(&b, "*%s\n", t.name)
		for _, d := range deletes {
			b.WriteString(d + "\n")
		}
		for _, c := range newChains {
			fmt.Fprintf(&b, "-F %s\n", c)
		}
		for _, c := range newChains {
			fmt.Fprintf(&b, "-X %s\n", c)
		}
		b.WriteString("COMMIT\n")
	}
	return b.String()
}

// ours reports whether a rule is the kubelet's or the harness's: it names a KUBE-*
// chain or one of the cluster's bridges.
func ours(rule string, bridges []string) bool {
	for _, f := range strings.Fields(rule) {
		if strings.HasPrefix(f, "KUBE-") || slices.Contains(bridges, f) {
			return true
		}
	}
	return false
}

// savedRules is an iptables-save output: tables with their chains and rules.
type savedRules struct{ tables []*savedTable }

type savedTable struct {
	name   string
	chains []string
	rules  []string // "-A CHAIN ..." as saved
}

func (s savedRules) table(name string) *savedTable {
	for _, t := range s.tables {
		if t.name == name {
			return t
		}
	}
	return &savedTable{name: name}
}

func (t *savedTable) hasChain(c string) bool { return slices.Contains(t.chains, c) }
func (t *savedTable) hasRule(r string) bool  { return slices.Contains(t.rules, r) }

func parseSave(out string) savedRules {
	var s savedRules
	var cur *savedTable
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "*"):
			cur = &savedTable{name: line[1:]}
			s.tables = append(s.tables, cur)
		case cur == nil:
		case strings.HasPrefix(line, ":"):
			if f := strings.Fields(line[1:]); len(f) > 0 {
				cur.chains = append(cur.chains, f[0])
			}
		case strings.HasPrefix(line, "-A "):
			if len(strings.Fields(line)) >= 2 {
				cur.rules = append(cur.rules, line)
			}
		}
	}
	return s
}
