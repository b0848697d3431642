package apiserver_test

import (
	"context"
	"strings"
	"testing"

	"k8s.io/client-go/kubernetes"

	"github.com/regcred/regcred/test/apiserver"
)

func TestStartServesTheBuiltVersion(t *testing.T) {
	srv, err := apiserver.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := srv.Stop(); err != nil {
			t.Error(err)
		}
	}()
	cs, err := kubernetes.NewForConfig(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	v, err := cs.Discovery().ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(v.GitVersion, "v1.37.") {
		t.Errorf("server version = %q, want the pinned v1.37.x", v.GitVersion)
	}
}
