package verify

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
)

// response is what the checker keeps of an HTTP response.
type response struct {
	status int
	header http.Header
	body   []byte
}

func get(ctx context.Context, client *http.Client, u string, headers map[string]string) (*response, error) {
	return do(ctx, client, http.MethodGet, u, headers)
}

func do(ctx context.Context, client *http.Client, method, u string, headers map[string]string) (*response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "regcred")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, err
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// apiErrors returns the distribution errors of the body.
func (r *response) apiErrors() []apiError {
	var e struct {
		Errors []apiError `json:"errors"`
	}
	if json.Unmarshal(r.body, &e) != nil {
		return nil
	}
	return e.Errors
}

// hasCode reports whether the body carries a distribution error code.
func (r *response) hasCode(code string) bool {
	return slices.ContainsFunc(r.apiErrors(), func(e apiError) bool { return e.Code == code })
}

// errorSummary is " (CODE: message; error=...)" from a distribution error body and
// the Bearer challenge's error, or "".
func (r *response) errorSummary() string {
	var parts []string
	for _, e := range r.apiErrors() {
		parts = append(parts, strings.TrimSpace(e.Code+": "+e.Message))
	}
	for _, ch := range ParseChallenges(r.header.Get("WWW-Authenticate")) {
		if msg := ch.Params["error"]; msg != "" {
			parts = append(parts, "error="+msg)
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, "; ") + ")"
}
