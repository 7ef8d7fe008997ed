#pragma once
// Back ends of `spikechip sweep` (apps/cmd_sweep.cpp). The MPI one lives in apps/sweep_mpi.cpp,
// the only file that includes <mpi.h> (MPI is linked into the executable, not the library).
#include <string>

#include "explore/sweep.hpp"

namespace spikechip::cli {

struct SweepRun {
  const explore::SweepSpec* spec = nullptr;
  std::string out_dir;
  std::string command;  // the command line, for sweep.html
  bool retry_failed = false;
};

// Rank 0 owns the store and hands out points; ranks 1.. run them one at a time and send results.
// Returns the process exit code.
int run_sweep_mpi(const SweepRun& r, int* argc, char*** argv);

// Progress line on a terminal: "sweep: 5/16 done, 1 failed, 2 running, ETA 0:32".
void print_progress(const explore::SweepDriver& d, int running, double elapsed_s, int done_at_start, bool final);
// The end of every back end: results.csv, sweep.json, sweep.html and a one-line summary.
int finish_sweep(const SweepRun& r, explore::SweepStore& store, const explore::SweepDriver& d);

}  // namespace spikechip::cli
