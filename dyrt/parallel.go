package dyrt

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Task is work split into parts that may run concurrently: RunPart(p) is
// called exactly once for every p in [0, parts) of a Job.Run call.
type Task interface {
	RunPart(part int)
}

// Job runs a Task's parts on the calling goroutine and on a process-wide
// pool of worker goroutines, without allocating in steady state. A Job is
// meant to live inside per-call scratch memory that is already on the heap
// (the generated layers keep one in their pooled scratch); one Job runs one
// Task at a time.
//
// A run offers itself to the pool; a worker that takes the offer joins the
// run only while the caller still works on it, so the caller never waits for
// a worker that had not started when the parts ran out (a busy pool, or a
// busy machine, costs no latency).
type Job struct {
	task  Task
	parts int64
	next  atomic.Int64 // next unclaimed part
	// state is the run's generation (high 32 bits), jobClosed once the
	// caller has run out of parts, and the number of workers in the run
	// (low 31 bits).
	state atomic.Uint64
	done  chan struct{}
}

const jobClosed = 1 << 31

// offer is a pool message: run gen of j, if it is still open.
type offer struct {
	j   *Job
	gen uint64
}

// workers is the process-wide pool: goroutines started once, on demand, up
// to GOMAXPROCS-1 of them, that never exit and take offers from work.
var workers struct {
	mu      sync.Mutex
	started atomic.Int32
	work    chan offer
}

func init() { workers.work = make(chan offer, 256) }

// Procs is the number of goroutines a Job.Run may use now: GOMAXPROCS.
func Procs() int { return runtime.GOMAXPROCS(0) }

// ensureWorkers starts pool workers until there are at least n.
func ensureWorkers(n int) {
	if int(workers.started.Load()) >= n {
		return
	}
	workers.mu.Lock()
	for int(workers.started.Load()) < n {
		go worker()
		workers.started.Add(1)
	}
	workers.mu.Unlock()
}

// spinFor is how long an idle worker, and a caller whose workers are still
// busy, poll before they block. Waking a blocked goroutine's thread can take
// 100 µs (an OS wake-up, slow on virtual machines), several times a split
// layer's phase; a worker that polls a while after each run joins the next
// run, such as a one-sample call's next phase, at once.
const spinFor = 200 * time.Microsecond

// poll spins until ready reports true or spinFor has passed.
func poll(ready func() bool) {
	start := time.Now()
	for i := 1; !ready(); i++ {
		if i%256 == 0 && time.Since(start) > spinFor {
			return
		}
	}
}

func worker() {
	for o := range workers.work {
		o.j.join(o.gen)
		// Poll for the next offer before blocking on the queue again.
		poll(func() bool { return len(workers.work) != 0 })
	}
}

// join runs parts of run gen if that run is still open.
func (j *Job) join(gen uint64) {
	for {
		s := j.state.Load()
		if s>>32 != gen || s&jobClosed != 0 {
			return // a finished run
		}
		if j.state.CompareAndSwap(s, s+1) {
			break
		}
	}
	j.claim()
	if s := j.state.Add(^uint64(0)); s&jobClosed != 0 && s&(jobClosed-1) == 0 {
		j.done <- struct{}{} // the last worker of a closed run
	}
}

// claim runs unclaimed parts until none is left.
func (j *Job) claim() {
	for {
		p := j.next.Add(1) - 1
		if p >= j.parts {
			return
		}
		j.task.RunPart(int(p))
	}
}

// Run calls t.RunPart(p) for every p in [0, parts) and returns when all
// calls have returned. It uses the calling goroutine and up to
// min(parts, GOMAXPROCS)-1 pool workers that join before the parts run out;
// with GOMAXPROCS=1 or a single part it runs the parts in order on the
// calling goroutine. Which goroutine runs a part is not fixed, so a part must
// depend only on its index. Steady-state calls do not allocate.
func (j *Job) Run(t Task, parts int) {
	procs := runtime.GOMAXPROCS(0)
	if parts <= 1 || procs <= 1 {
		for p := 0; p < parts; p++ {
			t.RunPart(p)
		}
		return
	}
	helpers := min(parts, procs) - 1
	ensureWorkers(helpers)
	if j.done == nil {
		j.done = make(chan struct{}, 1)
	}
	j.task, j.parts = t, int64(parts)
	j.next.Store(0)
	gen := (j.state.Load()>>32 + 1) & (1<<32 - 1)
	j.state.Store(gen << 32) // open, no workers
send:
	for i := 0; i < helpers; i++ {
		select {
		case workers.work <- offer{j, gen}:
		default: // the queue is full: the caller does the rest
			break send
		}
	}
	j.claim()
	// Close the run: workers that have not joined yet never will.
	var s uint64
	for {
		s = j.state.Load()
		if j.state.CompareAndSwap(s, s|jobClosed) {
			break
		}
	}
	if s&(jobClosed-1) != 0 {
		// Poll for the workers in the run to finish, then take the
		// last one's signal (sent right after it leaves, so a receive
		// after the poll rarely blocks: blocking would leave this
		// goroutine to be woken, late, on the worker's thread).
		poll(func() bool { return j.state.Load()&(jobClosed-1) == 0 })
		<-j.done // the last worker in the run signals
	}
	j.task = nil
}

// Split returns the half-open range [lo, hi) of part p when n items are
// split into parts contiguous ranges of sizes that differ by at most one.
func Split(n, parts, p int) (lo, hi int) {
	return n * p / parts, n * (p + 1) / parts
}

// GetRows returns a buffer of n floats from pool, which holds *[]float32
// (a new one when the pool is empty, grown when it is shorter); its
// contents are whatever it held. Put it back with pool.Put when done:
// steady-state calls then do not allocate.
func GetRows(pool *sync.Pool, n int) *[]float32 {
	p, _ := pool.Get().(*[]float32)
	if p == nil {
		p = new([]float32)
	}
	if cap(*p) < n {
		*p = make([]float32, n)
	}
	*p = (*p)[:n]
	return p
}
