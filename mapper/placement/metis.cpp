// METIS placement: recursive bisection of the phase's traffic graph into mesh halves
// (mapper/metis_place.hpp); `metis-anneal` refines it by simulated annealing.
#include <map>

#include "mapper/metis_place.hpp"
#include "mapper/placement.hpp"

namespace spikechip::mapper {

namespace {
void metis(PlacementContext& ctx, std::vector<int>& core_of) {
  // The phase's traffic graph on local indices (other phases and the host are not vertices).
  const std::vector<int>& mem = ctx.members;
  const int n = int(mem.size());
  std::map<int, int> local;
  for (int i = 0; i < n; ++i) local[mem[size_t(i)]] = i;
  std::vector<std::vector<std::pair<int, double>>> nb(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i)
    for (const auto& [o, wt] : ctx.traffic[size_t(mem[size_t(i)])])
      if (o >= 0 && local.count(o)) nb[size_t(i)].push_back({local[o], wt});
  const std::vector<int> cores = metis_place(ctx.m.mesh_w, ctx.m.mesh_h, nb, ctx.seed);
  for (int i = 0; i < n; ++i) core_of[size_t(mem[size_t(i)])] = cores[size_t(i)];
}
}  // namespace

extern const PlacementAlgorithm kPlacementMetis{"metis", "METIS recursive bisection of the traffic graph", metis, false};
extern const PlacementAlgorithm kPlacementMetisAnneal{"metis-anneal", "metis, then simulated annealing", metis, true};

}  // namespace spikechip::mapper
