// Command driver runs the original Go escheduler (github.com/stonever/escheduler v0.1.59, unmodified) as
// a master or a worker for the mixed-fleet tests of scripts/interop.ts, and prints one JSON line per event
// on stdout (see wire.Event): "start", worker "status" changes, task "add" (id, priority, key, group,
// base64 payload) and "del" (id), "leave" (the worker asked to leave the start-up barrier), "exit".
// The original logs to stderr.
//
// Modes:
//
//	-mode master  runs escheduler.NewMaster(...).Start(); its generator re-reads -tasks-file (the JSON task
//	              list of `escheduler run --generator`) on every schedule, or makes -tasks tasks t000...
//	-mode worker  runs escheduler.NewWorker(...).Start() and prints what WatchTask() delivers; once the
//	              worker is in the barrier and no task event came for -leave-settle, it calls
//	              TryLeaveBarrier, as an application does once its tasks run
//	-mode encode  reads a task corpus (JSON, see wire.ReadCorpus) on stdin and prints json.Marshal of the
//	              original's escheduler.Task for each
//
// SIGTERM or SIGINT: prints "exit", stops the master or worker and exits 0.
//
// Build (scripts/interop.ts does it): GOFLAGS=-mod=mod so go.sum is completed from the proxy when a
// machine's Go needs more entries than are committed; GOTOOLCHAIN=local because the machines reach the
// module proxy but no toolchain download, so the installed Go builds it whatever go.mod's go line says.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/stonever/escheduler"
	clientv3 "go.etcd.io/etcd/client/v3"

	"escheduler.test/interop/driver/wire"
)

type options struct {
	mode          string
	endpoints     string
	root          string
	name          string
	maxNodes      int
	ttl           int64
	tasks         int
	tasksFile     string
	interval      time.Duration
	timeout       time.Duration
	rebalanceWait time.Duration
	leaveSettle   time.Duration
}

func parseFlags() options {
	var o options
	flag.StringVar(&o.mode, "mode", "", "master | worker | encode")
	flag.StringVar(&o.endpoints, "endpoints", "127.0.0.1:2379", "etcd endpoints, comma separated")
	flag.StringVar(&o.root, "root", "", "root name of every key (/<root>/...)")
	flag.StringVar(&o.name, "name", "", "unique name of this process")
	flag.IntVar(&o.maxNodes, "max-nodes", 0, "MaxNumNodes: workers + 1 for the master")
	flag.Int64Var(&o.ttl, "ttl", 10, "TTL in seconds of the worker lease and the master's election session")
	flag.IntVar(&o.tasks, "tasks", 0, "master without -tasks-file: this many tasks t000..., groups g0 and g1")
	flag.StringVar(&o.tasksFile, "tasks-file", "", "master: JSON task list [{id, priority, group, key, raw}], re-read on every schedule")
	flag.DurationVar(&o.interval, "interval", 2*time.Second, "master: periodic schedule interval")
	flag.DurationVar(&o.timeout, "timeout", 10*time.Second, "master: bound of one schedule")
	flag.DurationVar(&o.rebalanceWait, "rebalance-wait", 500*time.Millisecond, "master: wait before a rebalance")
	flag.DurationVar(&o.leaveSettle, "leave-settle", time.Second, "worker: ask to leave the barrier once no task event came for this long (0: never)")
	flag.Parse()
	return o
}

func main() {
	o := parseFlags()
	if o.mode == "encode" {
		os.Exit(encode())
	}
	if o.mode != "master" && o.mode != "worker" {
		fmt.Fprintln(os.Stderr, "driver: -mode must be master, worker or encode")
		os.Exit(2)
	}
	if o.root == "" || o.name == "" || o.maxNodes < 2 {
		fmt.Fprintln(os.Stderr, "driver: -root, -name and -max-nodes (>= 2) are required")
		os.Exit(2)
	}
	out := wire.NewPrinter(os.Stdout, o.name)
	node := escheduler.Node{
		EtcdConfig: clientv3.Config{
			Endpoints:   strings.Split(o.endpoints, ","),
			DialTimeout: 5 * time.Second,
		},
		RootName:    o.root,
		TTL:         o.ttl,
		MaxNumNodes: o.maxNodes,
		Name:        o.name,
	}
	out.Print(wire.Event{Ev: "start", Mode: o.mode, Pid: os.Getpid()})

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	var stop func()
	var err error
	if o.mode == "master" {
		stop, err = runMaster(o, node)
	} else {
		stop, err = runWorker(o, node, out)
	}
	if err != nil {
		out.Print(wire.Event{Ev: "error", Error: err.Error()})
		os.Exit(1)
	}
	sig := <-signals
	out.Print(wire.Event{Ev: "exit", Status: sig.String()})
	// Stop closes the etcd client; goroutines of the original may still be blocked on it, so exit after a
	// bounded wait rather than waiting for them.
	done := make(chan struct{})
	go func() {
		stop()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
	os.Exit(0)
}

func runMaster(o options, node escheduler.Node) (func(), error) {
	m, err := escheduler.NewMaster(escheduler.MasterConfig{
		Interval:      o.interval,
		Timeout:       o.timeout,
		ReBalanceWait: o.rebalanceWait,
		Generator:     generator(o),
	}, node)
	if err != nil {
		return nil, err
	}
	go m.Start()
	return m.Stop, nil
}

// jsonTask is one entry of the task list file, the format `escheduler run --generator x.json` reads
// (raw is UTF-8 text).
type jsonTask struct {
	ID       string  `json:"id"`
	Priority float64 `json:"priority"`
	Group    string  `json:"group"`
	Key      string  `json:"key"`
	Raw      *string `json:"raw"`
}

func generator(o options) escheduler.Generator {
	return func(ctx context.Context) ([]escheduler.Task, error) {
		if o.tasksFile == "" {
			tasks := make([]escheduler.Task, 0, o.tasks)
			for i := 0; i < o.tasks; i++ {
				tasks = append(tasks, escheduler.Task{ID: fmt.Sprintf("t%03d", i), Group: fmt.Sprintf("g%d", i%2)})
			}
			return tasks, nil
		}
		data, err := os.ReadFile(o.tasksFile)
		if err != nil {
			return nil, err
		}
		var list []jsonTask
		if err := json.Unmarshal(data, &list); err != nil {
			return nil, fmt.Errorf("%s: %w", o.tasksFile, err)
		}
		tasks := make([]escheduler.Task, 0, len(list))
		for _, t := range list {
			task := escheduler.Task{ID: t.ID, P: t.Priority, Group: t.Group, Key: t.Key}
			if t.Raw != nil {
				task.Raw = escheduler.RawData(*t.Raw)
			}
			tasks = append(tasks, task)
		}
		return tasks, nil
	}
}

func runWorker(o options, node escheduler.Node, out *wire.Printer) (func(), error) {
	w, err := escheduler.NewWorker(node)
	if err != nil {
		return nil, err
	}
	go w.Start()

	lastTaskEvent := make(chan time.Time, 64)
	go func() {
		for ev := range w.WatchTask() {
			if t, ok := ev.CreatedTask(); ok {
				out.Print(wire.TaskEvent(t.ID, t.P, t.Key, t.Group, t.Raw))
			} else if id, ok := ev.DeletedTask(); ok {
				out.Print(wire.Event{Ev: "del", ID: id})
			} else {
				out.Print(wire.Event{Ev: "error", Error: fmt.Sprintf("unknown task event %#v", ev)})
			}
			select {
			case lastTaskEvent <- time.Now():
			default:
			}
		}
	}()

	// Status changes, by polling: the original only logs them.
	statusChanged := make(chan string, 16)
	go func() {
		last := ""
		for {
			if s := w.Status(); s != last {
				last = s
				out.Print(wire.Event{Ev: "status", Status: s})
				select {
				case statusChanged <- s:
				default:
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()

	if o.leaveSettle > 0 {
		go leaveWhenSettled(w, o.leaveSettle, lastTaskEvent, out)
	}
	return w.Stop, nil
}

// leaveWhenSettled asks to leave the barrier once the worker is in it and no task event came for settle:
// TryLeaveBarrier hands the request to the barrier goroutine, whose Leave then waits for every participant.
func leaveWhenSettled(w *escheduler.Worker, settle time.Duration, lastTaskEvent <-chan time.Time, out *wire.Printer) {
	for w.Status() != escheduler.WorkerStatusInBarrier {
		if w.Status() == escheduler.WorkerStatusLeftBarrier {
			return // no barrier this time: worker_barrier_left was there
		}
		time.Sleep(50 * time.Millisecond)
	}
	last := time.Now()
	for {
		select {
		case t := <-lastTaskEvent:
			last = t
			continue
		case <-time.After(50 * time.Millisecond):
		}
		if time.Since(last) < settle {
			continue
		}
		if w.TryLeaveBarrier(settle) {
			out.Print(wire.Event{Ev: "leave"})
			return
		}
	}
}

func encode() int {
	corpus, err := wire.ReadCorpus(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "driver -mode encode:", err)
		return 2
	}
	for _, c := range corpus {
		task := escheduler.Task{P: c.P, Key: c.Key, Group: c.Group, ID: c.ID}
		if c.Raw != nil {
			task.Raw = escheduler.RawData(c.Raw)
		}
		b, err := json.Marshal(task)
		if err == nil {
			err = wire.PrintEncoded(os.Stdout, c.Name, b)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "driver -mode encode:", c.Name, err)
			return 1
		}
	}
	return 0
}
