package controller_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/regcred/regcred/api/v1alpha1"
)

// interruptedFanOut makes 200 namespaces and a ClusterPullSecret for them, lets
// interrupt break the fan-out, and checks that it converges afterwards: every
// namespace has exactly one copy and one reference, and deleting the
// ClusterPullSecret leaves nothing of regcred's behind.
func interruptedFanOut(t *testing.T, name string, interrupt func(stop func()) (stopAgain func())) {
	const n = 200
	data := pullConfig(t, "registry.example", "alice", "pw")
	sourceSecret(t, name+"-src", "creds", data)
	var names []string
	for i := range n {
		names = append(names, fmt.Sprintf("%s-%03d", name, i))
	}
	ctx := context.Background()
	parallel(t, 16, names, func(ns string) error {
		if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{"test": name}}}, metav1.CreateOptions{}); err != nil {
			return err
		}
		_, err := kube.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}, ImagePullSecrets: []corev1.LocalObjectReference{{Name: "own"}}}, metav1.CreateOptions{})
		return err
	})
	stop := startController(t)
	makeCPS(t, name, name+"-src", "creds", selectTest(name))
	stop = interrupt(stop)
	defer stop()
	eventually(t, time.Minute, "converged", func() error {
		return statusIs(name, v1alpha1.NamespaceCounts{Targeted: n, Synced: n}, metav1.ConditionTrue)
	})
	for _, ns := range names {
		if err := copyIn(ns, name, data); err != nil {
			t.Error(err)
		}
		if err := refs(ns, "default", "own", name); err != nil {
			t.Error(err) // a duplicate entry shows here too
		}
	}
	deleteCPS(t, name)
	if left := regcredObjects(t, name+"-"); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
	for _, ns := range names {
		if err := refs(ns, "default", "own"); err != nil {
			t.Error(err)
		}
	}
}

func TestControllerStoppedDuringFanOut(t *testing.T) {
	interruptedFanOut(t, "stops", func(stop func()) func() {
		for range 4 {
			time.Sleep(time.Duration(20+rand.IntN(150)) * time.Millisecond)
			stop()
			stop = startController(t)
		}
		return stop
	})
}

func TestAPIServerRestartedDuringFanOut(t *testing.T) {
	interruptedFanOut(t, "restart", func(stop func()) func() {
		time.Sleep(time.Duration(50+rand.IntN(100)) * time.Millisecond)
		if err := server.RestartAPIServer(context.Background()); err != nil {
			t.Fatal(err)
		}
		return stop
	})
}
