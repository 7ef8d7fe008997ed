// Uniform random traffic: every other node equally likely.
#include "arch/noc/traffic.hpp"

namespace spikechip::arch::noc {

extern const TrafficPattern kTrafficUniform{"uniform", "every other node equally likely",
                                            [](TrafficRng& g, const TrafficParams&, int src, int W, int H) {
                                              return g.other_than(src, W * H);
                                            }};

}  // namespace spikechip::arch::noc
