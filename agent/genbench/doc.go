// Package genbench measures the offline agent team end to end through the real platform:
// MGX started in process (embedded FerretDB and redis-server on a temp data dir, the
// process runtime, the offline LLM), a prompt posted as a new session, and the time until
// the session's FINISH and until the dev preview `/dev/<slug>/` shows the generated
// entities. It holds tests and benchmarks only:
//
//   - BenchmarkPromptToPreview: one sample prompt per framework; `make bench` runs it
//     (scripts/bench.sh, -benchtime 1x).
//   - TestPromptCorpus (MGX_TEST_GENBENCH=1): prompts from agent/appgen/testdata/prompts.txt
//     with a table of prompt, framework, status, prompt → FINISH, prompt → preview and
//     failure reason, and the success rate; scripts/genbench.sh drives it.
//
// The test binary doubles as `mgx agent`: the process runtime starts os.Executable() with
// the argument "agent" for each run, and TestMain runs the agent team then.
package genbench
