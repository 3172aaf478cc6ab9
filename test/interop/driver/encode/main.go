// Command encode prints, for each task of a JSON corpus read on stdin, the bytes Go's encoding/json makes
// of a task struct shaped like the original's (github.com/stonever/escheduler v0.1.59 `Task`: fields P
// float64, Key, Group, ID string, Raw RawData where `type RawData []byte` has no MarshalJSON).
//
// It needs only the standard library, so the test vectors can be made on any machine with Go; the driver's
// `-mode encode` does the same with the original's own Task type, and scripts/interop.ts checks that both
// print the same bytes wherever the original can be built.
//
// Input: a JSON array of {"name", "id", "p" (a number as text, so -0 survives), "key", "group",
// "raw" (base64, null for a nil payload, "" for an empty non-nil one)}. Output: one JSON object per line,
// {"name", "go": "<the encoded task>"}.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"

	"escheduler.test/interop/driver/wire"
)

// RawData mirrors the original's payload type: a plain byte slice, base64 in JSON, null when nil.
type RawData []byte

// Task mirrors the original's task struct field for field, in its order.
type Task struct {
	P     float64
	Key   string
	Group string
	ID    string
	Raw   RawData
}

func main() {
	corpus, err := wire.ReadCorpus(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "encode:", err)
		os.Exit(2)
	}
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for _, c := range corpus {
		b, err := json.Marshal(Task{P: c.P, Key: c.Key, Group: c.Group, ID: c.ID, Raw: c.Raw})
		if err != nil {
			fmt.Fprintln(os.Stderr, "encode:", c.Name, err)
			os.Exit(1)
		}
		if err := wire.PrintEncoded(out, c.Name, b); err != nil {
			fmt.Fprintln(os.Stderr, "encode:", err)
			os.Exit(1)
		}
	}
}
