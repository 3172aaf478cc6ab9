// Package wire holds what the driver and the stand-alone encoder share: reading the task corpus and
// printing the JSON event lines that scripts/interop.ts parses. Standard library only.
package wire

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"
)

// CorpusTask is one task of the corpus, decoded: Raw is nil for a JSON null and an empty non-nil slice
// for "" (the two encode differently in Go: null and "").
type CorpusTask struct {
	Name  string
	ID    string
	P     float64
	Key   string
	Group string
	Raw   []byte
}

type corpusEntry struct {
	Name  string  `json:"name"`
	ID    string  `json:"id"`
	P     string  `json:"p"`
	Key   string  `json:"key"`
	Group string  `json:"group"`
	Raw   *string `json:"raw"`
}

// ReadCorpus decodes the JSON array of corpus entries.
func ReadCorpus(r io.Reader) ([]CorpusTask, error) {
	var entries []corpusEntry
	if err := json.NewDecoder(r).Decode(&entries); err != nil {
		return nil, fmt.Errorf("corpus is not a JSON array of tasks: %w", err)
	}
	out := make([]CorpusTask, 0, len(entries))
	for _, e := range entries {
		p, err := strconv.ParseFloat(e.P, 64)
		if err != nil {
			return nil, fmt.Errorf("corpus entry %q: p %q: %w", e.Name, e.P, err)
		}
		t := CorpusTask{Name: e.Name, ID: e.ID, P: p, Key: e.Key, Group: e.Group}
		if e.Raw != nil {
			raw, err := base64.StdEncoding.DecodeString(*e.Raw)
			if err != nil {
				return nil, fmt.Errorf("corpus entry %q: raw: %w", e.Name, err)
			}
			t.Raw = append(make([]byte, 0, len(raw)), raw...) // non-nil even when empty
		}
		out = append(out, t)
	}
	return out, nil
}

// PrintEncoded writes {"name":..,"go":"<encoded>"} as one line.
func PrintEncoded(w io.Writer, name string, encoded []byte) error {
	line, err := json.Marshal(struct {
		Name string `json:"name"`
		Go   string `json:"go"`
	}{name, string(encoded)})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", line)
	return err
}

// Event is one line of the driver's output.
type Event struct {
	T      int64   `json:"t"`
	Name   string  `json:"name"`
	Ev     string  `json:"ev"`
	Status string  `json:"status,omitempty"`
	ID     string  `json:"id,omitempty"`
	P      float64 `json:"p,omitempty"`
	Key    string  `json:"key,omitempty"`
	Group  string  `json:"group,omitempty"`
	Raw    *string `json:"raw,omitempty"`    // base64 of the payload of an add
	RawNil bool    `json:"rawNil,omitempty"` // an add whose payload is nil (Go's null)
	Error  string  `json:"error,omitempty"`
	Pid    int     `json:"pid,omitempty"`
	Mode   string  `json:"mode,omitempty"`
}

// Printer writes events as JSON lines, one at a time from any goroutine.
type Printer struct {
	mu   sync.Mutex
	w    io.Writer
	name string
}

// NewPrinter prints to w, stamping every event with the process name.
func NewPrinter(w io.Writer, name string) *Printer {
	return &Printer{w: w, name: name}
}

// Print writes one event line; a failed write (stdout closed) is ignored: nobody is left to read it.
func (p *Printer) Print(e Event) {
	e.T = time.Now().UnixMilli()
	e.Name = p.name
	line, err := json.Marshal(e)
	if err != nil {
		line = []byte(fmt.Sprintf(`{"ev":"error","error":%q}`, err.Error()))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	_, _ = p.w.Write(append(line, '\n'))
}

// TaskEvent is the "add" event of a task as the worker received it.
func TaskEvent(id string, p float64, key, group string, raw []byte) Event {
	e := Event{Ev: "add", ID: id, P: p, Key: key, Group: group}
	if raw == nil {
		e.RawNil = true
	} else {
		b := base64.StdEncoding.EncodeToString(raw)
		e.Raw = &b
	}
	return e
}
