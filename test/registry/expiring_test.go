package registry_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/regcred/regcred/test/registry"
)

// An issued credential pulls during its lifetime, is refused with 401 after it, and
// a credential issued later is unaffected by the earlier one's expiry.
func TestIssuer(t *testing.T) {
	r := start(t, registry.Options{Auth: registry.AuthBasic})
	push(t, r, "team/app:v1")
	const life = 2 * time.Second
	is, err := r.StartIssuer("", life)
	if err != nil {
		t.Fatal(err)
	}
	defer is.Close()
	ask := func() (string, string) {
		resp, err := http.Post(is.URL, "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var got struct {
			Username, Password string
			ExpiresInSeconds   int
		}
		if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
			t.Fatal(err)
		}
		if got.ExpiresInSeconds != 2 || got.Username == "" || got.Password == "" {
			t.Fatalf("issuer said %+v", got)
		}
		return got.Username, got.Password
	}
	u1, p1 := ask()
	first := time.Now()
	if err := head(t, r, "team/app:v1", &authn.Basic{Username: u1, Password: p1}, false); err != nil {
		t.Fatalf("a fresh credential was refused: %v", err)
	}
	time.Sleep(life / 2)
	u2, p2 := ask()
	second := time.Now()
	time.Sleep(time.Until(first.Add(life + 300*time.Millisecond)))
	err = head(t, r, "team/app:v1", &authn.Basic{Username: u1, Password: p1}, false)
	if statusOf(err) != http.StatusUnauthorized {
		t.Errorf("an expired credential: %v, want 401", err)
	}
	if time.Now().Before(second.Add(life)) {
		if err := head(t, r, "team/app:v1", &authn.Basic{Username: u2, Password: p2}, false); err != nil {
			t.Errorf("the later credential was refused before its expiry: %v", err)
		}
	}
	if is.Issued() != 2 {
		t.Errorf("issued %d", is.Issued())
	}
}
