package engine

import (
	"context"

	"github.com/vncrelay/vncrelay/auth"
)

// staticTarget resolves every token to one TCP address.
type staticTarget string

func (s staticTarget) Resolve(context.Context, string) (auth.Target, error) {
	return auth.Target{Network: "tcp", Address: string(s)}, nil
}
