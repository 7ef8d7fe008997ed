// Random placement: a seeded random permutation of the cores (a baseline for the others).
#include <numeric>

#include "mapper/placement.hpp"

namespace spikechip::mapper {

extern const PlacementAlgorithm kPlacementRandom{
    "random", "a seeded random permutation of the cores (baseline)",
    [](PlacementContext& ctx, std::vector<int>& core_of) {
      const int ncores = ctx.m.mesh_w * ctx.m.mesh_h;
      std::vector<int> perm(static_cast<size_t>(ncores));
      std::iota(perm.begin(), perm.end(), 0);
      for (int i = ncores - 1; i > 0; --i) std::swap(perm[size_t(i)], perm[ctx.rng.below(uint64_t(i) + 1)]);
      for (size_t i = 0; i < ctx.members.size(); ++i) core_of[size_t(ctx.members[i])] = perm[i];
    },
    false};

}  // namespace spikechip::mapper
