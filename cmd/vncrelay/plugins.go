package main

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/vncrelay/vncrelay/auth"
	"github.com/vncrelay/vncrelay/auth/jwt"
	"github.com/vncrelay/vncrelay/auth/redis"
	"github.com/vncrelay/vncrelay/auth/tokenapi"
)

// websockifyPluginModule is the Python module websockify's own plugins live
// in; --token-plugin names a class in it, with or without the module.
const websockifyPluginModule = "websockify.token_plugins."

// tokenPluginNames are the plugins vncrelay builds, by websockify class name.
var tokenPluginNames = []string{
	"TokenFile", "ReadOnlyTokenFile", "TokenFileName", "UnixDomainSocketDirectory",
	"TokenRedis", "BaseTokenAPI", "JSONTokenApi", "JWTTokenApi",
}

// tokenPlugin builds the resolver for --token-plugin NAME --token-source
// SOURCE. NAME is a class of websockify.token_plugins, bare ("TokenRedis")
// or dotted ("websockify.token_plugins.TokenRedis"); another module's class
// is refused, as is a plugin vncrelay does not have (every class of
// websockify 0.13's token_plugins is built). Stores reached over
// the network (Redis, token APIs) are put behind an auth.Cache with its
// lifetimes in ttl (zero fields: auth's defaults). tf is the TokenFile to
// load at start and reload on SIGHUP, nil for the other plugins.
func tokenPlugin(name, source string, ttl cacheTTL, log *slog.Logger) (r auth.Resolver, tf *auth.TokenFile, err error) {
	class := name
	if strings.Contains(name, ".") {
		if !strings.HasPrefix(name, websockifyPluginModule) {
			return nil, nil, fmt.Errorf("--token-plugin %s: only websockify's own plugins (%s...) are available, not Python classes of other modules", name, websockifyPluginModule)
		}
		class = strings.TrimPrefix(name, websockifyPluginModule)
	}
	switch class {
	case "TokenFile", "ReadOnlyTokenFile":
		tf := &auth.TokenFile{Path: source, ReadOnly: class == "ReadOnlyTokenFile", Logger: log}
		return tf, tf, nil
	case "TokenFileName":
		r, err = auth.NewTokenFileName(source)
	case "UnixDomainSocketDirectory":
		r, err = auth.NewSocketDir(source)
	case "TokenRedis":
		var src redis.Source
		if src, err = redis.ParseSource(source); err == nil {
			if log != nil {
				redis.RouteLogs(log)
				log.Info("token store", "plugin", class, "source", src.String())
			}
			r = ttl.cache(redis.New(src, redis.Options{}))
		}
	case "BaseTokenAPI", "JSONTokenApi":
		format := tokenapi.Text
		if class == "JSONTokenApi" {
			format = tokenapi.JSON
		}
		var api *tokenapi.API
		if api, err = tokenapi.New(source, format, tokenapi.Options{}); err == nil {
			r = ttl.cache(api)
		}
	case "JWTTokenApi":
		r, err = jwt.New(source, jwt.Options{}) // verifies each token: no cache needed
	default:
		return nil, nil, fmt.Errorf("--token-plugin %s: no such websockify plugin (have %s)", name, strings.Join(tokenPluginNames, ", "))
	}
	if err != nil {
		return nil, nil, fmt.Errorf("--token-source for %s: %w", class, err)
	}
	return r, nil, nil
}

// cacheTTL is --token-cache-ttl and --token-negative-ttl: the lifetimes of
// the lookup cache in front of network stores, as auth.Cache takes them
// (0: the default; below 0: nothing kept).
type cacheTTL struct{ found, unknown time.Duration }

func (c cacheTTL) cache(store auth.Resolver) *auth.Cache {
	return &auth.Cache{Store: store, TTL: c.found, NegativeTTL: c.unknown}
}
