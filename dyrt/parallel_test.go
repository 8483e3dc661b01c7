package dyrt

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

type countTask struct {
	hits []atomic.Int32
}

func (c *countTask) RunPart(p int) { c.hits[p].Add(1) }

func TestJobRunsEveryPartOnce(t *testing.T) {
	for _, procs := range []int{1, 2, 4, 8} {
		old := runtime.GOMAXPROCS(procs)
		for _, parts := range []int{0, 1, 2, 3, 7, 64, 1000} {
			var j Job
			c := &countTask{hits: make([]atomic.Int32, parts)}
			for rep := 0; rep < 3; rep++ {
				j.Run(c, parts)
			}
			for p := range c.hits {
				if got := c.hits[p].Load(); got != 3 {
					t.Errorf("GOMAXPROCS=%d parts=%d: part %d ran %d times in 3 runs, want 3", procs, parts, p, got)
				}
			}
		}
		runtime.GOMAXPROCS(old)
	}
}

type gidTask struct{ ids []uint64 }

func (g *gidTask) RunPart(p int) { g.ids[p] = goid() }

func goid() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	// "goroutine N [..."
	var id uint64
	for _, c := range b[len("goroutine "):] {
		if c < '0' || c > '9' {
			break
		}
		id = id*10 + uint64(c-'0')
	}
	return id
}

func TestJobInlineWithOneProc(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var j Job
	g := &gidTask{ids: make([]uint64, 16)}
	j.Run(g, 16)
	me := goid()
	for p, id := range g.ids {
		if id != me {
			t.Fatalf("GOMAXPROCS=1: part %d ran on goroutine %d, want the caller's %d", p, id, me)
		}
	}
}

type sumTask struct{ out []int64 }

func (s *sumTask) RunPart(p int) {
	var v int64
	for i := 0; i < 1000; i++ {
		v += int64(p * i)
	}
	s.out[p] = v
}

func TestJobConcurrentCallers(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	var wg sync.WaitGroup
	for c := 0; c < 8; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var j Job
			s := &sumTask{out: make([]int64, 33)}
			for rep := 0; rep < 200; rep++ {
				clear(s.out)
				j.Run(s, len(s.out))
				for p, v := range s.out {
					if want := int64(p) * 999 * 1000 / 2; v != want {
						t.Errorf("part %d: %d, want %d", p, v, want)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
}

func TestJobAllocs(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	j := new(Job)
	s := &sumTask{out: make([]int64, 16)}
	j.Run(s, 16)
	if a := testing.AllocsPerRun(100, func() { j.Run(s, 16) }); a != 0 {
		t.Errorf("Job.Run allocates %v times per call, want 0", a)
	}
}

func TestSplit(t *testing.T) {
	for n := 0; n < 20; n++ {
		for parts := 1; parts < 7; parts++ {
			next := 0
			for p := 0; p < parts; p++ {
				lo, hi := Split(n, parts, p)
				if lo != next || hi < lo {
					t.Fatalf("Split(%d, %d, %d) = %d, %d", n, parts, p, lo, hi)
				}
				next = hi
			}
			if next != n {
				t.Fatalf("Split(%d, %d): covers [0, %d)", n, parts, next)
			}
		}
	}
}
