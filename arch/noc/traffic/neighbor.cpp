// Neighbour traffic: (x, y) sends to (x+1 mod W, y).
#include "arch/noc/traffic.hpp"

namespace spikechip::arch::noc {

extern const TrafficPattern kTrafficNeighbor{"neighbor", "(x, y) -> (x+1 mod W, y)",
                                             [](TrafficRng&, const TrafficParams&, int src, int W, int) {
                                               return (src / W) * W + (src % W + 1) % W;
                                             }};

}  // namespace spikechip::arch::noc
