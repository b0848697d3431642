package cli_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/regcred/regcred/internal/cli"
)

// TestUndoLeavesOthersChanges changes what a run wrote before the run undoes it: the
// preconditions keep every change of another writer, and the command says so.
func TestUndoLeavesOthersChanges(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, "undoothers")
	secrets := kube.CoreV1().Secrets(ns)
	// data is a Secret's content, told apart by who wrote it.
	data := func(who string) map[string][]byte {
		return map[string][]byte{".dockerconfigjson": []byte(`{"auths":{"` + who + `.example.com":{}}}`)}
	}
	write := func(t *testing.T, s *corev1.Secret) *corev1.Secret {
		t.Helper()
		var out *corev1.Secret
		var err error
		if s.ResourceVersion == "" {
			out, err = secrets.Create(ctx, s, metav1.CreateOptions{})
		} else {
			out, err = secrets.Update(ctx, s, metav1.UpdateOptions{})
		}
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	// What a run writes, and what another writer does before the undo.
	create := func(t *testing.T, log *cli.UndoLog, s *corev1.Secret) { log.Created(write(t, s)) }
	overwrite := func(t *testing.T, log *cli.UndoLog, s *corev1.Secret) {
		old := write(t, s)
		changed := old.DeepCopy()
		changed.Data = data("thisrun")
		log.Overwrote(old, write(t, changed))
	}
	remove := func(t *testing.T, s *corev1.Secret) {
		if err := secrets.Delete(ctx, s.Name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	change := func(t *testing.T, s *corev1.Secret) {
		now, err := secrets.Get(ctx, s.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		now.Data = data("theirs")
		write(t, now)
	}
	tests := []struct {
		name string
		// run writes as the command would and records it; others then changes it.
		run    func(t *testing.T, log *cli.UndoLog, s *corev1.Secret)
		others func(t *testing.T, s *corev1.Secret)
		line   string
		// left is what the error says is left behind, or "" when nothing is.
		left string
		want string // who wrote the Secret's content afterwards, or "" when it is gone
	}{
		{
			name:   "created, then deleted by someone",
			run:    create,
			others: remove,
			line:   ": already deleted by someone else",
		},
		{
			name:   "created, then changed by someone",
			run:    create,
			others: change,
			line:   "NOT undone: secret/{S} in {NS}: someone changed it since this run wrote it; not deleted, so as not to undo their change; left behind: the Secret this run created",
			left:   "left behind: secret/{S} in {NS} (the Secret this run created)",
			want:   "theirs",
		},
		{
			name: "created, then deleted and created again by someone",
			run:  create,
			others: func(t *testing.T, s *corev1.Secret) {
				remove(t, s)
				write(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: s.Name}, Type: s.Type, Data: data("theirs")})
			},
			line: ": not deleted: someone deleted it and created another since; that one is left as it is",
			want: "theirs",
		},
		{
			name:   "overwritten, then changed by someone",
			run:    overwrite,
			others: change,
			line:   "NOT undone: secret/{S} in {NS}: someone changed it since this run wrote it; not restored, so as not to undo their change; left behind: the credentials this run wrote, in place of those it read",
			left:   "left behind: secret/{S} in {NS} (the credentials this run wrote, in place of those it read)",
			want:   "theirs",
		},
		{
			name:   "overwritten, then deleted by someone",
			run:    overwrite,
			others: remove,
			line:   "NOT undone: secret/{S} in {NS}: it was deleted since this run wrote it; left behind: nothing: the Secret is gone, and the credentials it held before this run with it",
			left:   "left behind: secret/{S} in {NS} (nothing: the Secret is gone",
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s" + string(rune('a'+i)), Namespace: ns}, Type: corev1.SecretTypeDockerConfigJson, Data: data("before")}
			log := cli.NewUndoLog(kube)
			tt.run(t, log, s)
			tt.others(t, s)
			var out bytes.Buffer
			cause := errors.New("the write that failed")
			err := log.Rollback(ctx, &out, cause)
			r := strings.NewReplacer("{S}", s.Name, "{NS}", ns)
			if line := r.Replace(tt.line); !strings.Contains(out.String(), line) {
				t.Errorf("undo said %q, want %q", out.String(), line)
			}
			if !errors.Is(err, cause) {
				t.Errorf("Rollback = %v, want it to wrap the cause", err)
			}
			if left := r.Replace(tt.left); (tt.left == "") == strings.Contains(err.Error(), "left behind") || !strings.Contains(err.Error(), left) {
				t.Errorf("Rollback = %v, want %q", err, left)
			}
			got, err := secrets.Get(ctx, s.Name, metav1.GetOptions{})
			switch {
			case tt.want == "" && err == nil:
				t.Errorf("secret %s is there, want it gone", s.Name)
			case tt.want != "" && err != nil:
				t.Errorf("get secret %s: %v, want it kept", s.Name, err)
			case tt.want != "" && !bytes.Equal(got.Data[".dockerconfigjson"], data(tt.want)[".dockerconfigjson"]):
				t.Errorf("secret %s holds %s, want what %s wrote", s.Name, got.Data[".dockerconfigjson"], tt.want)
			}
		})
	}
}
