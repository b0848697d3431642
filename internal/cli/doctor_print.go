package cli

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"golang.org/x/term"

	"github.com/regcred/regcred/internal/doctor"
)

// print writes the report and turns errors into exit status 1.
func (o *DoctorOptions) print(report doctor.Report) error {
	if !o.output.text() {
		if report.Findings == nil {
			report.Findings = []doctor.Finding{}
		}
		if err := o.output.print(o.Out, report); err != nil {
			return err
		}
	} else {
		printDoctor(o.Out, report, colorful(o.Out))
	}
	if report.Summary.Errors > 0 {
		return failed("%d pods cannot pull their images (%d errors)", report.Summary.PodsWithErrors, report.Summary.Errors)
	}
	return nil
}

func merge(a, b doctor.Report) doctor.Report {
	a.Findings = append(a.Findings, b.Findings...)
	a.Summary.Pods += b.Summary.Pods
	a.Summary.PodsWithErrors += b.Summary.PodsWithErrors
	a.Summary.Errors += b.Summary.Errors
	a.Summary.Warnings += b.Summary.Warnings
	a.Summary.Probes += b.Summary.Probes
	a.Summary.Requests += b.Summary.Requests
	if a.Summary.Codes == nil {
		a.Summary.Codes = map[doctor.Code]int{}
	}
	for k, v := range b.Summary.Codes {
		a.Summary.Codes[k] += v
	}
	return a
}

func colorful(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd())) && os.Getenv("NO_COLOR") == ""
}

// printDoctor prints findings grouped by root cause, the cause with most pods first.
func printDoctor(w io.Writer, r doctor.Report, color bool) {
	paint := func(code, s string) string {
		if !color {
			return s
		}
		return "\x1b[" + code + "m" + s + "\x1b[0m"
	}
	type group struct {
		code     doctor.Code
		severity doctor.Severity
		findings []doctor.Finding
		pods     map[string]bool
	}
	groups := map[string]*group{}
	var order []*group
	for _, f := range r.Findings {
		k := string(f.Severity) + "/" + string(f.Code)
		g, ok := groups[k]
		if !ok {
			g = &group{code: f.Code, severity: f.Severity, pods: map[string]bool{}}
			groups[k] = g
			order = append(order, g)
		}
		g.findings = append(g.findings, f)
		g.pods[f.Namespace+"/"+f.Pod] = true
	}
	rank := map[doctor.Severity]int{doctor.SeverityError: 0, doctor.SeverityWarning: 1, doctor.SeverityInfo: 2}
	slices.SortStableFunc(order, func(a, b *group) int {
		if rank[a.severity] != rank[b.severity] {
			return rank[a.severity] - rank[b.severity]
		}
		return len(b.pods) - len(a.pods)
	})
	for _, g := range order {
		mark := paint("31;1", "✗ error")
		if g.severity == doctor.SeverityWarning {
			mark = paint("33;1", "! warning")
		} else if g.severity == doctor.SeverityInfo {
			mark = "i info"
		}
		fmt.Fprintf(w, "%s  %s  (%d pods)\n", mark, paint("1", string(g.code)), len(g.pods))
		for _, f := range g.findings {
			where := f.Namespace + "/" + f.Pod
			if f.Container != "" {
				where += " container " + f.Container
			}
			fmt.Fprintf(w, "  %s\n", where)
			if f.Image != "" {
				fmt.Fprintf(w, "    image:    %s\n", f.Image)
			}
			switch {
			case f.SourceSecret != "":
				fmt.Fprintf(w, "    secret:   %s (a copy of %s kept by ClusterPullSecret %s)\n", f.Secret, f.SourceSecret, f.ClusterPullSecret)
			case f.ClusterPullSecret != "":
				fmt.Fprintf(w, "    secret:   %s (a copy kept by ClusterPullSecret %s)\n", f.Secret, f.ClusterPullSecret)
			case f.Secret != "":
				fmt.Fprintf(w, "    secret:   %s\n", f.Secret)
			}
			fmt.Fprintf(w, "    problem:  %s\n", f.Message)
			for i, line := range strings.Split(strings.TrimSpace(f.Evidence), "\n") {
				if line == "" {
					continue
				}
				label := "evidence: "
				if i > 0 {
					label = "          "
				}
				fmt.Fprintf(w, "    %s%s\n", label, line)
			}
			for i, fix := range f.Fix {
				label := "fix:      "
				if i > 0 {
					label = "          "
				}
				fmt.Fprintf(w, "    %s%s\n", label, paint("32", fix))
			}
		}
		fmt.Fprintln(w)
	}
	s := r.Summary
	fmt.Fprintf(w, "%d pods checked: %d with errors; %d errors, %d warnings; %d registry probes\n", s.Pods, s.PodsWithErrors, s.Errors, s.Warnings, s.Probes)
}
