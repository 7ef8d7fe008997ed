// `spikechip sweep FILE --backend mpi -o DIR` under mpirun: rank 0 owns the store and hands out
// points; ranks 1..K-1 each run one point at a time (as a child process, like the local back end)
// and send back the result. The output directory must be shared by all ranks (one machine, or a
// shared file system).
#include <chrono>
#include <iostream>
#include <thread>

#include <fmt/format.h>
#include <mpi.h>

#include "apps/cli.hpp"
#include "apps/sweep_backends.hpp"
#include "base/error.hpp"
#include "base/json_text.hpp"

namespace spikechip::cli {
namespace {

enum Tag : int { kRequest = 1, kResult = 2, kAssign = 3 };

// Rank 0 polls instead of blocking in MPI_Recv: Open MPI busy-waits inside a blocking receive, which
// would take a core away from the point processes.
MPI_Status wait_message() {
  MPI_Status st;
  for (;;) {
    int flag = 0;
    MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st);
    if (flag) return st;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

std::string recv_string(const MPI_Status& st) {
  int n = 0;
  MPI_Get_count(&st, MPI_CHAR, &n);
  std::string s(size_t(n), '\0');
  MPI_Recv(s.data(), n, MPI_CHAR, st.MPI_SOURCE, st.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  return s;
}

int master(const SweepRun& r, int size) {
  explore::SweepStore store(r.out_dir, *r.spec);
  explore::SweepDriver d(*r.spec, store, r.out_dir, r.retry_failed);
  const auto t0 = std::chrono::steady_clock::now();
  const int done_at_start = d.done() + d.failed();
  int workers = size - 1, running = 0;
  while (workers > 0) {
    const MPI_Status st = wait_message();
    const std::string msg = recv_string(st);
    if (st.MPI_TAG == kResult) {
      --running;
      d.complete(explore::PointResult::from_json(nlohmann::json::parse(msg), fmt::format("MPI rank {}", st.MPI_SOURCE)));
    }
    auto id = d.next();
    int assign = id ? *id : -1;
    MPI_Send(&assign, 1, MPI_INT, st.MPI_SOURCE, kAssign, MPI_COMM_WORLD);
    id ? ++running : --workers;
    print_progress(d, running, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
                   done_at_start, false);
  }
  print_progress(d, 0, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), done_at_start, true);
  return finish_sweep(r, store, d);
}

void worker(const SweepRun& r) {
  const std::string bin = explore::self_binary();
  std::string msg;  // empty = a request for the first point
  int tag = kRequest;
  for (;;) {
    MPI_Send(msg.data(), int(msg.size()), MPI_CHAR, 0, tag, MPI_COMM_WORLD);
    int id = -1;
    MPI_Recv(&id, 1, MPI_INT, 0, kAssign, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    if (id < 0) return;
    msg = json_text(explore::run_point_blocking(*r.spec, r.spec->points.at(size_t(id)), r.out_dir, bin).to_json());
    tag = kResult;
  }
}

}  // namespace

int run_sweep_mpi(const SweepRun& r, int* argc, char*** argv) {
  MPI_Init(argc, argv);
  int rank = 0, size = 1, rc = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  std::string error;
  try {
    if (size < 2)
      throw UsageError("--backend mpi needs at least 2 ranks (rank 0 keeps the store, the others run points): "
                       "mpirun -np 3 spikechip sweep FILE --backend mpi -o DIR");
    if (rank == 0) rc = master(r, size);
    else worker(r);
  } catch (const std::exception& e) {
    // One rank failing would leave the others waiting forever: report and take the job down.
    std::cerr << fmt::format("spikechip: error: MPI rank {}: {}\n", rank, e.what());
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  MPI_Finalize();
  return rank == 0 ? rc : 0;
}

}  // namespace spikechip::cli
