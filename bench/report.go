package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// Summary is the median of each metric over the runs of one scenario against
// one relay.
type Summary struct {
	Scenario string
	Relay    string
	Step     int // consoles of a stepped scenario's runs (Result.Step); 0 when not stepped
	Runs     int
	Errors   int64
	Median   map[string]float64
}

// Summarize groups results by scenario, step and relay (in first-seen order)
// and takes the median of every metric.
func Summarize(results []Result) []Summary {
	var out []Summary
	type key struct {
		scenario, relay string
		step            int
	}
	index := map[key]int{}
	values := map[key]map[string][]float64{}
	for _, r := range results {
		k := key{r.Scenario, r.Relay, r.Step}
		if _, ok := index[k]; !ok {
			index[k] = len(out)
			out = append(out, Summary{Scenario: r.Scenario, Relay: r.Relay, Step: r.Step, Median: map[string]float64{}})
			values[k] = map[string][]float64{}
		}
		s := &out[index[k]]
		s.Runs++
		s.Errors += r.Errors
		for m, v := range r.Metrics {
			values[k][m] = append(values[k][m], v)
		}
	}
	for k, i := range index {
		for m, vs := range values[k] {
			out[i].Median[m] = median(vs)
		}
	}
	return out
}

func median(vs []float64) float64 {
	s := slices.Clone(vs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// WriteJSON writes one JSON line per result.
func WriteJSON(w io.Writer, results []Result) error {
	enc := json.NewEncoder(w)
	for _, r := range results {
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return nil
}

// WriteTable prints, per scenario (and step of a stepped scenario), one row
// per metric and one column per relay (medians), with the ratio of each
// relay to the first.
func WriteTable(w io.Writer, sums []Summary) {
	type key struct {
		scenario string
		step     int
	}
	byScenario := map[key][]Summary{}
	var order []key
	for _, s := range sums {
		k := key{s.Scenario, s.Step}
		if _, ok := byScenario[k]; !ok {
			order = append(order, k)
		}
		byScenario[k] = append(byScenario[k], s)
	}
	for _, k := range order {
		group := byScenario[k]
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		title := k.scenario
		if k.step == 1 {
			title += " at 1 console"
		} else if k.step > 0 {
			title += fmt.Sprintf(" at %d consoles", k.step)
		}
		fmt.Fprintf(w, "\n%s (median of %d runs)\n", title, group[0].Runs)
		relays := make([]string, len(group))
		for i, s := range group {
			relays[i] = s.Relay
		}
		fmt.Fprintln(tw, ratioHeader("metric", relays))
		for _, m := range metricNames(group) {
			row := m + "\t"
			for i, s := range group {
				v, ok := s.Median[m]
				row += formatValue(v, ok) + "\t"
				if i > 0 {
					row += ratio(v, group[0].Median[m], ok) + "\t"
				}
			}
			fmt.Fprintln(tw, row)
		}
		row := "errors\t"
		for i, s := range group {
			row += fmt.Sprint(s.Errors) + "\t"
			if i > 0 {
				row += "\t"
			}
		}
		fmt.Fprintln(tw, row)
		_ = tw.Flush()
	}
}

func metricNames(group []Summary) []string {
	seen := map[string]bool{}
	for _, s := range group {
		for m := range s.Median {
			seen[m] = true
		}
	}
	names := make([]string, 0, len(seen))
	for m := range seen {
		names = append(names, m)
	}
	sort.Strings(names)
	return names
}

func formatValue(v float64, ok bool) string {
	switch {
	case !ok:
		return "-"
	case math.Abs(v) >= 100:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 1:
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.4f", v)
}

func ratio(v, ref float64, ok bool) string {
	if !ok || ref == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", v/ref)
}

// Chart draws one bar chart (SVG) per scenario: the key metrics' medians per
// relay, as ratios to the first relay so that metrics of different units
// share an axis.
func Chart(path, title string, sums []Summary, keys []string) error {
	if len(sums) == 0 {
		return nil
	}
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = "× " + sums[0].Relay + " (lower is better for cost metrics)"
	width := vg.Points(float64(60) / float64(len(sums)) * 2)
	var names []string
	for _, k := range keys {
		if _, ok := sums[0].Median[k]; ok {
			names = append(names, k)
		}
	}
	if len(names) == 0 {
		return nil
	}
	for i, s := range sums {
		vals := make(plotter.Values, len(names))
		for j, k := range names {
			if ref := sums[0].Median[k]; ref != 0 {
				vals[j] = s.Median[k] / ref
			}
		}
		bars, err := plotter.NewBarChart(vals, width)
		if err != nil {
			return err
		}
		bars.Offset = width * vg.Length(i-len(sums)/2)
		bars.Color = palette[i%len(palette)]
		bars.LineStyle.Width = 0
		p.Add(bars)
		p.Legend.Add(s.Relay, bars)
	}
	p.Legend.Top = true
	p.NominalX(names...)
	p.Y.Min = 0
	p.Y.Max *= 1.4 // head room for the legend above the tallest bar
	return p.Save(vg.Length(140+90*len(names)), 8*vg.Centimeter, path)
}

// ChartKeys are the metrics charted per scenario.
var ChartKeys = map[string][]string{
	"throughput": {"cpu_ms_per_mb", "mb_per_s"},
	"latency":    {"added_p50_us", "added_p99_us", "added_p999_us"},
	"connect":    {"cpu_ms_per_console", "consoles_per_s"},
	"idle":       {"pss_kib_per_console_1000", "pss_kib_per_console_5000"},
	"slowreader": {"rss_growth_mib", "rss_peak_mib"},
}

// SafeName turns a label into a file name part.
func SafeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') {
			return r
		}
		return '_'
	}, s)
}

// ratioHeader is a tab-separated table header: first, then each relay and,
// after the first relay, a column of ratios to the first relay.
func ratioHeader(first string, relays []string) string {
	h := first + "\t"
	for i, r := range relays {
		h += r + "\t"
		if i > 0 {
			h += "×" + relays[0] + "\t"
		}
	}
	return h
}
