package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"

	"github.com/regcred/regcred/internal/serviceaccount"
)

// undoTimeout bounds the whole undo of a failed run.
const undoTimeout = 30 * time.Second

// writeTimeout bounds one write of a run.
const writeTimeout = 30 * time.Second

// send makes one write of a run. A run cancelled (Ctrl-C) before it sends nothing;
// once sent, the write is let finish even if the run is cancelled meanwhile, so that
// what it did is known, logged and undone with the rest rather than left behind
// unsaid.
func send(ctx context.Context, write func(context.Context) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()
	return write(wctx)
}

// undoLog records what a command wrote to the cluster, in order, so that a run that
// fails half-way takes it back: a command that writes several objects writes all of
// them or none. Every undo carries a precondition, so it never removes or overwrites
// what someone else wrote after this run.
type undoLog struct {
	client kubernetes.Interface
	steps  []undoStep
}

type undoStep struct {
	// object names what was written: "secret/regcred in team-a".
	object string
	// undo takes the write back and says what it did.
	undo func(ctx context.Context) (string, error)
	// left says what stays when the undo fails.
	left string
}

// created records a Secret this run created: undo deletes it, only if it is still the
// object this run wrote (same UID and resourceVersion).
func (l *undoLog) created(s *corev1.Secret) {
	secrets := l.client.CoreV1().Secrets(s.Namespace)
	uid, rv := s.UID, s.ResourceVersion
	l.steps = append(l.steps, undoStep{
		object: fmt.Sprintf("secret/%s in %s", s.Name, s.Namespace),
		left:   "the Secret this run created",
		undo: func(ctx context.Context) (string, error) {
			err := secrets.Delete(ctx, s.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid, ResourceVersion: &rv}})
			switch {
			case err == nil:
				return "deleted (this run created it)", nil
			case apierrors.IsNotFound(err):
				return "already deleted by someone else", nil
			case apierrors.IsConflict(err):
				return changedSince(ctx, secrets, s.Name, uid, "deleted")
			default:
				return "", fmt.Errorf("delete it: %w", err)
			}
		},
	})
}

// overwrote records a Secret this run replaced: undo writes back the content it read
// (data, type, labels, annotations), only if the Secret is still the version this run
// wrote. The Secret keeps its UID.
func (l *undoLog) overwrote(old, written *corev1.Secret) {
	secrets := l.client.CoreV1().Secrets(written.Namespace)
	l.steps = append(l.steps, undoStep{
		object: fmt.Sprintf("secret/%s in %s", written.Name, written.Namespace),
		left:   "the credentials this run wrote, in place of those it read",
		undo: func(ctx context.Context) (string, error) {
			s := written.DeepCopy()
			s.Data, s.Type, s.Labels, s.Annotations = old.Data, old.Type, old.Labels, old.Annotations
			s.ManagedFields = nil
			_, err := secrets.Update(ctx, s, metav1.UpdateOptions{FieldManager: "kubectl-regcred"})
			switch {
			case err == nil:
				return "restored to the version this run read", nil
			case apierrors.IsNotFound(err):
				return "", leftBehind{"nothing: the Secret is gone, and the credentials it held before this run with it", fmt.Errorf("it was deleted since this run wrote it")}
			case apierrors.IsConflict(err):
				return changedSince(ctx, secrets, s.Name, s.UID, "restored")
			default:
				return "", fmt.Errorf("restore it: %w", err)
			}
		},
	})
}

// edited records a ServiceAccount edit: undo takes back that entry alone and keeps
// every entry others wrote since.
func (l *undoLog) edited(e serviceaccount.Edit) {
	if !e.Changed {
		return
	}
	step := undoStep{object: fmt.Sprintf("serviceaccount/%s in %s", e.ServiceAccount, e.Namespace)}
	did := e.Secret + " taken off again, other entries kept"
	step.left = "the reference to " + e.Secret + " this run added"
	if e.Detached {
		did = e.Secret + " put back where it was, other entries kept"
		step.left = "without the reference to " + e.Secret + " this run removed"
	}
	step.undo = func(ctx context.Context) (string, error) {
		err := e.Undo(ctx, l.client)
		switch {
		case err == nil:
			return did, nil
		case apierrors.IsNotFound(err):
			return "already deleted by someone else", nil
		default:
			return "", err
		}
	}
	l.steps = append(l.steps, step)
}

// rollback undoes every recorded write, newest first, with one line per object on w,
// and returns the error that ends the command: the cause, and what is left behind
// when an undo failed. It runs even when ctx was cancelled (Ctrl-C).
func (l *undoLog) rollback(ctx context.Context, w io.Writer, cause error) error {
	if len(l.steps) == 0 {
		return cause
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), undoTimeout)
	defer cancel()
	var left []string
	for i := len(l.steps) - 1; i >= 0; i-- {
		s := l.steps[i]
		did, err := s.undo(ctx)
		if err != nil {
			what := s.left
			var lb leftBehind
			if errors.As(err, &lb) {
				what = lb.what
			}
			fmt.Fprintf(w, "NOT undone: %s: %v; left behind: %s\n", s.object, err, what)
			left = append(left, s.object+" ("+what+")")
			continue
		}
		fmt.Fprintf(w, "undone: %s: %s\n", s.object, did)
	}
	if len(left) > 0 {
		return fmt.Errorf("%d of the %s this run made before it failed could not be undone, left behind: %s: %w", len(left), changes(len(l.steps)), strings.Join(left, "; "), cause)
	}
	return fmt.Errorf("undid the %s this run made before it failed (listed above): %w", changes(len(l.steps)), cause)
}

// leftBehind is an undo that failed and leaves something else behind than its step
// says.
type leftBehind struct {
	what string
	err  error
}

func (e leftBehind) Error() string { return e.err.Error() }
func (e leftBehind) Unwrap() error { return e.err }

func changes(n int) string {
	if n == 1 {
		return "1 change"
	}
	return fmt.Sprintf("%d changes", n)
}

// changedSince tells, after a precondition failed, whether the Secret was replaced by
// another object (then it is someone else's: nothing of this run is left) or changed
// by someone else (then it is left as it is, so as not to undo their change).
func changedSince(ctx context.Context, secrets typedcorev1.SecretInterface, name string, uid types.UID, verb string) (string, error) {
	now, err := secrets.Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return "already deleted by someone else", nil
	case err != nil:
		return "", fmt.Errorf("it changed since this run wrote it, and reading it again failed: %w", err)
	case now.UID != uid:
		return "not " + verb + ": someone deleted it and created another since; that one is left as it is", nil
	default:
		return "", fmt.Errorf("someone changed it since this run wrote it; not %s, so as not to undo their change", verb)
	}
}
