// West-first turn model (Glass & Ni), minimal adaptive: all west hops first; then any productive
// direction among E/N/S, the router choosing by free credits. The forbidden turns (N->W, S->W)
// break every cycle of channel dependencies; the XY multicast tree's turns are all allowed.
#include "arch/noc/routing.hpp"

namespace spikechip::arch::noc {

namespace {
int west_first_ports(int x, int y, int dx, int dy, int out[2]) {
  if (dx < x) {
    out[0] = kWest;
    return 1;
  }
  int n = 0;
  if (dx > x) out[n++] = kEast;
  if (dy > y) out[n++] = kSouth;
  if (dy < y) out[n++] = kNorth;
  return n;
}
}  // namespace

extern const RoutingFunction kRoutingWestFirst{"west_first", "west-first turn model, minimal adaptive by free credits",
                                               true, nullptr, west_first_ports};

}  // namespace spikechip::arch::noc
