package bench

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// Limits of a console-count list (ParseCounts): a scaling run is bounded in
// steps and in consoles per step.
const (
	MaxCounts = 16      // steps in a list
	MaxCount  = 100_000 // consoles in a step
)

// ParseCounts reads a comma-separated list of console counts, such as
// "1,8,64,512" or "64": each a positive integer of at most MaxCount, at most
// MaxCounts of them, no repeats. It returns them in ascending order (the
// order the steps run in). The error names the list's flag (what, such as
// "--consoles") and the bad element.
func ParseCounts(what, s string) ([]int, error) {
	parts := strings.Split(s, ",")
	if len(parts) > MaxCounts {
		return nil, fmt.Errorf("%s: %d counts, at most %d", what, len(parts), MaxCounts)
	}
	counts := make([]int, 0, len(parts))
	for _, p := range parts {
		p = strings.TrimSpace(p)
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 || n > MaxCount {
			return nil, fmt.Errorf("%s: bad count %q (want 1 to %d)", what, p, MaxCount)
		}
		if slices.Contains(counts, n) {
			return nil, fmt.Errorf("%s: count %d given twice", what, n)
		}
		counts = append(counts, n)
	}
	slices.Sort(counts)
	return counts, nil
}

// Stepped reports whether a scenario takes its console count from
// Options.Consoles, so that a list of counts runs it once per count (a
// scaling curve): throughput and latency. The idle scenario has its own
// steps (Options.IdleSteps) within one run.
func Stepped(scenario string) bool {
	return scenario == "throughput" || scenario == "latency"
}

// Held returns how many consoles a stepped scenario's run held (its
// "consoles" metric) and whether the run reached its step: a relay that did
// not is stopped there (--idle-give-up) rather than tried at larger steps.
func Held(r Result) (held int, reached bool) {
	h := int(r.Metrics["consoles"])
	return h, r.Step == 0 || h >= r.Step
}

// CurveKeys are the metrics drawn as curves (x = consoles, one line per
// relay) per scenario. For the stepped scenarios the x values are the
// results' steps; for idle, whose metrics carry their step as a suffix
// ("rss_kib_per_console_5000"), they are the suffixes.
var CurveKeys = map[string][]string{
	"throughput": {"cpu_ms_per_mb", "mb_per_s"},
	"latency":    {"added_p50_us", "added_p99_us"},
	"idle":       {"rss_kib_per_console", "pss_kib_per_console", "fds", "alive"},
}

// curveLabels name the curve metrics on charts and in tables.
var curveLabels = map[string]string{
	"cpu_ms_per_mb":       "relay CPU ms per MB",
	"mb_per_s":            "MB/s relayed",
	"added_p50_us":        "added round trip p50 (µs)",
	"added_p99_us":        "added round trip p99 (µs)",
	"rss_kib_per_console": "RSS KiB per idle console",
	"pss_kib_per_console": "PSS KiB per idle console",
	"fds":                 "descriptors held",
	"alive":               "consoles relaying when poked",
}

// Curve is one relay's line on a curve chart: x is consoles, y the metric's
// median there, in ascending x.
type Curve struct {
	Relay string
	XY    plotter.XYs
}

// Curves returns, per relay in first-seen order, the points of metric in
// scenario: from stepped summaries (x = Summary.Step, y = Median[metric]) or
// from suffixed metrics (x = N of "metric_N"). Relays without a point are
// left out.
func Curves(sums []Summary, scenario, metric string) []Curve {
	var out []Curve
	index := map[string]int{}
	add := func(relay string, x, y float64) {
		i, ok := index[relay]
		if !ok {
			i = len(out)
			index[relay] = i
			out = append(out, Curve{Relay: relay})
		}
		out[i].XY = append(out[i].XY, plotter.XY{X: x, Y: y})
	}
	for _, s := range sums {
		if s.Scenario != scenario {
			continue
		}
		if s.Step > 0 {
			if v, ok := s.Median[metric]; ok {
				add(s.Relay, float64(s.Step), v)
			}
			continue
		}
		for k, v := range s.Median {
			rest, ok := strings.CutPrefix(k, metric+"_")
			if !ok {
				continue
			}
			if n, err := strconv.Atoi(rest); err == nil && n > 0 {
				add(s.Relay, float64(n), v)
			}
		}
	}
	for i := range out {
		slices.SortFunc(out[i].XY, func(a, b plotter.XY) int { return cmp.Compare(a.X, b.X) })
	}
	return out
}

// HasCurves reports whether scenario has at least two x values in sums: a
// curve worth drawing.
func HasCurves(sums []Summary, scenario string) bool {
	xs := map[float64]bool{}
	for _, m := range CurveKeys[scenario] {
		for _, c := range Curves(sums, scenario, m) {
			for _, p := range c.XY {
				xs[p.X] = true
			}
		}
	}
	return len(xs) >= 2
}

// CurveChart draws metric of scenario as an SVG line chart into path: x =
// consoles (log scale, a tick at each step), one line per relay. It draws
// nothing (and returns nil) when no relay has a point.
func CurveChart(path string, sums []Summary, scenario, metric string) error {
	curves := Curves(sums, scenario, metric)
	if len(curves) == 0 {
		return nil
	}
	p := plot.New()
	label := curveLabels[metric]
	if label == "" {
		label = metric
	}
	p.Title.Text = scenario + ": " + label
	p.X.Label.Text = "consoles"
	p.Y.Label.Text = label
	p.X.Scale = plot.LogScale{}
	xs := map[float64]bool{}
	for i, c := range curves {
		line, points, err := plotter.NewLinePoints(c.XY)
		if err != nil {
			return fmt.Errorf("curve %s %s: %w", metric, c.Relay, err)
		}
		col := palette[i%len(palette)]
		line.Color, points.Color = col, col
		p.Add(line, points)
		p.Legend.Add(c.Relay, line, points)
		for _, q := range c.XY {
			xs[q.X] = true
		}
	}
	var ticks []plot.Tick
	for x := range xs {
		ticks = append(ticks, plot.Tick{Value: x, Label: strconv.FormatFloat(x, 'f', -1, 64)})
	}
	slices.SortFunc(ticks, func(a, b plot.Tick) int { return cmp.Compare(a.Value, b.Value) })
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	if len(ticks) > 0 { // room for the end labels on a log axis
		p.X.Min, p.X.Max = ticks[0].Value/1.3, ticks[len(ticks)-1].Value*1.3
	}
	p.Y.Min = 0
	p.Y.Max *= 1.4 // head room for the legend
	p.Legend.Top = true
	p.Legend.Left = true
	return p.Save(16*vg.Centimeter, 9*vg.Centimeter, path)
}

// WriteCurves prints, per scenario with curves and per curve metric, one
// row per step (consoles) and one column per relay, with each relay's ratio
// to the first relay at that step.
func WriteCurves(w io.Writer, sums []Summary) {
	var scenarios []string
	for _, s := range sums {
		if !slices.Contains(scenarios, s.Scenario) && HasCurves(sums, s.Scenario) {
			scenarios = append(scenarios, s.Scenario)
		}
	}
	for _, sc := range scenarios {
		for _, m := range CurveKeys[sc] {
			curves := Curves(sums, sc, m)
			if len(curves) == 0 {
				continue
			}
			var xs []float64
			for _, c := range curves {
				for _, p := range c.XY {
					if !slices.Contains(xs, p.X) {
						xs = append(xs, p.X)
					}
				}
			}
			slices.Sort(xs)
			fmt.Fprintf(w, "\n%s: %s, by consoles\n", sc, curveLabels[m])
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
			relays := make([]string, len(curves))
			for i, c := range curves {
				relays[i] = c.Relay
			}
			fmt.Fprintln(tw, ratioHeader("consoles", relays))
			for _, x := range xs {
				row := strconv.FormatFloat(x, 'f', -1, 64) + "\t"
				ref, refOK := at(curves[0].XY, x)
				for i, c := range curves {
					v, ok := at(c.XY, x)
					row += formatValue(v, ok) + "\t"
					if i > 0 {
						row += ratio(v, ref, ok && refOK) + "\t"
					}
				}
				fmt.Fprintln(tw, row)
			}
			_ = tw.Flush()
		}
	}
}

// at returns the y of xy at x.
func at(xy plotter.XYs, x float64) (float64, bool) {
	for _, p := range xy {
		if math.Abs(p.X-x) < 0.5 {
			return p.Y, true
		}
	}
	return 0, false
}
