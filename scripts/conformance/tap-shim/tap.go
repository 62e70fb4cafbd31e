// Package tap is a small TAP version 13 producer that stands in for the
// github.com/mndrix/tap-go package, which the OCI runtime-tools validation
// suite imports but Debian does not package. build-runtime-tools.sh places
// this file at that import path inside the GOPATH it builds with; it only
// needs to offer the methods the suite calls.
package tap

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// T writes one TAP stream. Copies made by Todo share the test counter.
type T struct {
	// Writer receives the TAP text; nil means standard output.
	Writer io.Writer
	count  *int
	todo   bool
}

// New returns a producer that writes to standard output.
func New() *T {
	n := 0
	return &T{count: &n}
}

func (t *T) out() io.Writer {
	if t.Writer == nil {
		return os.Stdout
	}
	return t.Writer
}

func (t *T) line(format string, a ...interface{}) {
	fmt.Fprintf(t.out(), format+"\n", a...)
}

// Header starts the stream; a positive count is the plan, zero defers the
// plan to AutoPlan at the end.
func (t *T) Header(count int) {
	t.line("TAP version 13")
	if count > 0 {
		t.line("1..%d", count)
	}
}

// Ok records one test result.
func (t *T) Ok(ok bool, description string) {
	*t.count++
	status := "ok"
	if !ok {
		status = "not ok"
	}
	// A newline inside a description would start a bogus TAP line.
	description = strings.ReplaceAll(description, "\n", " ")
	suffix := ""
	if t.todo {
		suffix = " # TODO"
	}
	t.line("%s %d - %s%s", status, *t.count, description, suffix)
}

// Pass records a passing test.
func (t *T) Pass(description string) { t.Ok(true, description) }

// Fail records a failing test.
func (t *T) Fail(description string) { t.Ok(false, description) }

// Count is the number of results written so far.
func (t *T) Count() int { return *t.count }

// AutoPlan writes the trailing plan covering every result written.
func (t *T) AutoPlan() { t.line("1..%d", *t.count) }

// Todo returns a producer whose results are marked TODO, so that their
// failure does not fail the stream.
func (t *T) Todo() *T {
	c := *t
	c.todo = true
	return &c
}

// Skip records count skipped tests with the same reason.
func (t *T) Skip(count int, description string) {
	for i := 0; i < count; i++ {
		*t.count++
		t.line("ok %d # SKIP %s", *t.count, strings.ReplaceAll(description, "\n", " "))
	}
}

// Diagnostic writes a comment; every line of message is prefixed with '#'.
func (t *T) Diagnostic(message string) {
	t.line("# %s", strings.ReplaceAll(message, "\n", "\n# "))
}

// Diagnosticf is Diagnostic with a format string.
func (t *T) Diagnosticf(format string, a ...interface{}) {
	t.Diagnostic(fmt.Sprintf(format, a...))
}

// YAML attaches a structured block to the previous result. JSON is a subset
// of YAML, so encoding/json is enough and needs no extra library.
func (t *T) YAML(message interface{}) error {
	body, err := json.MarshalIndent(message, "  ", "  ")
	if err != nil {
		return err
	}
	t.line("  ---\n  %s\n  ...", body)
	return nil
}
