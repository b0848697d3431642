package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/printers"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"
)

// Two kinds of -o. A command that prints Kubernetes objects (create, which prints the
// Secrets it made) takes kubectl's: cli-runtime's PrintFlags, so -o json, yaml, kyaml,
// name, jsonpath=..., go-template=... and --template work as they do in kubectl. A
// command that prints a regcred view, not an API object (show, match, verify, doctor,
// status, version), takes -o json or yaml through viewOutput.

// objectOutput is -o of a command that prints Kubernetes objects.
type objectOutput struct {
	flags   *genericclioptions.PrintFlags
	printer printers.ResourcePrinter
}

func newObjectOutput() *objectOutput {
	return &objectOutput{flags: genericclioptions.NewPrintFlags("").WithTypeSetter(clientgoscheme.Scheme)}
}

// addFlags adds -o and the template flags; usage is -o's help after the list of formats.
func (p *objectOutput) addFlags(cmd *cobra.Command, usage string) {
	p.flags.AddFlags(cmd)
	cmd.Flags().Lookup("output").Usage = fmt.Sprintf("print the objects instead of a line each: %s. %s", strings.Join(p.flags.AllowedFormats(), ", "), usage)
}

// requested reports whether objects are printed rather than a line per change: -o, or
// --template alone, as kubectl takes it.
func (p *objectOutput) requested() bool {
	t := p.flags.TemplatePrinterFlags.TemplateArgument
	return *p.flags.OutputFormat != "" || (t != nil && *t != "")
}

// complete makes the printer, as kubectl does in Complete: a format it does not know or
// a template that does not parse is an error before anything is done.
func (p *objectOutput) complete() error {
	if !p.requested() {
		return nil
	}
	printer, err := p.flags.ToPrinter()
	if genericclioptions.IsNoCompatiblePrinterError(err) {
		return fmt.Errorf("--output %q: use one of %s", *p.flags.OutputFormat, strings.Join(p.flags.AllowedFormats(), ", "))
	}
	if err != nil {
		return fmt.Errorf("--output %q: %w", *p.flags.OutputFormat, err)
	}
	p.printer = printer
	return nil
}

// printSecrets prints Secrets: one as itself, several as a v1 List (as kubectl apply
// prints several objects), or with -o name one line each. Nothing is written to w unless
// every object printed.
func (p *objectOutput) printSecrets(w io.Writer, secrets []*corev1.Secret) error {
	objs := make([]runtime.Object, 0, len(secrets))
	for _, s := range secrets {
		s = s.DeepCopy()
		s.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
		objs = append(objs, s)
	}
	var buf bytes.Buffer
	if len(objs) == 1 || strings.EqualFold(*p.flags.OutputFormat, "name") {
		for _, o := range objs {
			if err := p.printer.PrintObj(o, &buf); err != nil {
				return fmt.Errorf("print %s: %w", *p.flags.OutputFormat, err)
			}
		}
	} else {
		list := &corev1.List{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "List"}}
		if err := apimeta.SetList(list, objs); err != nil {
			return fmt.Errorf("make a List of the Secrets: %w", err)
		}
		if err := p.printer.PrintObj(list, &buf); err != nil {
			return fmt.Errorf("print %s: %w", *p.flags.OutputFormat, err)
		}
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// viewOutput is -o of a command that prints a regcred view: json or yaml, text without.
type viewOutput struct {
	Format string
	cmd    string
}

// addFlag adds -o; what is what json or yaml print.
func (v *viewOutput) addFlag(f *pflag.FlagSet, cmd, what string) {
	v.cmd = cmd
	f.StringVarP(&v.Format, "output", "o", "", "print "+what+" as json or yaml instead of text")
}

// validate checks the format; it changes nothing.
func (v viewOutput) validate() error {
	switch v.Format {
	case "", "json", "yaml":
		return nil
	default:
		return fmt.Errorf("--output %q: %s prints json or yaml (or text without -o)", v.Format, v.cmd)
	}
}

// text reports whether the view is printed as text.
func (v viewOutput) text() bool { return v.Format == "" }

// print prints a view in the format asked for: indented json, or yaml.
func (v viewOutput) print(w io.Writer, view any) error {
	var b []byte
	var err error
	if v.Format == "yaml" {
		b, err = yaml.Marshal(view)
	} else {
		b, err = json.MarshalIndent(view, "", "  ")
		b = append(b, '\n')
	}
	if err != nil {
		return fmt.Errorf("encode %s: %w", v.Format, err)
	}
	_, err = w.Write(b)
	return err
}

// validateSecretName returns why a name is not a valid Secret name, or "".
func validateSecretName(name string) string {
	return strings.Join(validation.IsDNS1123Subdomain(name), "; ")
}
