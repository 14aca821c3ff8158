package engine

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// fdReserve is the number of descriptors kept out of the console budget: the
// listener, epoll and eventfd of each loop, log files, token files being read,
// web files being served, and sockets being accepted or dialed.
const fdReserve = 64

// RaiseFileLimit raises the soft RLIMIT_NOFILE to the hard limit and returns
// the new soft limit. Go does this by itself since 1.19 for the process, but
// only up to what the kernel allows without privileges; doing it here makes the
// figure visible to the budget below.
func RaiseFileLimit() (uint64, error) {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("getrlimit nofile: %w", err)
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
			return lim.Cur, fmt.Errorf("setrlimit nofile %d: %w", lim.Max, err)
		}
	}
	return lim.Cur, nil
}

// ConsoleBudget returns the most consoles a descriptor limit allows: two
// descriptors each (browser and console sockets) after the reserve and the
// splice pipes (two descriptors each, at most spliceMaxPipes open; an idle
// console holds none). The reserve covers the relay's other descriptors
// (listener, pollers, log and token files, workers' store connections).
func ConsoleBudget(nofile uint64) int {
	const reserve = fdReserve + 2*spliceMaxPipes
	if nofile <= 2*reserve {
		return max(1, int(nofile)/4)
	}
	return int(nofile-reserve) / 2
}
