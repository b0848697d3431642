// Command keyringoracle answers, for the differential test in hack/tools/k8s, what
// regcred's keyring makes of pull Secrets: one JSON query a line on stdin (the pod's
// Secrets in order and the images to look up), one JSON answer a line on stdout. The
// test puts the same queries to the kubelet's own code (k8s.io/kubernetes at the
// pinned version), which cannot be linked into this module without moving its pins.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	corev1 "k8s.io/api/core/v1"

	"github.com/regcred/regcred/internal/dockercfg"
	"github.com/regcred/regcred/internal/keyring"
)

// Query is one pod's pull Secrets, in imagePullSecrets order, and images to look up.
type Query struct {
	Secrets []corev1.Secret `json:"secrets"`
	Images  []string        `json:"images"`
}

// Answer is what regcred says the kubelet does with the query.
type Answer struct {
	// Malformed is set when a Secret cannot be parsed, which fails the whole keyring;
	// Class names the kind of error, Error is regcred's message.
	Malformed bool   `json:"malformed"`
	Class     string `json:"class,omitempty"`
	Error     string `json:"error,omitempty"`
	// Skipped counts the Secrets the kubelet ignores (wrong type, no data).
	Skipped int      `json:"skipped"`
	Lookups []Lookup `json:"lookups,omitempty"`
}

// Lookup is the credentials tried for one image, in order.
type Lookup struct {
	Image        string       `json:"image"`
	InvalidImage bool         `json:"invalidImage,omitempty"`
	Credentials  []Credential `json:"credentials"`
}

// Credential is one credential tried; the test compares passwords, so they are here.
type Credential struct {
	Username      string `json:"username"`
	Password      string `json:"password"`
	NormalizedKey string `json:"normalizedKey"`
	Source        string `json:"source"`
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 0, 1<<20), 64<<20)
	out := json.NewEncoder(os.Stdout)
	for in.Scan() {
		var q Query
		if err := json.Unmarshal(in.Bytes(), &q); err != nil {
			fmt.Fprintf(os.Stderr, "keyringoracle: read query: %v\n", err)
			os.Exit(2)
		}
		if err := out.Encode(answer(q)); err != nil {
			fmt.Fprintf(os.Stderr, "keyringoracle: write answer: %v\n", err)
			os.Exit(2)
		}
	}
	if err := in.Err(); err != nil {
		fmt.Fprintf(os.Stderr, "keyringoracle: read queries: %v\n", err)
		os.Exit(2)
	}
}

func answer(q Query) Answer {
	var a Answer
	var entries []keyring.Entry
	for i := range q.Secrets {
		found, _, err := keyring.FromSecret(&q.Secrets[i])
		switch {
		case errors.Is(err, dockercfg.ErrWrongType), errors.Is(err, dockercfg.ErrNoData):
			a.Skipped++
		case err != nil:
			a.Malformed, a.Class, a.Error = true, class(err), err.Error()
			return a
		default:
			entries = append(entries, found...)
		}
	}
	for _, image := range q.Images {
		l := Lookup{Image: image, Credentials: []Credential{}}
		res, err := keyring.Lookup(image, entries)
		switch {
		case errors.Is(err, keyring.ErrInvalidImage):
			l.InvalidImage = true
		case err != nil:
			fmt.Fprintf(os.Stderr, "keyringoracle: lookup %q: %v\n", image, err)
			os.Exit(2)
		}
		for _, m := range res.Matches {
			l.Credentials = append(l.Credentials, Credential{Username: m.Username, Password: m.Password, NormalizedKey: m.NormalizedKey, Source: m.Source})
		}
		a.Lookups = append(a.Lookups, l)
	}
	return a
}

// class names the kind of parse error, as the test names the kubelet's.
func class(err error) string {
	switch {
	case errors.Is(err, dockercfg.ErrSyntax):
		return "syntax"
	case errors.Is(err, dockercfg.ErrShape):
		return "type"
	case errors.Is(err, dockercfg.ErrAuthBase64):
		return "base64"
	case errors.Is(err, dockercfg.ErrAuthNoColon):
		return "colon"
	default:
		return "other: " + err.Error()
	}
}
