// Column placement: groups in graph order down the columns of the mesh, then refined by
// simulated annealing. Registered by one line in mapper/placement/list.hpp:
//   SPIKECHIP_PLACEMENT(kPlacementColumns)
#include "mapper/placement.hpp"

namespace spikechip::mapper {

extern const PlacementAlgorithm kPlacementColumns{
    "columns", "graph order down the columns, then simulated annealing",
    [](PlacementContext& ctx, std::vector<int>& core_of) {
      const int w = ctx.m.mesh_w, h = ctx.m.mesh_h;
      for (size_t i = 0; i < ctx.members.size(); ++i) core_of[size_t(ctx.members[i])] = int(i) % h * w + int(i) / h;
    },
    true};

}  // namespace spikechip::mapper
