// In-process baseline of scripts/bench/cosim: the same golden run as one `run` request of the
// cosim server (executor built once, B inputs, then the report), timed without the socket.
//   cosim_inproc MODEL_DIR X.npy T REPEAT  ->  prints "per_run_s <best> <median>"
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "models/executor.hpp"
#include "models/graph_io.hpp"
#include "models/inputs.hpp"
#include "report/golden_report.hpp"

int main(int argc, char** argv) {
  using namespace spikechip::model;
  if (argc != 5) {
    std::fprintf(stderr, "usage: cosim_inproc MODEL_DIR X.npy T REPEAT\n");
    return 2;
  }
  const Graph g = load_model(argv[1]);
  const auto items = read_inputs(argv[2], g);
  const int T = std::atoi(argv[3]), repeat = std::atoi(argv[4]);
  GoldenExecutor ex(g);
  RunOptions o;
  o.threads = 1;  // as the server's default --exec-threads
  std::vector<double> times;
  for (int r = 0; r < repeat; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<RunResult> runs;
    std::vector<spikechip::report::ReportOptions> ro(items.size());
    for (const auto& it : items) runs.push_back(ex.run_item(it, T, o));
    const auto rep = spikechip::report::make_golden_report(g, runs, ro);
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    if (rep["inputs"].size() != items.size()) return 1;
  }
  std::sort(times.begin(), times.end());
  std::printf("per_run_s %.6f %.6f\n", times.front(), times[times.size() / 2]);
  return 0;
}
