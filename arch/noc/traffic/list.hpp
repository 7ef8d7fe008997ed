// The registered traffic patterns (arch/noc/traffic.hpp): one line each, the name of the
// TrafficPattern constant its file in this folder defines. Order = order in docs and --help.
SPIKECHIP_TRAFFIC(kTrafficUniform)
SPIKECHIP_TRAFFIC(kTrafficTranspose)
SPIKECHIP_TRAFFIC(kTrafficBitComp)
SPIKECHIP_TRAFFIC(kTrafficHotspot)
SPIKECHIP_TRAFFIC(kTrafficNeighbor)
SPIKECHIP_TRAFFIC(kTrafficTornado)
SPIKECHIP_TRAFFIC(kTrafficShuffle)
SPIKECHIP_TRAFFIC(kTrafficBitRev)
SPIKECHIP_TRAFFIC(kTrafficRandPerm)
