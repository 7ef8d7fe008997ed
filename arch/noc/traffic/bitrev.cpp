// Bit-reversal traffic (BookSim2's `bitrev`): the node number's bits in reverse order. Needs a
// power-of-two node count.
#include "arch/noc/traffic.hpp"

namespace spikechip::arch::noc {

extern const TrafficPattern kTrafficBitRev{"bitrev", "node bits reversed (power-of-two node count)",
                                           [](TrafficRng&, const TrafficParams&, int src, int W, int H) {
                                             int result = 0;
                                             for (int n = W * H; n > 1; n >>= 1) {
                                               result = (result << 1) | (src & 1);
                                               src >>= 1;
                                             }
                                             return result;
                                           },
                                           TrafficPattern::kPowerOfTwoNodes};

}  // namespace spikechip::arch::noc
