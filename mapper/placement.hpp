#pragma once
// Placement algorithms, one registry (docs/extending.md, "A placement"): `--placement NAME` of
// `map` / `run`, the sweep key `map.placement` and the docs read the name table. Each algorithm
// is one file in mapper/placement/ plus one line in mapper/placement/list.hpp. An algorithm gives
// the cores of one phase's groups; the mapper then optionally refines them by simulated
// annealing (the `anneal` flag) and routes.
#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "mapper/mapper.hpp"

namespace spikechip::mapper {

// Deterministic random numbers: mt19937_64's output sequence is fixed by the standard, the
// std distributions are not, so bounded draws are done here.
struct Rng {
  std::mt19937_64 gen;
  explicit Rng(uint64_t seed) : gen(seed) {}
  uint64_t below(uint64_t n) { return gen() % n; }
  double unit() { return double(gen() >> 11) * (1.0 / 9007199254740992.0); }
};

struct PlacementContext {
  const Mapping& m;              // groups, routes and mesh (m.mesh_w x m.mesh_h cores)
  const std::vector<int>& members;  // group ids of the phase being placed, ascending
  // Expected packets per timestep between groups (symmetric; -1 = the host port), per group.
  const std::vector<std::vector<std::pair<int, double>>>& traffic;
  uint64_t seed;
  Rng& rng;  // one stream over all phases, seeded with `seed`
};

struct PlacementAlgorithm {
  const char* name;
  const char* help;  // one line for the docs and --help
  // Writes core_of[g] (distinct cores of the mesh) for every g in ctx.members.
  void (*place)(PlacementContext& ctx, std::vector<int>& core_of);
  bool anneal;  // then refined by simulated annealing
};

const std::vector<const PlacementAlgorithm*>& placement_algorithms();  // list.hpp order
std::vector<std::string> placement_names();
// Throws spikechip::UsageError "mapper: placement 'x' is not one of: naive, ...".
const PlacementAlgorithm& placement_algorithm(const std::string& name);

// Boustrophedon order: the i-th core along rows, every other row reversed (shared by placements).
inline int snake_core(int i, int w) {
  const int y = i / w, x = i % w;
  return y * w + (y % 2 ? w - 1 - x : x);
}

}  // namespace spikechip::mapper
