// Hotspot traffic: a share (hotspot_fraction) of the packets goes to the centre node, the rest
// is uniform.
#include "arch/noc/traffic.hpp"

namespace spikechip::arch::noc {

extern const TrafficPattern kTrafficHotspot{"hotspot", "hotspot_fraction of the packets to the centre node, the rest uniform",
                                            [](TrafficRng& g, const TrafficParams& tp, int src, int W, int H) {
                                              const int hot = (H / 2) * W + W / 2;
                                              return (g.uniform() < tp.hotspot_fraction && src != hot)
                                                         ? hot
                                                         : g.other_than(src, W * H);
                                            }};

}  // namespace spikechip::arch::noc
