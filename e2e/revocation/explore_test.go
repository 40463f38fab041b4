package revocation

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"
)

var (
	seedFlag     = flag.Uint64("seed", 0, "replay the schedule of this seed (with -mode and -profile)")
	modeFlag     = flag.String("mode", "", "store of a replayed seed: mem, redis or redis-local (default: all)")
	profileFlag  = flag.String("profile", "faults", "steps of a replayed seed: faults or quiet")
	scheduleFlag = flag.String("schedule", "", "replay a schedule as printed (its header and steps)")
	shrinkFlag   = flag.Bool("shrink", false, "with -seed or -schedule: drop every step the violation does not need, and print what is left")
)

// TestExplore runs random schedules against every store: a bounded number
// in go test (EXPLORE_SCHEDULES per store and profile), or random seeds for
// EXPLORE_DURATION (scripts/explore.sh). -seed, or -schedule, replays one.
func TestExplore(t *testing.T) {
	if *scheduleFlag != "" {
		s, err := parseSchedule(*scheduleFlag)
		if err != nil {
			t.Fatal(err)
		}
		h := newHarness(t, s.mode)
		if ok, executed := report(t, h, s, false); !ok && *shrinkFlag {
			shrink(t, h, executed)
		}
		return
	}
	count := 3
	if v := os.Getenv("EXPLORE_SCHEDULES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("EXPLORE_SCHEDULES: %v", err)
		}
		count = n
	}
	var duration time.Duration
	if v := os.Getenv("EXPLORE_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("EXPLORE_DURATION: %v", err)
		}
		duration = d
	}
	profiles := []bool{false, true}
	if *profileFlag == "quiet" && *seedFlag != 0 {
		profiles = []bool{true}
	} else if *seedFlag != 0 {
		profiles = []bool{false}
	}
	var selected []mode
	for _, m := range modes {
		if *modeFlag == "" || m.name == *modeFlag {
			selected = append(selected, m)
		}
	}
	explored, failed := 0, 0
	for _, m := range selected {
		t.Run(m.name, func(t *testing.T) {
			h := newHarness(t, m)
			if *seedFlag != 0 {
				if ok, executed := report(t, h, newSchedule(m, profiles[0], *seedFlag), false); !ok && *shrinkFlag {
					shrink(t, h, executed)
				}
				return
			}
			for _, quiet := range profiles {
				seed := uint64(1)
				if duration > 0 {
					seed = rand.Uint64()
				}
				end := time.Now().Add(duration / time.Duration(len(selected)*len(profiles)))
				for n := 0; duration > 0 && time.Now().Before(end) || duration == 0 && n < count; n++ {
					explored++
					// Today's holes (TestRegressions) are expected in the
					// bounded run's fault schedules; a longer run reports them.
					known := holesOpen && !quiet && duration == 0
					if ok, _ := report(t, h, newSchedule(m, quiet, seed), known); !ok {
						failed++
					}
					seed++
				}
			}
		})
	}
	t.Logf("schedules explored: %d, violations found in: %d", explored, failed)
	if duration > 0 {
		fmt.Printf("schedules explored: %d, violations found in: %d\n", explored, failed)
	}
}

// report runs s and fails t with everything needed to replay it when the
// invariant broke (only logs it when known is set). It returns whether the
// invariant held, and the schedule as executed.
func report(t *testing.T, h *harness, s schedule, known bool) (bool, schedule) {
	t.Helper()
	start := time.Now()
	executed, violations, transcript := h.execute(t, s)
	if len(violations) == 0 {
		t.Logf("seed %d %s: %d steps, no violation (%s)", s.seed, executed.header(), len(executed.steps), time.Since(start).Round(time.Millisecond))
		if *seedFlag != 0 || *scheduleFlag != "" {
			t.Logf("schedule: %s\n%s", executed, transcript)
		}
		return true, executed
	}
	profile := "faults"
	if s.quiet {
		profile = "quiet"
	}
	replay := fmt.Sprintf("go test -run TestExplore -seed %d -mode %s -profile %s", s.seed, s.mode.name, profile)
	if s.seed == 0 {
		replay = "(not drawn from a seed)"
	}
	report := t.Errorf
	if known {
		report = t.Logf
		replay = "a known hole (holesOpen; TestRegressions); replay: " + replay
	}
	report("seed %d (%s, profile %s): %d violation(s), first: %s\nreplay: %s\n   or: go test -run TestExplore -schedule %s\n%s",
		s.seed, s.mode.name, profile, len(violations), violations[0], replay,
		strconv.Quote(executed.String()), transcript)
	return false, executed
}

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(m.Run())
}

// shrink drops steps from a failing schedule, one at a time, as long as
// some violation remains, and prints the shortest schedule it reached.
func shrink(t *testing.T, h *harness, s schedule) {
	for changed := true; changed; {
		changed = false
		for i := len(s.steps) - 1; i >= 0; i-- {
			try := s
			try.steps = append(append([]step(nil), s.steps[:i]...), s.steps[i+1:]...)
			if len(try.steps) == 0 {
				continue
			}
			if _, violations, _ := h.execute(t, try); len(violations) > 0 {
				s, changed = try, true
			}
		}
	}
	_, violations, transcript := h.execute(t, s)
	t.Logf("shrunk to %d steps (%d violation(s) on this run):\n-schedule %s\n%s", len(s.steps), len(violations), strconv.Quote(s.String()), transcript)
}
