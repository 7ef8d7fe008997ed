// Dimension-order routing, X first then Y (the default): the channel dependency graph is acyclic
// because a packet never turns from Y back to X, so one VC class suffices.
#include "arch/noc/routing.hpp"

namespace spikechip::arch::noc {

namespace {
constexpr int kTable[9] = {kWest, kWest, kWest, kNorth, kLocal, kSouth, kEast, kEast, kEast};
}  // namespace

extern const RoutingFunction kRoutingXY{"xy", "dimension order, X then Y (deterministic)", false, kTable, nullptr};

}  // namespace spikechip::arch::noc
