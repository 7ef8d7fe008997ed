// Bit-complement traffic: (x, y) sends to (W-1-x, H-1-y).
#include "arch/noc/traffic.hpp"

namespace spikechip::arch::noc {

extern const TrafficPattern kTrafficBitComp{"bitcomp", "(x, y) -> (W-1-x, H-1-y)",
                                            [](TrafficRng&, const TrafficParams&, int src, int W, int H) {
                                              const int x = src % W, y = src / W;
                                              return (H - 1 - y) * W + (W - 1 - x);
                                            }};

}  // namespace spikechip::arch::noc
