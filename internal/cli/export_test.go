package cli

import (
	"context"
	"io"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
)

// UndoLog gives the tests of package cli_test the undo log that create, attach and
// detach keep.
type UndoLog struct{ l undoLog }

func NewUndoLog(cs kubernetes.Interface) *UndoLog { return &UndoLog{undoLog{client: cs}} }

func (u *UndoLog) Created(s *corev1.Secret)              { u.l.created(s) }
func (u *UndoLog) Overwrote(old, written *corev1.Secret) { u.l.overwrote(old, written) }
func (u *UndoLog) Rollback(ctx context.Context, w io.Writer, cause error) error {
	return u.l.rollback(ctx, w, cause)
}
