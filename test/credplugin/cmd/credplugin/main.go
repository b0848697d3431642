// Command credplugin is a kubelet credential provider plugin
// (credentialprovider.kubelet.k8s.io/v1) for regcred's tests. What it does comes
// from its environment:
//
//	CREDPLUGIN_MODE       ok (default), fail, hang, malformed, or wrongkind
//	CREDPLUGIN_MODE_FILE  a file whose content, when present, is the mode: read at
//	                      every run, so that a test can change it between runs
//	CREDPLUGIN_USERNAME, CREDPLUGIN_PASSWORD  the credential returned; a new random
//	                      password at every run when CREDPLUGIN_PASSWORD is empty
//	CREDPLUGIN_ISSUER     an URL to POST to for a fresh credential instead, answered
//	                      with {"username", "password", "expiresInSeconds"}
//	CREDPLUGIN_KEY        the auth key; the request's registry host when empty
//	CREDPLUGIN_CACHE_DURATION  the response's cacheDuration (a Go duration); none
//	                      when empty, or the issuer's lifetime when an issuer is used
//	CREDPLUGIN_LOG        a file to which each run appends its request, one JSON
//	                      line, so that tests count runs and read what was asked
//	CREDPLUGIN_PID_FILE   hang mode: where to write the pid of the child it starts
//	CREDPLUGIN_ECHO       when set, the credential is written on stderr too, as a
//	                      careless plugin's debug output might
//	CREDPLUGIN_EXIT       an exit status to end with after printing the response
//
// fail writes a message with a secret-looking value on stderr and exits 3; hang
// starts a child that sleeps and sleeps itself, both holding stdout; malformed prints
// a response cut short; wrongkind prints a valid response of another kind.
package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

type request struct {
	APIVersion          string `json:"apiVersion"`
	Kind                string `json:"kind"`
	Image               string `json:"image"`
	ServiceAccountToken string `json:"serviceAccountToken,omitempty"`
}

type issued struct {
	Username         string `json:"username"`
	Password         string `json:"password"`
	ExpiresInSeconds int    `json:"expiresInSeconds"`
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "sleep" {
		time.Sleep(time.Hour)
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "credplugin:", err)
		os.Exit(1)
	}
}

func run() error {
	in, err := io.ReadAll(os.Stdin)
	if err != nil {
		return fmt.Errorf("read request: %w", err)
	}
	var req request
	if err := json.Unmarshal(in, &req); err != nil {
		return fmt.Errorf("decode request: %w", err)
	}
	if req.APIVersion != "credentialprovider.kubelet.k8s.io/v1" || req.Kind != "CredentialProviderRequest" {
		return fmt.Errorf("request of apiVersion %q kind %q", req.APIVersion, req.Kind)
	}
	if path := os.Getenv("CREDPLUGIN_LOG"); path != "" {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return fmt.Errorf("open log: %w", err)
		}
		_, err = f.Write(append(in, '\n'))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("write log: %w", err)
		}
	}
	mode := os.Getenv("CREDPLUGIN_MODE")
	if path := os.Getenv("CREDPLUGIN_MODE_FILE"); path != "" {
		if b, err := os.ReadFile(path); err == nil {
			mode = strings.TrimSpace(string(b))
		}
	}
	switch mode {
	case "", "ok":
	case "fail":
		fmt.Fprintln(os.Stderr, "credplugin: the token service refused us: password=hunter2-very-secret status=403")
		os.Exit(3)
	case "hang":
		child := exec.Command(os.Args[0], "sleep")
		child.Stdout = os.Stdout
		if err := child.Start(); err != nil {
			return fmt.Errorf("start child: %w", err)
		}
		if path := os.Getenv("CREDPLUGIN_PID_FILE"); path != "" {
			if err := os.WriteFile(path, []byte(strconv.Itoa(child.Process.Pid)), 0o600); err != nil {
				return err
			}
		}
		time.Sleep(time.Hour)
		return nil
	case "malformed":
		fmt.Print(`{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderResponse","auth":{"x":{"username":`)
		return nil
	case "wrongkind":
		fmt.Print(`{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest","image":"x"}`)
		return nil
	default:
		return fmt.Errorf("unknown mode %q", mode)
	}

	user, pass := os.Getenv("CREDPLUGIN_USERNAME"), os.Getenv("CREDPLUGIN_PASSWORD")
	cache := os.Getenv("CREDPLUGIN_CACHE_DURATION")
	if url := os.Getenv("CREDPLUGIN_ISSUER"); url != "" {
		got, err := issue(url)
		if err != nil {
			return err
		}
		user, pass = got.Username, got.Password
		if cache == "" {
			cache = (time.Duration(got.ExpiresInSeconds) * time.Second).String()
		}
	}
	if pass == "" {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			return err
		}
		pass = hex.EncodeToString(b)
	}
	key := os.Getenv("CREDPLUGIN_KEY")
	if key == "" {
		key, _, _ = strings.Cut(req.Image, "/")
	}
	resp := map[string]any{
		"apiVersion":   "credentialprovider.kubelet.k8s.io/v1",
		"kind":         "CredentialProviderResponse",
		"cacheKeyType": "Registry",
		"auth":         map[string]any{key: map[string]string{"username": user, "password": pass}},
	}
	if cache != "" {
		resp["cacheDuration"] = cache
	}
	if os.Getenv("CREDPLUGIN_ECHO") != "" {
		fmt.Fprintf(os.Stderr, "credplugin: answering %s with %s %s\n", key, user, pass)
	}
	if err := json.NewEncoder(os.Stdout).Encode(resp); err != nil {
		return err
	}
	if code, err := strconv.Atoi(os.Getenv("CREDPLUGIN_EXIT")); err == nil {
		os.Exit(code)
	}
	return nil
}

func issue(url string) (*issued, error) {
	c := &http.Client{Timeout: 10 * time.Second}
	r, err := c.Post(url, "application/json", nil)
	if err != nil {
		return nil, fmt.Errorf("ask the issuer: %w", err)
	}
	defer r.Body.Close()
	if r.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("ask the issuer: %s", r.Status)
	}
	var got issued
	if err := json.NewDecoder(r.Body).Decode(&got); err != nil {
		return nil, fmt.Errorf("decode the issuer's answer: %w", err)
	}
	return &got, nil
}
