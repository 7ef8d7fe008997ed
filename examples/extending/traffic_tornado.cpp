// Tornado traffic along x only: (x, y) sends to (x + ceil(W/2) - 1 mod W, y), the classic worst
// case of dimension-order routing on a ring (the registered `tornado` moves y too). Registered by
// one line in arch/noc/traffic/list.hpp:
//   SPIKECHIP_TRAFFIC(kTrafficTornadoX)
#include "arch/noc/traffic.hpp"

namespace spikechip::arch::noc {

extern const TrafficPattern kTrafficTornadoX{"tornado_x", "(x, y) -> (x + ceil(W/2) - 1 mod W, y)",
                                             [](TrafficRng&, const TrafficParams&, int src, int W, int) {
                                               return (src / W) * W + (src % W + (W + 1) / 2 - 1) % W;
                                             }};

}  // namespace spikechip::arch::noc
