// North-last turn model (Glass & Ni), minimal adaptive: a packet that must go north does so
// last, so it never turns out of the north direction. XY multicast trees only turn into north
// (E->N, W->N), which is allowed. Registered by one line in arch/noc/routing/list.hpp:
//   SPIKECHIP_ROUTING(kRoutingNorthLast)
#include "arch/noc/routing.hpp"

namespace spikechip::arch::noc {

namespace {
int north_last_ports(int x, int y, int dx, int dy, int out[2]) {
  int n = 0;
  if (dx > x) out[n++] = kEast;
  if (dx < x) out[n++] = kWest;
  if (dy > y) out[n++] = kSouth;
  if (n == 0 && dy < y) out[n++] = kNorth;  // north only when nothing else is left
  return n;
}
}  // namespace

extern const RoutingFunction kRoutingNorthLast{"north_last", "north-last turn model, minimal adaptive by free credits",
                                               true, nullptr, north_last_ports};

}  // namespace spikechip::arch::noc
