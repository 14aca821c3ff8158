package main

import (
	"fmt"

	"github.com/vncrelay/vncrelay/auth"
)

// loadTokenSource reads the TokenFile source at start. A source that cannot
// be read stops the start, and the message says so and what to do:
// websockify starts anyway and fails every console (it reads the file at
// each lookup), which hides a wrong path until the first browser comes.
// Once started, a source that goes away keeps its last good tokens (see
// auth.TokenFile).
func loadTokenSource(tf *auth.TokenFile) error {
	if err := tf.Load(); err != nil {
		return fmt.Errorf("%w: not starting (the token file or directory must be readable at start; "+
			"create it, an empty directory will do: files added later are read at each lookup)", err)
	}
	return nil
}
