// Transpose traffic: (x, y) sends to (y, x) (wrapped on a non-square mesh).
#include "arch/noc/traffic.hpp"

namespace spikechip::arch::noc {

extern const TrafficPattern kTrafficTranspose{"transpose", "(x, y) -> (y, x)",
                                              [](TrafficRng&, const TrafficParams&, int src, int W, int H) {
                                                const int x = src % W, y = src / W;
                                                return (x % H) * W + (y % W);
                                              }};

}  // namespace spikechip::arch::noc
