package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// clockTicks is the unit of /proc/PID/stat's CPU times: USER_HZ, 100 on every
// Linux architecture Go supports.
const clockTicks = 100

// ProcCPU returns the CPU seconds (user + system) used by pid and by its
// waited-for children (websockify forks a process per console and reaps it).
func ProcCPU(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read stat of %d: %w", pid, err)
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("stat of %d: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 15 {
		return 0, fmt.Errorf("stat of %d: %d fields", pid, len(f))
	}
	var ticks float64
	for _, idx := range []int{11, 12, 13, 14} { // utime stime cutime cstime (fields 14-17)
		v, err := strconv.ParseFloat(f[idx], 64)
		if err != nil {
			return 0, fmt.Errorf("stat of %d: %w", pid, err)
		}
		ticks += v
	}
	return ticks / clockTicks, nil
}

// TreeCPU is ProcCPU summed over pid and its live descendants (whose CPU is
// not yet in cutime/cstime).
func TreeCPU(pid int) (float64, error) {
	total := 0.0
	for i, p := range append([]int{pid}, descendants(pid)...) {
		c, err := ProcCPU(p)
		if err != nil {
			if i == 0 {
				return 0, err
			}
			continue // a child that just exited
		}
		total += c
	}
	return total, nil
}

// Memory is a process tree's resident memory.
type Memory struct {
	RSS, PSS int64 // bytes
	Procs    int
}

// TreeMemory sums RSS and PSS (smaps_rollup) over pid and its descendants.
func TreeMemory(pid int) (Memory, error) {
	var m Memory
	for i, p := range append([]int{pid}, descendants(pid)...) {
		rss, pss, err := rollup(p)
		if err != nil {
			if i == 0 {
				return m, err
			}
			continue
		}
		m.RSS += rss
		m.PSS += pss
		m.Procs++
	}
	return m, nil
}

func rollup(pid int) (rss, pss int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		v, _ := strconv.ParseInt(fields[1], 10, 64)
		switch fields[0] {
		case "Rss:":
			rss = v << 10
		case "Pss:":
			pss = v << 10
		}
	}
	return rss, pss, sc.Err()
}

// descendants lists the live descendants of pid from /proc/*/stat.
func descendants(pid int) []int {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	children := map[int][]int{}
	for _, s := range stats {
		b, err := os.ReadFile(s)
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		p, _ := strconv.Atoi(filepath.Base(filepath.Dir(s)))
		children[ppid] = append(children[ppid], p)
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 && len(out) < 1<<16 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// FDCount returns how many descriptors pid has open.
func FDCount(pid int) int {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return -1
	}
	return len(ents)
}
