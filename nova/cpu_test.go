package nova

import (
	"context"
	"database/sql"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/vncrelay/vncrelay/internal/novatest"
)

// processCPU is the CPU time (user and system) this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuMeter reports the process's CPU time per benchmark operation as
// "cpu-µs/op": the work a relay spends per console on this path, whatever
// the wall time.
type cpuMeter struct{ start time.Duration }

func startCPU() cpuMeter { return cpuMeter{processCPU()} }

func (m cpuMeter) report(b *testing.B, ops int) {
	if ops > 0 {
		b.ReportMetric(float64((processCPU()-m.start).Nanoseconds())/1e3/float64(ops), "cpu-µs/op")
	}
}

// scanTokenRow scans a tokenQuery row as TokenStore.lookup does, into a
// tokenRow the benchmarks throw away.
func scanTokenRow(row *sql.Row) error {
	var r tokenRow
	in := &r.instance
	return row.Scan(
		&r.consoleType, &r.host, &r.port, &r.internalAccessPath, &r.accessURLBase,
		&in.UUID, &r.expires,
		&r.instanceID, &in.Host, &in.Node, &in.ProjectID, &in.UserID, &in.VMState, &in.TaskState, &in.PowerState,
		&in.DisplayName, &in.Hostname, &in.LaunchedOn, &in.AvailabilityZone)
}

// measureLookups runs lookup once (a warm connection), then in b's loop,
// and reports the CPU time per lookup; an error fails the benchmark.
func measureLookups(b *testing.B, lookup func() error) {
	b.Helper()
	if err := lookup(); err != nil {
		b.Fatal(err)
	}
	cpu := startCPU()
	for b.Loop() {
		if err := lookup(); err != nil {
			b.Fatal(err)
		}
	}
	cpu.report(b, b.N)
}

// BenchmarkLookup compares the two ways go-sql-driver can run the token
// query, one lookup at a time: client-side interpolation (one COM_QUERY
// round trip, text rows; what TokenStore does) and a statement prepared
// once on the pool (COM_STMT_EXECUTE, binary rows).
func BenchmarkLookup(b *testing.B) {
	n := novatest.Shared(b)
	tok := n.CreateToken(b, novatest.TokenSpec{})
	hash := TokenHash(tok)
	b.Run("interpolate", func(b *testing.B) {
		s := newStore(b, n, TokenStoreConfig{})
		measureLookups(b, func() error {
			_, err := s.lookup(context.Background(), hash)
			return err
		})
	})
	b.Run("interpolate-uncancellable", func(b *testing.B) {
		// The driver hands each query's context to a per-connection
		// watcher goroutine (two goroutine wake-ups a query) unless the
		// context cannot be cancelled: what that costs.
		s := newStore(b, n, TokenStoreConfig{})
		ctx := context.WithoutCancel(context.Background())
		measureLookups(b, func() error {
			return scanTokenRow(s.db.QueryRowContext(ctx, tokenQuery, hash, time.Now().Unix()))
		})
	})
	b.Run("prepared", func(b *testing.B) {
		u, err := ParseDatabaseURL(n.DatabaseURL, "")
		if err != nil {
			b.Fatal(err)
		}
		mc, err := u.MySQLConfig()
		if err != nil {
			b.Fatal(err)
		}
		connector, err := mysql.NewConnector(mc)
		if err != nil {
			b.Fatal(err)
		}
		db := sql.OpenDB(connector)
		defer db.Close()
		db.SetMaxOpenConns(DefaultMaxOpenConns)
		db.SetMaxIdleConns(DefaultMaxOpenConns)
		stmt, err := db.Prepare(tokenQuery)
		if err != nil {
			b.Fatal(err)
		}
		defer stmt.Close()
		measureLookups(b, func() error {
			ctx, cancel := context.WithTimeout(context.Background(), DefaultQueryTimeout)
			defer cancel()
			return scanTokenRow(stmt.QueryRowContext(ctx, hash, time.Now().Unix()))
		})
	})
}

// BenchmarkResolveChecked measures what Nova mode adds to opening a
// console: Resolve with the compute port check, as `vncrelay nova novnc`
// runs it (the token and instance query on the shared Nova database, then
// validate_console_port through a private RabbitMQ node to the Python
// stand-in), 8 lookups in flight. cpu-µs/op is this process's CPU time per
// resolved token: the relay's side only (MariaDB, RabbitMQ and the
// stand-in are other processes).
func BenchmarkResolveChecked(b *testing.B) {
	n := novatest.Shared(b)
	r := novatest.StartRabbitMQ(b)
	fc := novatest.StartFakeCompute(b, r.URL(), "cmp-bench")
	vm := n.CreateInstance(b, novatest.InstanceSpec{Host: "cmp-bench"})
	tok := n.CreateToken(b, novatest.TokenSpec{Port: 5909, InstanceUUID: vm.UUID})
	if err := fc.SetAnswer(vm.UUID, novatest.ComputeAnswer{Port: "5909"}); err != nil {
		b.Fatal(err)
	}
	c := newTestClient(b, r.URL(), nil)
	s := newStore(b, n, TokenStoreConfig{Ports: c})
	if _, err := resolve(s, tok); err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(4) // × GOMAXPROCS (2 here): 8 in flight, as bench-nova's connect
	cpu := startCPU()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := resolve(s, tok); err != nil {
				b.Error(err)
				return
			}
		}
	})
	cpu.report(b, b.N)
}
