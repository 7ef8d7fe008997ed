// `spikechip sweep --backend mpi` in a build without MPI (CMake found no MPI; apps/sweep_mpi.cpp
// is then left out): one clear error instead of the back end.
#include "apps/sweep_backends.hpp"
#include "base/error.hpp"

namespace spikechip::cli {

int run_sweep_mpi(const SweepRun&, int*, char***) {
  throw Error("this spikechip was built without MPI, so '--backend mpi' is not available; use --backend local "
              "or slurm, or install an MPI (Debian: libopenmpi-dev) and rebuild");
}

}  // namespace spikechip::cli
