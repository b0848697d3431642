package cli

import (
	"errors"
	"fmt"
)

// Exit codes: 0 success, 1 a finding or a failed check, 2 bad input or a command that
// could not run.
const (
	ExitOK       = 0
	ExitFailed   = 1
	ExitBadInput = 2
)

// checkFailed is a check that ran and found a problem (a credential the registry
// rejects, an image that cannot be pulled): exit status 1.
type checkFailed struct{ err error }

func (e checkFailed) Error() string { return e.err.Error() }
func (e checkFailed) Unwrap() error { return e.err }

func failed(format string, args ...any) error {
	return checkFailed{fmt.Errorf(format, args...)}
}

// ExitCode maps an error returned by a command to the process exit code.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var c checkFailed
	if errors.As(err, &c) {
		return ExitFailed
	}
	return ExitBadInput
}
