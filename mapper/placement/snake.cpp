// Snake placement: groups in graph order along a boustrophedon path (neighbours in the graph land
// on neighbouring cores); `anneal` (the default) refines it by simulated annealing.
#include "mapper/placement.hpp"

namespace spikechip::mapper {

namespace {
void snake(PlacementContext& ctx, std::vector<int>& core_of) {
  for (size_t i = 0; i < ctx.members.size(); ++i) core_of[size_t(ctx.members[i])] = snake_core(int(i), ctx.m.mesh_w);
}
}  // namespace

extern const PlacementAlgorithm kPlacementSnake{"snake", "graph order along a boustrophedon path", snake, false};
extern const PlacementAlgorithm kPlacementAnneal{
    "anneal", "snake, then simulated annealing of the packet-hops (default)", snake, true};

}  // namespace spikechip::mapper
