// Hotspot traffic: a share (hotspot_fraction) of the packets goes to a hotspot node (uniformly
// among --hotspot-nodes, the centre node when none are given), the rest is uniform. With
// --hotspot-fraction 1 every packet goes to a hotspot, BookSim2's `hotspot` with equal rates.
#include "arch/noc/traffic.hpp"

namespace spikechip::arch::noc {

extern const TrafficPattern kTrafficHotspot{
    "hotspot", "hotspot_fraction of the packets to the hotspot nodes (default: the centre node), the rest uniform",
    [](TrafficRng& g, const TrafficParams& tp, int src, int W, int H) {
      if (tp.hotspot_nodes.empty()) {
        const int hot = (H / 2) * W + W / 2;
        return (g.uniform() < tp.hotspot_fraction && src != hot) ? hot : g.other_than(src, W * H);
      }
      if (g.uniform() < tp.hotspot_fraction) return tp.hotspot_nodes[size_t(g.below(int(tp.hotspot_nodes.size())))];
      return g.other_than(src, W * H);
    }};

}  // namespace spikechip::arch::noc
