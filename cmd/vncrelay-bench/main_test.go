package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestRunFlagLists: bad console lists are refused before anything starts.
func TestRunFlagLists(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"consoles word", []string{"--consoles", "1,eight"}, `--consoles: bad count "eight"`},
		{"consoles repeat", []string{"--consoles", "64,64"}, "--consoles: count 64 given twice"},
		{"consoles zero", []string{"--consoles", "0"}, `--consoles: bad count "0"`},
		{"idle steps", []string{"--idle-steps", "1000,"}, `--idle-steps: bad count ""`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(context.Background(), tc.args, &out, &errOut)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("run(%q) = %v; want an error with %q", tc.args, err, tc.want)
			}
		})
	}
}
