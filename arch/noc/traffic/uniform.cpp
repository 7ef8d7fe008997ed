// Uniform random traffic: every other node equally likely; with self_send (--self-send) every
// node including the source, BookSim2's `uniform` convention.
#include "arch/noc/traffic.hpp"

namespace spikechip::arch::noc {

extern const TrafficPattern kTrafficUniform{"uniform", "every other node equally likely (--self-send: every node)",
                                            [](TrafficRng& g, const TrafficParams& tp, int src, int W, int H) {
                                              return tp.self_send ? g.below(W * H) : g.other_than(src, W * H);
                                            }};

}  // namespace spikechip::arch::noc
