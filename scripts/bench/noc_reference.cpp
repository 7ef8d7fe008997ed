// Baseline for scripts/bench/noc: the simplest cycle-by-cycle mesh simulator one would write --
// every router visited every cycle, one FIFO per input port, XY routing per flit, round-robin
// output arbitration, one-cycle links, space checked on the downstream FIFO, a coin per node per
// cycle for injection. No activity tracking. Like spikechip it models the router pipeline: a flit
// may leave a router `pipeline` cycles after it arrived (the same latency as our model, so both
// saturate at comparable loads). Prints link flit-hops and CPU seconds of the loop.
#include <ctime>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <random>
#include <vector>

struct Flit { int dest; long ready; };

int main(int argc, char** argv) {
  if (argc < 6) {
    std::fprintf(stderr, "usage: noc_reference W H rate packet_size cycles [depth] [pipeline]\n");
    return 2;
  }
  const int W = std::atoi(argv[1]), H = std::atoi(argv[2]);
  const double rate = std::atof(argv[3]);
  const int S = std::atoi(argv[4]);
  const long cycles = std::atol(argv[5]);
  const size_t depth = argc > 6 ? std::atoi(argv[6]) : 8;
  const long pipeline = argc > 7 ? std::atol(argv[7]) : 0;
  const int N = W * H;
  // ports: 0 N, 1 E, 2 S, 3 W, 4 local-in
  std::vector<std::deque<Flit>> in(N * 5);
  std::vector<std::deque<Flit>> srcq(N);
  std::vector<int> rr(N * 5, 0);
  struct Move { int node, port; Flit f; };
  std::vector<Move> moves;
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<double> coin(0, 1);
  const double p = rate / S;
  uint64_t hops = 0, delivered = 0;
  const std::clock_t t0 = std::clock();
  for (long c = 0; c < cycles; ++c) {
    for (int n = 0; n < N; ++n)
      if (coin(rng) < p) {
        int d = int(rng() % (N - 1));
        if (d >= n) ++d;
        for (int k = 0; k < S; ++k) srcq[n].push_back({d, 0});
      }
    moves.clear();
    for (int n = 0; n < N; ++n) {
      const int x = n % W, y = n / W;
      bool out_used[5] = {false, false, false, false, false};
      for (int k = 0; k < 5; ++k) {
        const int ip = (rr[n] + k) % 5;
        auto& q = in[n * 5 + ip];
        if (q.empty() || q.front().ready > c) continue;
        const int d = q.front().dest, dx = d % W, dy = d / W;
        const int op = dx > x ? 1 : dx < x ? 3 : dy > y ? 2 : dy < y ? 0 : 4;
        if (out_used[op]) continue;
        if (op != 4) {
          const int nb = op == 0 ? n - W : op == 1 ? n + 1 : op == 2 ? n + W : n - 1;
          if (in[nb * 5 + ((op + 2) & 3)].size() >= depth) continue;
          moves.push_back({nb, (op + 2) & 3, {d, c + 1 + pipeline}});
          ++hops;
        } else {
          ++delivered;
        }
        out_used[op] = true;
        q.pop_front();
      }
      rr[n] = (rr[n] + 1) % 5;
      if (!srcq[n].empty() && in[n * 5 + 4].size() < depth) {
        in[n * 5 + 4].push_back({srcq[n].front().dest, c + 1 + pipeline});
        srcq[n].pop_front();
      }
    }
    for (auto& m : moves) in[m.node * 5 + m.port].push_back(m.f);
  }
  const double s = double(std::clock() - t0) / CLOCKS_PER_SEC;
  std::printf("flit-hops %llu delivered %llu seconds %.6f\n", (unsigned long long)hops, (unsigned long long)delivered, s);
  return 0;
}
