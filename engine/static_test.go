package engine

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/vncrelay/vncrelay/auth"
)

// staticTarget resolves every token to one TCP address.
type staticTarget string

func (s staticTarget) Resolve(context.Context, string) (auth.Target, error) {
	return auth.Target{Network: "tcp", Address: string(s)}, nil
}

// fmtSscanf reads the status code of an HTTP/1.1 status line.
func fmtSscanf(line string, status *int) (int, error) {
	return fmt.Sscanf(line, "HTTP/1.1 %d", status)
}

// discardLogger drops every line (benchmarks).
func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
