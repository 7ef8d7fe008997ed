// The registered routing functions (arch/noc/routing.hpp): one line each, the name of the
// RoutingFunction constant its file in this folder defines. Order = order in docs and --help.
SPIKECHIP_ROUTING(kRoutingXY)
SPIKECHIP_ROUTING(kRoutingYX)
SPIKECHIP_ROUTING(kRoutingWestFirst)
