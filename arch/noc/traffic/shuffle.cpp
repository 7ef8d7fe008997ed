// Perfect-shuffle traffic (BookSim2's `shuffle`): the node number's bits rotated left by one.
// Needs a power-of-two node count (checked by the pattern's `check`).
#include "arch/noc/traffic.hpp"

namespace spikechip::arch::noc {

extern const TrafficPattern kTrafficShuffle{"shuffle", "node bits rotated left by one (power-of-two node count)",
                                            [](TrafficRng&, const TrafficParams&, int src, int W, int H) {
                                              const int n = W * H, shifted = src << 1;
                                              return (shifted & (n - 1)) | int((shifted & n) != 0);
                                            },
                                            TrafficPattern::kPowerOfTwoNodes};

}  // namespace spikechip::arch::noc
