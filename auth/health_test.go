package auth

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckHealth(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "tokens")
	if err := os.WriteFile(file, []byte("t1: 127.0.0.1:5900\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		r       Resolver
		wantErr string
	}{
		{"file readable", &TokenFile{Path: file}, ""},
		{"directory readable", &TokenFile{Path: dir}, ""},
		{"file missing", &TokenFile{Path: filepath.Join(dir, "gone")}, "no such file"},
		{"cache forwards to its store", &Cache{Store: &TokenFile{Path: filepath.Join(dir, "gone")}}, "no such file"},
		{"static has no check", Static{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckHealth(context.Background(), tt.r)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
	if os.Getuid() != 0 {
		if err := os.Chmod(file, 0); err != nil {
			t.Fatal(err)
		}
		if err := CheckHealth(context.Background(), &TokenFile{Path: file}); err == nil {
			t.Fatal("an unreadable file passes the check")
		}
	}
}
