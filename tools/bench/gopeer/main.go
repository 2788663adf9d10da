// SPDX-License-Identifier: GPL-2.0

// estack-gopeer: the Go peer of `estack-demo -P`, to compare the time and
// the stack memory per fiber of goroutines (2 KiB stacks that grow by
// copying) with estack fibers.
//
// It spawns N goroutines; each runs work(D, seed): D+1 nested calls, each
// with a 192-byte array of locals (the same function and the same results
// as estack-demo's work()), and parks in the innermost one. Main measures
// the wall time from before the first spawn until all N are parked, and
// the growth of runtime.MemStats.StackInuse (bytes of stack spans in use)
// over the same interval, then releases them, checks every result against
// the same work done on the main goroutine and prints one JSON line.
//
// Go 1.19, standard library only: tools/bench/build-gopeer.sh builds it.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"runtime"
	"sync"
	"time"
)

// frameWords is estack-demo's FRAME_WORDS: 192 bytes of locals per level.
const frameWords = 24

var (
	parked  sync.WaitGroup        // Done once per goroutine at full depth
	release = make(chan struct{}) // closed to let them all finish
)

func mix(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	return x
}

// park holds the goroutine, and its stack, at full depth.
//
//go:noinline
func park() {
	parked.Done()
	<-release
}

// work is estack-demo's work(): local is indexed by a run-time value, so it
// lives in the frame; noinline keeps one frame per level.
//
//go:noinline
func work(depth uint32, x uint64, hold bool) uint64 {
	var local [frameWords]uint64
	var r uint64

	for i := range local {
		local[i] = mix(x + uint64(i))
	}
	if depth > 0 {
		r = work(depth-1, local[depth%frameWords], hold)
	} else {
		if hold {
			park()
		}
		r = x
	}
	for i := range local {
		r += local[i] * uint64(i+1)
	}
	return r
}

type report struct {
	Impl               string  `json:"impl"`
	Go                 string  `json:"go"`
	Procs              int     `json:"procs"`
	N                  int     `json:"n"`
	Depth              uint32  `json:"depth"`
	Frame              int     `json:"frame"`
	NsPerFiber         float64 `json:"ns_per_fiber"`
	StackBytesPerFiber float64 `json:"stack_bytes_per_fiber"`
	StackAfterGC       float64 `json:"stack_bytes_per_fiber_after_gc"`
	HeapBytesPerFiber  float64 `json:"heap_bytes_per_fiber"`
	SysBytesPerFiber   float64 `json:"sys_bytes_per_fiber"`
	NumGC              uint32  `json:"num_gc"`
	GODEBUG            string  `json:"godebug"`
	GOGC               string  `json:"gogc"`
	Checksum           string  `json:"checksum"`
	ResultsOK          bool    `json:"results_ok"`
}

func perFiber(after, before uint64, n int) float64 {
	return math.Round((float64(after)-float64(before))/float64(n)*10) / 10
}

func main() {
	n := flag.Int("n", 10000, "goroutines")
	d := flag.Uint("d", 120, "depth: each goroutine parks D+1 frames deep")
	p := flag.Int("p", 1, "GOMAXPROCS; 0 keeps the runtime's default "+
		"(the number of CPUs). 1 matches estack-demo's single scheduler")
	flag.Parse()
	if *n < 1 || flag.NArg() > 0 || *d > math.MaxUint32 {
		fmt.Fprintln(os.Stderr, "usage: estack-gopeer [-n N] [-d D] [-p P]")
		os.Exit(2)
	}
	if *p > 0 {
		runtime.GOMAXPROCS(*p)
	}
	depth := uint32(*d)
	results := make([]uint64, *n)
	var done sync.WaitGroup
	var before, after, afterGC runtime.MemStats

	runtime.GC()
	runtime.ReadMemStats(&before)
	parked.Add(*n)
	done.Add(*n)
	t0 := time.Now()
	for i := 0; i < *n; i++ {
		go func(i int) {
			results[i] = work(depth, uint64(i+1), true)
			done.Done()
		}(i)
	}
	parked.Wait()
	elapsed := time.Since(t0)
	runtime.ReadMemStats(&after)
	// Does a collection shrink the parked stacks (Go shrinks a stack that
	// uses less than a quarter of it) or free emptied stack spans?
	runtime.GC()
	runtime.ReadMemStats(&afterGC)

	close(release)
	done.Wait()
	ok := true
	var sum uint64
	for i, r := range results {
		if r != work(depth, uint64(i+1), false) {
			ok = false
		}
		sum ^= r
	}

	out, err := json.Marshal(report{
		Impl:               "go",
		Go:                 runtime.Version(),
		Procs:              runtime.GOMAXPROCS(0),
		N:                  *n,
		Depth:              depth,
		Frame:              frameWords * 8,
		NsPerFiber:         math.Round(float64(elapsed.Nanoseconds())/float64(*n)*10) / 10,
		StackBytesPerFiber: perFiber(after.StackInuse, before.StackInuse, *n),
		StackAfterGC:       perFiber(afterGC.StackInuse, before.StackInuse, *n),
		HeapBytesPerFiber:  perFiber(after.HeapInuse, before.HeapInuse, *n),
		SysBytesPerFiber:   perFiber(after.Sys, before.Sys, *n),
		NumGC:              after.NumGC - before.NumGC,
		GODEBUG:            os.Getenv("GODEBUG"),
		GOGC:               os.Getenv("GOGC"),
		Checksum:           fmt.Sprintf("0x%016x", sum),
		ResultsOK:          ok,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "estack-gopeer:", err)
		os.Exit(1)
	}
	fmt.Println(string(out))
	if !ok {
		os.Exit(1)
	}
}
