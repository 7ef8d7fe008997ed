// Dimension-order routing, Y first then X: as XY with the dimensions swapped.
#include "arch/noc/routing.hpp"

namespace spikechip::arch::noc {

namespace {
constexpr int kTable[9] = {kNorth, kWest, kSouth, kNorth, kLocal, kSouth, kNorth, kEast, kSouth};
}  // namespace

extern const RoutingFunction kRoutingYX{"yx", "dimension order, Y then X (deterministic)", false, kTable, nullptr};

}  // namespace spikechip::arch::noc
