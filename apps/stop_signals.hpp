// Ctrl-C (SIGINT), SIGTERM (kill, timeout, a Slurm time limit) and SIGHUP (a closed terminal) as a
// request to stop, for the long-running commands: the first sets a flag they poll (`run` stops the
// chip and writes a partial report, `sweep` stops its points and writes the results so far, both
// exit kRunPartialExit) and prints one line saying so; a second one quits at once. A signal that
// was ignored when the process started (SIGINT of a background job, SIGHUP under nohup) stays
// ignored, as a shell user expects.
#pragma once

#include <atomic>
#include <string>

namespace spikechip::cli {

// Installs the handlers (again is harmless). `what` completes the line printed on the first
// signal: "spikechip: SIGINT received: <what>; send it again to quit at once".
void catch_stop_signals(const char* what);

// The flag the first signal sets.
const std::atomic<bool>& stop_requested();

// The first signal's number, 0 when none came.
int stop_signal();

// "interrupted (SIGINT)" for the first signal; "interrupted" when none came.
std::string stop_reason();

// Ends the process as the first stop signal would have without a handler (the shell and a sweep
// see "killed by SIGTERM"): for a command stopped where it has nothing to write.
[[noreturn]] void die_of_stop_signal();

}  // namespace spikechip::cli
