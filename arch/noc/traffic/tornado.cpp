// Tornado traffic (BookSim2's `tornado`): every coordinate moves ceil(k/2) - 1 places forward,
// (x, y) -> (x + ceil(W/2) - 1 mod W, y + ceil(H/2) - 1 mod H): the worst case of
// dimension-order routing on a ring, and a long, unbalanced pattern on a mesh.
#include "arch/noc/traffic.hpp"

namespace spikechip::arch::noc {

extern const TrafficPattern kTrafficTornado{"tornado", "(x, y) -> (x + ceil(W/2) - 1 mod W, y + ceil(H/2) - 1 mod H)",
                                            [](TrafficRng&, const TrafficParams&, int src, int W, int H) {
                                              const int x = src % W, y = src / W;
                                              return ((y + (H + 1) / 2 - 1) % H) * W + (x + (W + 1) / 2 - 1) % W;
                                            }};

}  // namespace spikechip::arch::noc
