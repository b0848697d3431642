package verify

import (
	"context"
	"fmt"
	"net/http"
)

// ping sends GET /v2/ over HTTPS, or plain HTTP where the policy allows a registry
// that speaks only that. A 200 or a 401 carries on (ok); anything else is the outcome.
func (c *Checker) ping(ctx context.Context, client *http.Client, res Result) (*response, Result, bool) {
	res.Scheme = "https"
	resp, err := c.get(ctx, client, "https://"+res.Registry+"/v2/", nil)
	if err != nil && isHTTPResponseToHTTPS(err) {
		if !c.allowsPlainHTTP(res.Registry) {
			res.Outcome, res.Detail = RegistryHTTPOnly, "the registry answers HTTPS with plain HTTP; a runtime refuses it unless the node is configured for an insecure registry"
			return nil, res, false
		}
		res.Scheme = "http"
		resp, err = c.get(ctx, client, "http://"+res.Registry+"/v2/", nil)
	}
	switch {
	case err != nil:
		return nil, classifyTransport(res, err), false
	case resp.status == http.StatusOK || resp.status == http.StatusUnauthorized:
		return resp, res, true
	case resp.status == http.StatusTooManyRequests:
		res.Outcome, res.Detail = RateLimited, "GET /v2/ answered 429 Too Many Requests"
	default:
		res.Outcome, res.Detail = RegistryError, fmt.Sprintf("GET /v2/ answered %d%s: not a registry API, or a registry in trouble", resp.status, resp.errorSummary())
	}
	return nil, res, false
}
