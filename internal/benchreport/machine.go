package benchreport

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Machine is what the figures were measured on.
type Machine struct {
	CPUModel string // model name from /proc/cpuinfo
	CPUs     int    // logical CPUs listed in /proc/cpuinfo
	MemTotal string // MemTotal from /proc/meminfo, e.g. "23.5 GiB"
	Kernel   string // uname -sr
	Go       string // go version
	Redis    string // redis_version and mode from INFO server
	LoadAvg  string // /proc/loadavg's first three fields when the run started
	Hostname string
}

// CPUName names the CPU as the report does: the model and how many
// logical CPUs. Two runs on the same CPUName are comparable.
func (m Machine) CPUName() string { return fmt.Sprintf("%s × %d logical CPUs", m.CPUModel, m.CPUs) }

// CPUInfo reads the model name and the number of processors from
// /proc/cpuinfo's text.
func CPUInfo(r io.Reader) (model string, cpus int) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "processor":
			cpus++
		case "model name":
			if model == "" {
				model = strings.TrimSpace(v)
			}
		}
	}
	return model, cpus
}

// MemTotal reads MemTotal from /proc/meminfo's text and formats it in GiB.
func MemTotal(r io.Reader) string {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemTotal:" {
			kb, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				return f[1] + " kB"
			}
			return fmt.Sprintf("%.1f GiB", kb/(1<<20))
		}
	}
	return "unknown"
}

// LoadAvg is the 1, 5 and 15 minute load averages from /proc/loadavg.
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return strings.TrimSpace(string(b))
	}
	return strings.Join(f[:3], " ")
}

// ReadMachine describes this machine; rdb (may be nil) gives the Redis
// version.
func ReadMachine(ctx context.Context, goCmd string, rdb redis.UniversalClient) Machine {
	m := Machine{CPUModel: "unknown", MemTotal: "unknown", LoadAvg: LoadAvg(), Redis: "none (embedded server)"}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		model, n := CPUInfo(f)
		_ = f.Close()
		if model != "" {
			m.CPUModel = model
		}
		m.CPUs = n
	}
	if m.CPUs == 0 {
		m.CPUs = runtime.NumCPU()
	}
	if f, err := os.Open("/proc/meminfo"); err == nil {
		m.MemTotal = MemTotal(f)
		_ = f.Close()
	}
	m.Hostname, _ = os.Hostname()
	if out, err := exec.CommandContext(ctx, "uname", "-sr").Output(); err == nil {
		m.Kernel = strings.TrimSpace(string(out))
	}
	m.Go = runtime.Version()
	if out, err := exec.CommandContext(ctx, goCmd, "version").Output(); err == nil {
		m.Go = strings.TrimPrefix(strings.TrimSpace(string(out)), "go version ")
	}
	if rdb != nil {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if info, err := rdb.Info(cctx, "server").Result(); err == nil {
			m.Redis = "Redis " + infoField(info, "redis_version") + " (" + infoField(info, "redis_mode") + ")"
		}
	}
	return m
}

// infoField returns one field of an INFO reply.
func infoField(info, key string) string {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), key+":"); ok {
			return v
		}
	}
	return "?"
}
