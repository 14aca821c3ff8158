package bench

import (
	"bytes"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/plot/plotter"
)

func TestParseCounts(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []int
		err      string
	}{
		{"one", "64", []int{64}, ""},
		{"list", "1,8,64,512", []int{1, 8, 64, 512}, ""},
		{"spaces", " 1, 8 ,64", []int{1, 8, 64}, ""},
		{"unsorted", "512,1,64", []int{1, 64, 512}, ""},
		{"largest", "100000", []int{100000}, ""},
		{"empty", "", nil, `bad count ""`},
		{"trailing comma", "1,8,", nil, `bad count ""`},
		{"zero", "0", nil, `bad count "0"`},
		{"negative", "-8", nil, `bad count "-8"`},
		{"word", "1,many", nil, `bad count "many"`},
		{"too large", "100001", nil, `bad count "100001"`},
		{"repeat", "8,64,8", nil, "count 8 given twice"},
		{"too many", strings.Repeat("1,", MaxCounts) + "1", nil, "at most 16"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseCounts("--consoles", tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.HasPrefix(err.Error(), "--consoles: ") {
					t.Fatalf("ParseCounts(%q) = %v, %v; want an error with %q", tc.in, got, err, tc.err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("ParseCounts(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestHeld(t *testing.T) {
	for _, tc := range []struct {
		name    string
		r       Result
		held    int
		reached bool
	}{
		{"not stepped", Result{Metrics: map[string]float64{"consoles": 3}}, 3, true},
		{"reached", Result{Step: 64, Metrics: map[string]float64{"consoles": 64}}, 64, true},
		{"short", Result{Step: 512, Metrics: map[string]float64{"consoles": 300}}, 300, false},
		{"none", Result{Step: 8, Metrics: map[string]float64{}}, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			held, reached := Held(tc.r)
			if held != tc.held || reached != tc.reached {
				t.Fatalf("Held = %d, %v; want %d, %v", held, reached, tc.held, tc.reached)
			}
		})
	}
}

// scalingResults are two relays' runs of a stepped scenario at two counts
// (relay b stopped after the first) and of idle with two suffixed steps.
func scalingResults() []Result {
	return []Result{
		{Scenario: "throughput", Relay: "a", Run: 1, Step: 1, Metrics: map[string]float64{"cpu_ms_per_mb": 1}},
		{Scenario: "throughput", Relay: "b", Run: 1, Step: 1, Metrics: map[string]float64{"cpu_ms_per_mb": 2}},
		{Scenario: "throughput", Relay: "a", Run: 2, Step: 1, Metrics: map[string]float64{"cpu_ms_per_mb": 3}},
		{Scenario: "throughput", Relay: "b", Run: 2, Step: 1, Metrics: map[string]float64{"cpu_ms_per_mb": 4}},
		{Scenario: "throughput", Relay: "a", Run: 1, Step: 64, Metrics: map[string]float64{"cpu_ms_per_mb": 0.5}},
		{Scenario: "idle", Relay: "a", Run: 1, Metrics: map[string]float64{"rss_kib_per_console_5000": 2, "rss_kib_per_console_1000": 3, "held": 5000}},
		{Scenario: "idle", Relay: "b", Run: 1, Metrics: map[string]float64{"rss_kib_per_console_1000": 9, "held": 1000}},
	}
}

func TestCurves(t *testing.T) {
	sums := Summarize(scalingResults())
	for _, tc := range []struct {
		name, scenario, metric string
		want                   map[string]plotter.XYs
	}{
		{"stepped", "throughput", "cpu_ms_per_mb", map[string]plotter.XYs{
			"a": {{X: 1, Y: 2}, {X: 64, Y: 0.5}},
			"b": {{X: 1, Y: 3}},
		}},
		{"suffixed", "idle", "rss_kib_per_console", map[string]plotter.XYs{
			"a": {{X: 1000, Y: 3}, {X: 5000, Y: 2}},
			"b": {{X: 1000, Y: 9}},
		}},
		{"no such metric", "idle", "fds", map[string]plotter.XYs{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Curves(sums, tc.scenario, tc.metric)
			if len(got) != len(tc.want) {
				t.Fatalf("Curves = %v; want %v", got, tc.want)
			}
			for _, c := range got {
				if !slices.Equal(c.XY, tc.want[c.Relay]) {
					t.Errorf("%s: %v; want %v", c.Relay, c.XY, tc.want[c.Relay])
				}
			}
		})
	}
	if !HasCurves(sums, "throughput") || !HasCurves(sums, "idle") || HasCurves(sums, "latency") {
		t.Errorf("HasCurves: want throughput and idle only")
	}
}

func TestWriteCurvesAndCharts(t *testing.T) {
	sums := Summarize(scalingResults())
	var table bytes.Buffer
	WriteTable(&table, sums)
	if !strings.Contains(table.String(), "throughput at 64 consoles (median of 1 runs)") ||
		!strings.Contains(table.String(), "throughput at 1 console (median of 2 runs)") {
		t.Errorf("WriteTable: no table per step:\n%s", table.String())
	}
	var out bytes.Buffer
	WriteCurves(&out, sums)
	for _, want := range []string{
		"throughput: relay CPU ms per MB, by consoles",
		"idle: RSS KiB per idle console, by consoles",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("WriteCurves: no %q in\n%s", want, out.String())
		}
	}
	// Ratio to the first relay where both have a point, "-" where b stopped.
	lines := strings.Fields(strings.ReplaceAll(out.String(), "\n", " | "))
	if !slices.Contains(lines, "1.50") || !slices.Contains(lines, "-") {
		t.Errorf("WriteCurves: want the ratio 1.50 (3/2) and a '-' for the missing point:\n%s", out.String())
	}
	dir := t.TempDir()
	for _, m := range []string{"cpu_ms_per_mb", "mb_per_s"} {
		path := filepath.Join(dir, m+".svg")
		if err := CurveChart(path, sums, "throughput", m); err != nil {
			t.Fatalf("CurveChart %s: %v", m, err)
		}
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*.svg")); len(m) != 1 || filepath.Base(m[0]) != "cpu_ms_per_mb.svg" {
		t.Errorf("charts written: %v; want only the metric with points", m)
	}
}
