package tokenapi

import (
	"fmt"
	"testing"
	"time"

	"github.com/vncrelay/vncrelay/auth"

	"github.com/vncrelay/vncrelay/internal/testutil"
)

// BenchmarkAPILookup: "cold" is every lookup a GET to a loopback token API
// (keep-alive connections), "warm" a cache hit in front of the same API.
func BenchmarkAPILookup(b *testing.B) {
	srv := newTokenServer(b)
	for i := range 1000 {
		srv.json[fmt.Sprintf("tok-%d", i)] = apiAnswer{200, fmt.Sprintf(`{"host": "10.0.%d.%d", "port": 5900}`, i/256, i%256), 0}
	}
	a := newAPI(b, srv.URL+"/json/%s", JSON, Options{})
	testutil.ReportColdWarm(b, 1000, a.Resolve, (&auth.Cache{Store: a, TTL: time.Hour}).Resolve)
}
