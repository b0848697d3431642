package cli

import (
	"crypto/x509"
	"fmt"
	"os"
	"time"

	"github.com/spf13/pflag"

	"github.com/regcred/regcred/internal/verify"
)

// registryFlags are the flags that say how to reach registries.
type registryFlags struct {
	plainHTTP bool
	caFile    string
	timeout   time.Duration
}

func (r *registryFlags) add(f *pflag.FlagSet) {
	f.BoolVar(&r.plainHTTP, "plain-http", false, "allow plain HTTP for registries that serve it (loopback registries are always allowed, as containerd does)")
	f.StringVar(&r.caFile, "ca-file", "", "PEM file of the CA that signed the registry's certificate, used instead of the system's")
	f.DurationVar(&r.timeout, "registry-timeout", 10*time.Second, "time limit for each registry request")
}

func (r *registryFlags) checker() (*verify.Checker, error) {
	// A command is one run: a registry host that does not answer is asked once.
	c := &verify.Checker{Timeout: r.timeout, Hosts: &verify.Hosts{}}
	if r.plainHTTP {
		c.PlainHTTP = verify.PlainHTTPAlways
	}
	if r.caFile != "" {
		pem, err := os.ReadFile(r.caFile)
		if err != nil {
			return nil, fmt.Errorf("--ca-file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca-file %s holds no PEM certificate", r.caFile)
		}
		c.RootCAs = pool
	}
	return c, nil
}
