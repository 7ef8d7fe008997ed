// The placement registry (mapper/placement.hpp).
#include "mapper/placement.hpp"

#include "base/error.hpp"
#include "base/registry.hpp"

namespace spikechip::mapper {

#define SPIKECHIP_PLACEMENT(k) extern const PlacementAlgorithm k;
#include "mapper/placement/list.hpp"
#undef SPIKECHIP_PLACEMENT

const std::vector<const PlacementAlgorithm*>& placement_algorithms() {
#define SPIKECHIP_PLACEMENT(k) &k,
  static const std::vector<const PlacementAlgorithm*> table = {
#include "mapper/placement/list.hpp"
  };
#undef SPIKECHIP_PLACEMENT
  return table;
}

std::vector<std::string> placement_names() { return names_of(placement_algorithms()); }

const PlacementAlgorithm& placement_algorithm(const std::string& name) {
  if (const PlacementAlgorithm* a = find_by_name(placement_algorithms(), name)) return *a;
  throw UsageError("mapper: placement '" + name + "' is not one of: " + join_names(placement_names()));
}

}  // namespace spikechip::mapper
