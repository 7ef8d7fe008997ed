// Random-permutation traffic (BookSim2's `randperm`): each node sends to a fixed partner, the
// pairing a permutation of the nodes drawn once per run from --seed (Fisher-Yates over
// std::mt19937_64; the same seed gives the same permutation on every platform). A node may be
// its own partner, as in BookSim.
#include <random>
#include <vector>

#include "arch/noc/traffic.hpp"

namespace spikechip::arch::noc {

extern const TrafficPattern kTrafficRandPerm{
    "randperm", "a random permutation of the nodes, fixed per seed",
    [](TrafficRng&, const TrafficParams& tp, int src, int W, int H) {
      // The permutation of the last (seed, size) asked for, per thread: one draw per run.
      thread_local uint64_t seed = 0;
      thread_local std::vector<int> perm;
      const int n = W * H;
      if (int(perm.size()) != n || seed != tp.seed) {
        perm.resize(n);
        for (int i = 0; i < n; ++i) perm[i] = i;
        std::mt19937_64 rng(tp.seed ^ 0x7065726dull);
        for (int i = n - 1; i > 0; --i) std::swap(perm[i], perm[int(rng() % uint64_t(i + 1))]);
        seed = tp.seed;
      }
      return perm[src];
    }};

}  // namespace spikechip::arch::noc
