package main

import (
	_ "embed"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/vncrelay/vncrelay/auth"
	"github.com/vncrelay/vncrelay/bench/rfb"
	"github.com/vncrelay/vncrelay/engine"
)

// demoTokens is the example token file --demo runs on: one token, "demo", for
// the built-in console.
//
//go:embed demo-tokens.conf
var demoTokens []byte

// demoConsole is where the built-in demo console listens; demo-tokens.conf
// points there.
const demoConsole = "127.0.0.1:5999"

// noVNCDirs are where Debian's novnc package puts noVNC's pages.
var noVNCDirs = []string{"/usr/share/novnc"}

// startDemo starts the demo console, writes the example token file to a
// temporary directory (edit it there: changes are picked up live) and points
// cfg at both; it serves noVNC from Debian's package when no --web was given.
func startDemo(cfg *engine.Config, log *slog.Logger) (stop func(), err error) {
	console := &rfb.Server{Mode: rfb.ModeDraw, Width: 640, Height: 400}
	if err := console.Listen(demoConsole); err != nil {
		return nil, fmt.Errorf("demo console: %w", err)
	}
	dir, err := os.MkdirTemp("", "vncrelay-demo-")
	if err != nil {
		_ = console.Close()
		return nil, fmt.Errorf("demo token file: %w", err)
	}
	path := filepath.Join(dir, "tokens.conf")
	if err := os.WriteFile(path, demoTokens, 0o600); err != nil {
		_ = console.Close()
		return nil, fmt.Errorf("demo token file: %w", err)
	}
	cfg.Resolver = &auth.TokenFile{Path: path, Logger: log}
	if cfg.WebDir == "" {
		for _, d := range noVNCDirs {
			if _, err := os.Stat(filepath.Join(d, "vnc_lite.html")); err == nil {
				cfg.WebDir = d
				break
			}
		}
	}
	page := "http://" + cfg.Listen + "/vnc_lite.html?path=websockify%3Ftoken%3Ddemo"
	if cfg.WebDir == "" {
		page = "(no noVNC found: apt-get install novnc, or pass --web DIR)"
	}
	log.Info("demo console running", "console", console.Addr(), "token_file", path, "open", page)
	return func() {
		_ = console.Close()
		_ = os.RemoveAll(dir)
	}, nil
}
