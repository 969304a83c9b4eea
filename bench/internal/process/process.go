// Package process runs an alur service binary for the benchmarks: it starts
// the binary on a loopback port of the kernel's choosing, learns the address
// from the service's "serving" log line, keeps the last log lines for error
// messages, and reads the process's peak memory from /proc.
package process

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// StartTimeout bounds the wait for a binary to listen.
const StartTimeout = 30 * time.Second

// StopTimeout bounds the wait for a binary to exit after SIGTERM before it
// is killed.
const StopTimeout = 15 * time.Second

// tailLines is how many log lines a Process keeps for error messages.
const tailLines = 5

// Process is a running service binary.
type Process struct {
	// Addr is the address the service listens on.
	Addr string

	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	mu   sync.Mutex
	tail []string // the last log lines
}

// Start runs bin with --addr 127.0.0.1:0 and the extra args, and waits until
// its log says which address it serves on.
func Start(ctx context.Context, bin string, args ...string) (*Process, error) {
	cmd := exec.Command(bin, append([]string{"--addr", "127.0.0.1:0"}, args...)...)
	// The address is read from the "serving" log line, an INFO line.
	cmd.Env = append(os.Environ(), "ALUR_LOG_LEVEL=info")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	p := &Process{cmd: cmd, done: make(chan struct{})}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.tail = append(p.tail, line)
			if len(p.tail) > tailLines {
				p.tail = p.tail[1:]
			}
			p.mu.Unlock()
			if addr, ok := ServingAddr(line); ok {
				select {
				case addrc <- addr:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		_ = cmd.Wait()
		close(p.done)
	}()
	timer := time.NewTimer(StartTimeout)
	defer timer.Stop()
	select {
	case p.Addr = <-addrc:
		return p, nil
	case <-p.done:
		return nil, fmt.Errorf("%s exited before serving%s", bin, p.LogTail())
	case <-timer.C:
		p.Stop()
		return nil, fmt.Errorf("%s did not report its address within %v%s", bin, StartTimeout, p.LogTail())
	case <-ctx.Done():
		p.Stop()
		return nil, ctx.Err()
	}
}

// PID is the process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Stop sends SIGTERM (a graceful stop) and kills the process if it has not
// exited within StopTimeout.
func (p *Process) Stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(StopTimeout):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// LogTail formats the last log lines for an error message, or returns "".
func (p *Process) LogTail() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.tail) == 0 {
		return ""
	}
	return "; its log ends:\n  " + strings.Join(p.tail, "\n  ")
}

// ServingAddr extracts addr from the log line serverkit writes once it
// listens, a slog text line such as
// `time=... level=INFO msg=serving service=train addr=127.0.0.1:40123`.
func ServingAddr(line string) (string, bool) {
	fields := strings.Fields(line)
	if !slices.Contains(fields, "msg=serving") {
		return "", false
	}
	for _, f := range fields {
		if a, ok := strings.CutPrefix(f, "addr="); ok && a != "" {
			return strings.Trim(a, `"`), true
		}
	}
	return "", false
}

// ReadVmHWM returns a process's peak resident set size (VmHWM) and current
// one (VmRSS) in bytes, from /proc/PID/status.
func ReadVmHWM(pid int) (hwm, rss int64, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0, err
	}
	return ParseVmStatus(string(b))
}

// ParseVmStatus reads the VmHWM and VmRSS lines of a /proc/PID/status text
// ("VmHWM:\t  123456 kB"; see proc(5)) and returns them in bytes.
func ParseVmStatus(status string) (hwm, rss int64, err error) {
	sawHWM := false
	for line := range strings.Lines(status) {
		key, val, ok := strings.Cut(line, ":")
		if !ok || (key != "VmHWM" && key != "VmRSS") {
			continue
		}
		f := strings.Fields(val)
		if len(f) != 2 || f[1] != "kB" {
			return 0, 0, fmt.Errorf("malformed %s line %q", key, strings.TrimSpace(line))
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || kb < 0 || kb > math.MaxInt64/1024 {
			return 0, 0, fmt.Errorf("malformed %s value %q", key, f[0])
		}
		if key == "VmHWM" {
			hwm, sawHWM = kb*1024, true
		} else {
			rss = kb * 1024
		}
	}
	if !sawHWM {
		return 0, 0, errors.New("no VmHWM line in the process status")
	}
	return hwm, rss, nil
}
