// Naive placement: the phase's groups on cores 0, 1, 2, ... in group order (the baseline).
#include "mapper/placement.hpp"

namespace spikechip::mapper {

extern const PlacementAlgorithm kPlacementNaive{
    "naive", "groups on cores 0, 1, 2, ... in graph order (baseline)",
    [](PlacementContext& ctx, std::vector<int>& core_of) {
      for (size_t i = 0; i < ctx.members.size(); ++i) core_of[size_t(ctx.members[i])] = int(i);
    },
    false};

}  // namespace spikechip::mapper
