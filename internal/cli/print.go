package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

// printObjects prints Secrets as json or yaml (a v1 List when there are several), or
// their names.
func printObjects(w io.Writer, format string, secrets []*corev1.Secret) error {
	if format == "name" {
		for _, s := range secrets {
			fmt.Fprintf(w, "secret/%s\n", s.Name)
		}
		return nil
	}
	var obj any
	for _, s := range secrets {
		s.APIVersion, s.Kind = "v1", "Secret"
		s.ManagedFields = nil
	}
	if len(secrets) == 1 {
		obj = secrets[0]
	} else {
		obj = map[string]any{"apiVersion": "v1", "kind": "List", "items": secrets}
	}
	return printValue(w, format, obj)
}

// printValue prints a value as indented json or yaml.
func printValue(w io.Writer, format string, v any) error {
	switch format {
	case "json":
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return fmt.Errorf("encode json: %w", err)
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	case "yaml":
		b, err := yaml.Marshal(v)
		if err != nil {
			return fmt.Errorf("encode yaml: %w", err)
		}
		_, err = w.Write(b)
		return err
	default:
		return fmt.Errorf("output format %q: use json or yaml", format)
	}
}

// validateSecretName returns why a name is not a valid Secret name, or "".
func validateSecretName(name string) string {
	return strings.Join(validation.IsDNS1123Subdomain(name), "; ")
}
