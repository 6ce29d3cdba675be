package genbench_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"text/tabwriter"
	"time"
)

// samples are the prompts `make bench` runs, one per framework, between them every field
// type but float: string, text, int (recipes); string, date, bool (tasks).
var samples = map[string][]string{
	"nextjs":        {"a recipe book: recipes with a name, ingredients and minutes to cook"},
	"fastapi-react": {"A todo app with tasks that have a title, a due date and a done flag"},
}

// BenchmarkPromptToPreview posts a sample prompt per framework to an in-process MGX and
// measures prompt → FINISH and prompt → the dev preview showing the generated entities
// (see mgx.generate). One op is one app, from the POST until both; scripts/bench.sh runs it with
// -benchtime 1x (a few minutes per app: the QA engineer installs, tests, lints and builds).
// A failed app fails the benchmark. MGX_GENBENCH_TIMEOUT bounds one app (default 20m).
func BenchmarkPromptToPreview(b *testing.B) {
	requireTools(b)
	m := startMGX(b)
	timeout := envDuration(b, "MGX_GENBENCH_TIMEOUT", 20*time.Minute)
	grace := envDuration(b, "MGX_GENBENCH_PREVIEW_GRACE", 5*time.Minute)
	for _, fw := range []string{"nextjs", "fastapi-react"} {
		b.Run(fw, func(b *testing.B) {
			var finish, preview []time.Duration
			ok, n := 0, 0
			for i := 0; b.Loop(); i++ {
				prompt := samples[fw][i%len(samples[fw])]
				r := m.generate(context.Background(), prompt, fw, timeout, grace)
				b.StopTimer()
				m.release(b, r)
				n++
				b.Logf("%s %q: ok=%v FINISH %s after %s, preview (%s) after %s %s", fw, prompt, r.OK, r.FinishStatus,
					r.Finish.Round(time.Second), r.Check, r.Preview.Round(time.Second), r.Reason)
				if r.OK {
					ok++
					finish = append(finish, r.Finish)
					preview = append(preview, r.Preview)
				} else {
					b.Errorf("%s %q failed: %s", fw, prompt, r.Reason)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(n), "apps")
			b.ReportMetric(100*float64(ok)/float64(max(n, 1)), "success-%")
			b.ReportMetric(median(finish).Seconds(), "finish-s")
			b.ReportMetric(median(preview).Seconds(), "preview-s")
		})
	}
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// TestPromptCorpus (MGX_TEST_GENBENCH=1) runs prompts of the extraction corpus through an
// in-process MGX, one app at a time, and prints a table (prompt, framework, status,
// prompt → FINISH, prompt → preview, failure reason) and the success rate; any failed
// app fails the test. scripts/genbench.sh drives it. Settings:
//
//	MGX_GENBENCH_N           prompts, spread evenly over the corpus (default: all 112)
//	MGX_GENBENCH_MATCH       only prompts matching this regexp
//	MGX_GENBENCH_FRAMEWORKS  comma-separated (default nextjs,fastapi-react)
//	MGX_GENBENCH_EACH=1      every prompt on every framework (default: prompts take the
//	                         frameworks in turn)
//	MGX_GENBENCH_TIMEOUT     per app (default 20m); MGX_GENBENCH_PREVIEW_GRACE after FINISH (5m)
//	MGX_GENBENCH_REPORT      also write the table to this file
func TestPromptCorpus(t *testing.T) {
	if os.Getenv("MGX_TEST_GENBENCH") != "1" {
		t.Skip("set MGX_TEST_GENBENCH=1 to run corpus prompts through the platform (minutes per app; scripts/genbench.sh)")
	}
	requireTools(t)
	all := corpus(t)
	if expr := os.Getenv("MGX_GENBENCH_MATCH"); expr != "" {
		re, err := regexp.Compile(expr)
		if err != nil {
			t.Fatalf("MGX_GENBENCH_MATCH: %v", err)
		}
		all = slices.DeleteFunc(all, func(p string) bool { return !re.MatchString(p) })
		if len(all) == 0 {
			t.Fatalf("MGX_GENBENCH_MATCH=%q matches no prompt", expr)
		}
	}
	n := len(all)
	if v := os.Getenv("MGX_GENBENCH_N"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			t.Fatalf("MGX_GENBENCH_N=%q: want a positive number", v)
		}
		n = min(n, len(all))
	}
	fws := strings.Split(envOr("MGX_GENBENCH_FRAMEWORKS", "nextjs,fastapi-react"), ",")
	type job struct{ prompt, fw string }
	var jobs []job
	for i := range n {
		p := all[i*len(all)/n] // spread over the corpus
		if os.Getenv("MGX_GENBENCH_EACH") == "1" {
			for _, fw := range fws {
				jobs = append(jobs, job{p, strings.TrimSpace(fw)})
			}
		} else {
			jobs = append(jobs, job{p, strings.TrimSpace(fws[i%len(fws)])})
		}
	}
	timeout := envDuration(t, "MGX_GENBENCH_TIMEOUT", 20*time.Minute)
	grace := envDuration(t, "MGX_GENBENCH_PREVIEW_GRACE", 5*time.Minute)
	m := startMGX(t)
	var results []result
	start := time.Now()
	defer func() {
		report(os.Stdout, results, time.Since(start))
		if path := os.Getenv("MGX_GENBENCH_REPORT"); path != "" {
			if f, err := os.Create(path); err == nil {
				report(f, results, time.Since(start))
				f.Close()
			}
		}
	}()
	for i, j := range jobs {
		if t.Context().Err() != nil {
			break
		}
		r := m.generate(t.Context(), j.prompt, j.fw, timeout, grace)
		m.release(t, r)
		results = append(results, r)
		t.Logf("[%d/%d] %s %q: ok=%v FINISH %s after %s, preview (%s) after %s %s", i+1, len(jobs), j.fw, j.prompt,
			r.OK, r.FinishStatus, r.Finish.Round(time.Second), r.Check, r.Preview.Round(time.Second), r.Reason)
		if !r.OK {
			t.Errorf("%s %q failed: %s", j.fw, j.prompt, r.Reason)
		}
	}
}

// report prints the results as a table with the success rate per framework and overall.
func report(w io.Writer, results []result, total time.Duration) {
	secs := func(d time.Duration) string {
		if d == 0 {
			return "-"
		}
		return fmt.Sprintf("%.0fs", d.Seconds())
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tprompt\tframework\tstatus\tprompt→FINISH\tprompt→preview\tfailure reason")
	type agg struct {
		ok, n           int
		finish, preview []time.Duration
	}
	per := map[string]*agg{}
	var fws []string
	for i, r := range results {
		status := "ok"
		if !r.OK {
			status = "FAILED"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", i+1, clip([]byte(r.Prompt), 60), r.Framework, status,
			secs(r.Finish), secs(r.Preview), clip([]byte(r.Reason), 160))
		a := per[r.Framework]
		if a == nil {
			a = &agg{}
			per[r.Framework] = a
			fws = append(fws, r.Framework)
		}
		a.n++
		if r.OK {
			a.ok++
			a.finish = append(a.finish, r.Finish)
			a.preview = append(a.preview, r.Preview)
		}
	}
	tw.Flush()
	fmt.Fprintln(w)
	ok := 0
	for _, fw := range fws {
		a := per[fw]
		ok += a.ok
		fmt.Fprintf(w, "%-14s %d/%d succeeded (%.0f%%); median prompt→FINISH %s, prompt→preview %s (successful apps)\n",
			fw+":", a.ok, a.n, 100*float64(a.ok)/float64(a.n), secs(median(a.finish)), secs(median(a.preview)))
	}
	if len(results) > 0 {
		fmt.Fprintf(w, "%-14s %d/%d succeeded (%.0f%%) in %s\n", "total:", ok, len(results),
			100*float64(ok)/float64(len(results)), total.Round(time.Second))
	}
}
