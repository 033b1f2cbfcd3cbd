// Package rundir is the run directory: the append-only, versioned record of
// one rehearsal that loadgen and the engine write as it happens and that
// reports and tui read back.
//
// A run directory holds
//
//	run.json           Meta: the scenario, its steps and assertions, start/end
//	observations.jsonl one Observation per line: per request or gRPC call, per stream event
//	events.jsonl       one Event per line: AWS calls, task states, xDS pushes
//	report.json        written by reports at the end, for CI
//	report.junit.xml   the assertions as JUnit test cases, for CI
//	report.md          written by reports at the end, for people
//	report.html        the same with SVG charts
//
// Every line is a complete JSON object; a reader skips a torn last line, so a
// run cut short by Ctrl-C or a crash stays readable. See docs/run-format.md.
package rundir
