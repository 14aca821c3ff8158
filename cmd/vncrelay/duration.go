package main

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"time"

	"github.com/spf13/pflag"
)

// durationValue is a command-line duration that takes both forms in use: a
// bare number is seconds, as websockify's --heartbeat, --idle-timeout and
// --timeout are ("30", "0.5", "-1"), and anything else is a Go duration
// ("30s", "1m30s", "500ms"). Every duration option of vncrelay is one, so no
// option takes only one of the two forms.
type durationValue struct{ d *time.Duration }

// bareSeconds is a plain decimal number: no exponent, hex, Inf or NaN,
// which strconv.ParseFloat would also take.
var bareSeconds = regexp.MustCompile(`^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$`)

func (v durationValue) Set(s string) error {
	if bareSeconds.MatchString(s) {
		secs, err := strconv.ParseFloat(s, 64)
		if err != nil || math.Abs(secs) > float64(math.MaxInt64)/float64(time.Second) {
			return fmt.Errorf("%q: seconds out of range", s)
		}
		*v.d = time.Duration(math.Round(secs * float64(time.Second)))
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q: want seconds (30, 0.5) or a duration (30s, 1m30s, 500ms)", s)
	}
	*v.d = d
	return nil
}

// String gives the value as a Go duration; "0" for zero, which pflag's
// help then leaves out as the default.
func (v durationValue) String() string {
	if v.d == nil || *v.d == 0 {
		return "0"
	}
	return v.d.String()
}

// Type names the value in --help.
func (v durationValue) Type() string { return "duration" }

// durationVar defines a duration option whose default is zero (see
// durationValue for the forms it takes).
func durationVar(fs *pflag.FlagSet, p *time.Duration, name, usage string) {
	*p = 0
	fs.Var(durationValue{p}, name, usage)
}

// durationHelp is the line --help ends with, saying how a duration is
// written.
const durationHelp = `A duration is a number of seconds, as websockify takes them (30, 0.5), or
a Go duration (30s, 1m30s, 500ms).
`
