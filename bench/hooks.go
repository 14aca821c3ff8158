package bench

import "context"

// RunTokens are the tokens a relay's own token source made for one run
// (RelaySpec.Tokens).
type RunTokens struct {
	// Tokens[i] is the token of session i; sessions past the end reuse
	// them in turn. Tokens are secrets: the harness never prints them.
	Tokens []string
	// Vars are extra placeholders of the relay's command template, by
	// name without braces: {"novaconf": "/tmp/.../nova.conf"}.
	Vars map[string]string
}

// probe adds spec.Probe's figures to m, each name followed by suffix.
func probe(ctx context.Context, spec RelaySpec, m map[string]float64, suffix string) {
	if spec.Probe == nil {
		return
	}
	for k, v := range spec.Probe(ctx) {
		m[k+suffix] = v
	}
}

// backendCPU is spec.BackendCPU(), or 0 without one.
func backendCPU(spec RelaySpec) float64 {
	if spec.BackendCPU == nil {
		return 0
	}
	return spec.BackendCPU()
}
