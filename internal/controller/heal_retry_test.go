package controller

import (
	"testing"
	"time"
)

func TestRetryAfter(t *testing.T) {
	for _, tt := range []struct {
		name          string
		retry, window time.Duration
		n             int
		want          time.Duration
	}{
		{"first refusal", 30 * time.Second, 10 * time.Minute, 1, 30 * time.Second},
		{"second doubles", 30 * time.Second, 10 * time.Minute, 2, time.Minute},
		{"fifth", 30 * time.Second, 10 * time.Minute, 5, 8 * time.Minute},
		{"capped at the window", 30 * time.Second, 10 * time.Minute, 6, 10 * time.Minute},
		{"many refusals stay at the window", 30 * time.Second, 10 * time.Minute, 1000, 10 * time.Minute},
		{"retry longer than the window", 20 * time.Minute, 10 * time.Minute, 1, 10 * time.Minute},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := retryAfter(tt.retry, tt.window, tt.n); got != tt.want {
				t.Errorf("retryAfter(%v, %v, %d) = %v, want %v", tt.retry, tt.window, tt.n, got, tt.want)
			}
		})
	}
}
