// What splitting a cycle-by-cycle simulation across two threads could gain on this machine (issue
// 19, "the chip simulation itself split across threads, if it pays"). A conservative split of the
// mesh whose links take one cycle must synchronise every simulated cycle, so each cycle costs
// max(work of either half) + one barrier. This program times that directly, standalone (no
// spikechip code): per simulated cycle, one thread does 2W ns of busy work (the sequential
// simulator), or two threads do W ns each and meet at a spinning sense-reversing barrier (the best
// split: perfect balance, no flits crossing the cut). It prints wall and process CPU ns per cycle
// for both, so the barrier's cost and the wall-time bound of a split are read off for the per-cycle
// work of the real runs (docs/performance.md, "Session 21").
//   cycle_barrier [cycles] [W ns ...]      (defaults: 2000000 cycles; W = 0 60 125 250 500 1000)
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>
#include <sys/resource.h>

namespace {

// A dependent integer chain the compiler cannot remove or vectorise; `iters` is calibrated to ns.
std::uint64_t spin_work(std::uint64_t iters, std::uint64_t x) {
  for (std::uint64_t i = 0; i < iters; ++i) x = x * 6364136223846793005ULL + 1442695040888963407ULL;
  return x;
}

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct alignas(64) Barrier {
  std::atomic<int> waiting{0};
  alignas(64) std::atomic<int> sense{0};
  void wait(int& local_sense) {
    local_sense ^= 1;
    if (waiting.fetch_add(1, std::memory_order_acq_rel) == 1) {
      waiting.store(0, std::memory_order_relaxed);
      sense.store(local_sense, std::memory_order_release);
    } else {
      while (sense.load(std::memory_order_acquire) != local_sense) __builtin_ia32_pause();
    }
  }
};

struct Figure { double wall_ns, cpu_ns; };

Figure sequential(long cycles, std::uint64_t iters2w, std::uint64_t& sink) {
  double c0 = cpu_seconds(), t0 = now();
  std::uint64_t x = sink;
  for (long c = 0; c < cycles; ++c) x = spin_work(iters2w, x);
  sink = x;
  return {(now() - t0) * 1e9 / cycles, (cpu_seconds() - c0) * 1e9 / cycles};
}

Figure split(long cycles, std::uint64_t iters_w, std::uint64_t& sink) {
  Barrier b;
  std::uint64_t other = 0;
  double c0 = cpu_seconds(), t0 = now();
  std::thread t([&] {
    int s = 0;
    std::uint64_t x = 7;
    for (long c = 0; c < cycles; ++c) { x = spin_work(iters_w, x); b.wait(s); }
    other = x;
  });
  int s = 0;
  std::uint64_t x = sink;
  for (long c = 0; c < cycles; ++c) { x = spin_work(iters_w, x); b.wait(s); }
  t.join();
  sink = x ^ other;
  return {(now() - t0) * 1e9 / cycles, (cpu_seconds() - c0) * 1e9 / cycles};
}

}  // namespace

int main(int argc, char** argv) {
  long cycles = argc > 1 ? std::atol(argv[1]) : 2000000;
  if (cycles <= 0) {
    std::fprintf(stderr, "usage: cycle_barrier [cycles > 0] [W ns ...]\n");
    return 2;
  }
  std::vector<double> ws;
  for (int i = 2; i < argc; ++i) ws.push_back(std::atof(argv[i]));
  if (ws.empty()) ws = {0, 60, 125, 250, 500, 1000};
  // Calibrate: ns per iteration of the chain over ~0.2 s.
  std::uint64_t sink = 1, calib = 50'000'000;
  double t0 = now();
  sink = spin_work(calib, sink);
  const double ns_per_iter = (now() - t0) * 1e9 / calib;
  unsigned hw = std::thread::hardware_concurrency();
  std::printf("cores %u, %.3f ns per work step, %ld cycles per point\n", hw, ns_per_iter, cycles);
  std::printf("%8s %14s %14s %14s %14s %10s\n", "W ns", "seq wall/cyc", "split wall/cyc",
              "split cpu/cyc", "barrier ns", "wall gain");
  for (double w : ws) {
    auto iters = static_cast<std::uint64_t>(w / ns_per_iter + 0.5);
    Figure seq = sequential(cycles, 2 * iters, sink);
    Figure par = split(cycles, iters, sink);
    // Barrier cost: the split's wall per cycle beyond the work one thread does in it.
    double work_w = seq.wall_ns / 2;
    std::printf("%8.0f %14.1f %14.1f %14.1f %14.1f %10.2f\n", w, seq.wall_ns, par.wall_ns, par.cpu_ns,
                par.wall_ns - work_w, seq.wall_ns / par.wall_ns);
  }
  std::fprintf(stderr, "(checksum %llu)\n", static_cast<unsigned long long>(sink));
  return 0;
}
