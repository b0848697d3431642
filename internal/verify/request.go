package verify

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// request is one HTTP request of a check.
type request struct {
	method, url string
	header      map[string]string
	// form, when set, is sent as an application/x-www-form-urlencoded body.
	form url.Values
}

// response is what the checker keeps of an HTTP response.
type response struct {
	status int
	header http.Header
	body   []byte // a successful response's body (64 KiB at most)
	// errs are the distribution errors of an error response's body.
	errs []transport.Diagnostic
}

func (c *Checker) get(ctx context.Context, client *http.Client, u string, headers map[string]string) (*response, error) {
	return c.do(ctx, client, request{method: http.MethodGet, url: u, header: headers})
}

// do sends a request, through the memory of unreachable hosts when the checker has one.
func (c *Checker) do(ctx context.Context, client *http.Client, r request) (*response, error) {
	u, err := url.Parse(r.url)
	if err != nil {
		return nil, err
	}
	return c.Hosts.send(ctx, u.Host, func() (*response, error) { return send(ctx, client, r) })
}

func send(ctx context.Context, client *http.Client, r request) (*response, error) {
	var body io.Reader
	if r.form != nil {
		body = strings.NewReader(r.form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, r.method, r.url, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "regcred")
	if r.form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := &response{status: resp.StatusCode, header: resp.Header}
	if resp.StatusCode < http.StatusBadRequest {
		if out.body, err = io.ReadAll(io.LimitReader(resp.Body, 64<<10)); err != nil {
			return nil, err
		}
		return out, nil
	}
	// go-containerregistry reads the distribution error body (it limits the read).
	var terr *transport.Error
	if err := transport.CheckError(resp, http.StatusOK); errors.As(err, &terr) {
		out.errs = terr.Errors
	} else if err != nil {
		return nil, err
	}
	return out, nil
}

// hasCode reports whether the body carries a distribution error code.
func (r *response) hasCode(code transport.ErrorCode) bool {
	return slices.ContainsFunc(r.errs, func(d transport.Diagnostic) bool { return d.Code == code })
}

// challenges are the challenges of every WWW-Authenticate header of the response.
func (r *response) challenges() []Challenge {
	var out []Challenge
	for _, h := range r.header.Values("WWW-Authenticate") {
		out = append(out, ParseChallenges(h)...)
	}
	return out
}

// errorSummary is " (CODE: message; error=...)" from a distribution error body and
// the Bearer challenges' errors, or "".
func (r *response) errorSummary() string {
	var parts []string
	for _, e := range r.errs {
		parts = append(parts, strings.TrimSpace(string(e.Code)+": "+e.Message))
	}
	for _, ch := range r.challenges() {
		if msg := ch.Params["error"]; msg != "" {
			parts = append(parts, "error="+msg)
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, "; ") + ")"
}
