package cli

// Exit codes: 0 success, 1 a finding or a failed check (commands that check things),
// 2 bad input or a command that could not run.
const (
	ExitOK       = 0
	ExitFailed   = 1
	ExitBadInput = 2
)

// ExitCode maps an error returned by a command to the process exit code.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	return ExitBadInput
}
