package cli

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/resource"

	"github.com/regcred/regcred/internal/doctor"
)

// doctor -f: manifests read by kubectl's resource builder in local mode (no API server),
// so -f takes what kubectl -f takes: files, folders (-R for their subfolders), globs,
// - for standard input, several documents a file, YAML or JSON, v1 Lists.

// validateFiles checks -f and -R; it changes nothing.
func (o *DoctorOptions) validateFiles() error {
	files := o.files.Filenames
	if len(files) == 0 {
		if o.files.Recursive {
			return fmt.Errorf("-R goes with -f: it reads the subfolders of the folders -f names")
		}
		return nil
	}
	if len(o.Targets) > 0 || o.AllNamespaces || o.Selector != "" {
		return fmt.Errorf("-f checks the manifests given: drop pod or workload names, -A and -l")
	}
	for _, f := range files {
		if strings.HasPrefix(f, "http://") || strings.HasPrefix(f, "https://") {
			return fmt.Errorf("-f %s: doctor -f reads no URL (it sends nothing anywhere): download it, or pipe it in with -f -", f)
		}
	}
	if n := len(slices.DeleteFunc(slices.Clone(files), func(f string) bool { return f != "-" })); n > 1 {
		return fmt.Errorf("-f - is given %d times: standard input can be read once", n)
	}
	return nil
}

// runFiles checks the manifests, statically. A file that cannot be read or an object
// that is not what its kind says stops the run with one line naming the file, before
// anything is printed.
func (o *DoctorOptions) runFiles(ctx context.Context) error {
	m := doctor.NewManifests(o.namespace, o.enforceNamespace)
	err := o.fileObjects().Visit(func(info *resource.Info, err error) error {
		if err != nil {
			return err
		}
		u, ok := info.Object.(runtime.Unstructured)
		if !ok {
			return fmt.Errorf("%s: %T is not an object read from a manifest", info.Source, info.Object)
		}
		if err := m.Add(u); err != nil {
			return fmt.Errorf("%s: %w", info.Source, err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("-f: %w", withoutContent(err))
	}
	if skipped := m.Skipped(); len(skipped) > 0 {
		fmt.Fprintf(o.ErrOut, "doctor -f: not checked, no pod template, pull Secret or ServiceAccount in them: %s\n", strings.Join(skipped, ", "))
	}
	return o.print(doctor.Diagnose(ctx, m.Snapshot(), doctor.Options{Static: true, Files: true}))
}

// fileObjects reads -f as kubectl does, without an API server; standard input is the
// command's own.
func (o *DoctorOptions) fileObjects() *resource.Result {
	files := o.files
	files.Filenames = slices.DeleteFunc(slices.Clone(files.Filenames), func(f string) bool { return f == "-" })
	b := resource.NewLocalBuilder().Unstructured()
	if len(files.Filenames) > 0 {
		b = b.FilenameParam(false, &files)
	}
	if len(files.Filenames) < len(o.files.Filenames) {
		b = b.Stream(o.In, "STDIN")
	}
	return b.Do()
}

// withoutContent drops what a decoder quotes of a document from its error: "Object
// 'Kind' is missing in '{...}'" would print the whole object, a Secret's data with it.
func withoutContent(err error) error {
	msg := err.Error()
	i := strings.Index(msg, " is missing in '")
	if i < 0 {
		return err
	}
	return contentDropped{msg: msg[:i] + " is missing", err: err}
}

// contentDropped is an error whose text leaves out what the wrapped one quotes.
type contentDropped struct {
	msg string
	err error
}

func (e contentDropped) Error() string { return e.msg }
func (e contentDropped) Unwrap() error { return e.err }
