package main

import (
	"fmt"
	"log/slog"
	"net/netip"
	"strings"

	"github.com/spf13/pflag"

	"github.com/vncrelay/vncrelay/engine"
)

// limitOptions are the client address and per-client limit options
// (docs/LIMITS.md).
type limitOptions struct {
	proxyProtocol   []string
	trustedProxies  []string
	forwardedHeader string
	perClient       int
	perToken        int
	rate            float64
	burst           int
}

// Flag defaults: the engine's, spelled out so that --help shows them and 0
// can mean "no limit" on the command line.
const (
	flagPerClient = 1000
	flagRate      = 20
	flagBurst     = 200
)

// addFlags registers the options on fs.
func (lo *limitOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringSliceVar(&lo.proxyProtocol, "proxy-protocol", nil, "`CIDR`s of load balancers that send a PROXY protocol header (v1 or v2) first; their connections must, others may not (repeat or comma-separate)")
	fs.StringSliceVar(&lo.trustedProxies, "trusted-proxy", nil, "`CIDR`s of HTTP proxies whose --trusted-proxy-header gives the client address (repeat or comma-separate)")
	fs.StringVar(&lo.forwardedHeader, "trusted-proxy-header", "x-forwarded-for", "the header trusted proxies set: x-forwarded-for or forwarded (RFC 7239)")
	fs.IntVar(&lo.perClient, "max-consoles-per-client", flagPerClient, "most consoles open or opening from one client address (IPv6: one /64); 0: no limit")
	fs.IntVar(&lo.perToken, "max-consoles-per-token", 0, "most consoles open or opening with one token; 0: no limit")
	fs.Float64Var(&lo.rate, "handshake-rate", flagRate, "new consoles a client address (IPv6: one /64) may start per second, sustained; 0: no limit")
	fs.IntVar(&lo.burst, "handshake-burst", flagBurst, "new consoles a client address may start at once, above --handshake-rate")
}

// apply sets cfg's client address and limit fields from the options and
// logs them (log may be nil).
func (lo *limitOptions) apply(cfg *engine.Config, log *slog.Logger) error {
	var err error
	if cfg.ProxyProtocol, err = parsePrefixes("--proxy-protocol", lo.proxyProtocol); err != nil {
		return err
	}
	if cfg.TrustedProxies, err = parsePrefixes("--trusted-proxy", lo.trustedProxies); err != nil {
		return err
	}
	switch strings.ToLower(lo.forwardedHeader) {
	case "x-forwarded-for":
		cfg.ForwardedHeader = engine.HeaderXForwardedFor
	case "forwarded":
		cfg.ForwardedHeader = engine.HeaderForwarded
	default:
		return fmt.Errorf("--trusted-proxy-header %q: want x-forwarded-for or forwarded", lo.forwardedHeader)
	}
	if lo.perClient < 0 || lo.perToken < 0 || lo.rate < 0 || lo.burst < 1 {
		return fmt.Errorf("limits: --max-consoles-per-client, --max-consoles-per-token and --handshake-rate take 0 or more, --handshake-burst 1 or more")
	}
	// On the command line 0 is "no limit"; in engine.Config it is "the
	// default", and a negative value is "no limit".
	cfg.MaxConsolesPerClient, cfg.MaxConsolesPerToken = orOff(lo.perClient), lo.perToken
	cfg.HandshakeRate, cfg.HandshakeBurst = lo.rate, lo.burst
	if lo.rate == 0 {
		cfg.HandshakeRate = -1
	}
	if log == nil {
		return nil
	}
	log.Info("client limits", "max_consoles_per_client", lo.perClient, "max_consoles_per_token", lo.perToken,
		"handshake_rate", lo.rate, "handshake_burst", lo.burst,
		"proxy_protocol", lo.proxyProtocol, "trusted_proxy", lo.trustedProxies)
	return nil
}

func orOff(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

// parsePrefixes reads CIDRs; a bare address stands for itself (/32, /128).
func parsePrefixes(flag string, list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil || a.Zone() != "" {
				return nil, fmt.Errorf("%s %q: not a CIDR or an address", flag, s)
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), max(p.Bits()-96, 0))
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// splitLimitArgs takes the client address and limit options out of a Nova
// proxy's command line (vncrelay's own, which Nova's option parser does not
// know), in --name VALUE or --name=VALUE form, and parses them. It returns
// the rest for Nova's parser, and the options: the defaults when none is
// given.
func splitLimitArgs(args []string) ([]string, *limitOptions, error) {
	lo := &limitOptions{}
	fs := pflag.NewFlagSet("vncrelay nova", pflag.ContinueOnError)
	lo.addFlags(fs)
	var ours, rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, _, hasValue := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !strings.HasPrefix(a, "--") || fs.Lookup(name) == nil {
			rest = append(rest, a)
			continue
		}
		ours = append(ours, a)
		if !hasValue && i+1 < len(args) {
			i++
			ours = append(ours, args[i])
		}
	}
	if err := fs.Parse(ours); err != nil {
		return nil, nil, fmt.Errorf("command line: %w", err)
	}
	return rest, lo, nil
}
