#pragma once
// Routing functions of the mesh, one registry (docs/extending.md, "A routing function"): the
// router (arch/noc/network_impl.hpp) and the mapper's route and link-load estimate
// (mapper/place_and_route.cpp) use the same RoutingFunction object, looked up once by the name in
// the chip config (`router.routing`); the name table also drives config validation, the CLI
// choices and the docs. Each function is one file in arch/noc/routing/ plus one line in
// arch/noc/routing/list.hpp (xy and yx share dimension_order.cpp, one table builder).
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace spikechip::arch::noc {

enum Port : int { kNorth = 0, kEast = 1, kSouth = 2, kWest = 3, kLocal = 4, kNumPorts = 5 };
const char* port_name(int p);
inline int opposite(int p) { return (p + 2) & 3; }  // the port facing p's link at its far end (N..W)

// Index 0..8 of the signs of the offsets from (x, y) to (dx, dy): 3 * (sign(dx - x) + 1) +
// sign(dy - y) + 1 (4: arrived).
inline int offset_index(int x, int y, int dx, int dy) {
  return ((dx > x) - (dx < x) + 1) * 3 + (dy > y) - (dy < y) + 1;
}

struct RoutingFunction {
  const char* name;
  const char* help;  // one line for the docs and --help
  // Adaptive: ports() may offer two productive ports; the router takes the one whose output VCs
  // have the most credits (the first on a tie), the mapper's estimate takes the first.
  // Deterministic functions offer exactly one, so a head waiting for a VC waits on that port.
  bool adaptive = false;
  // Deterministic functions of the offset signs only (dimension order) give their port per
  // offset_index here, which the router reads inline; others leave it null and give ports().
  const int* sign_table = nullptr;
  // The productive output ports from router (x, y) toward (dx, dy), preferred first, into out;
  // returns how many (0: arrived; kLocal). Must be minimal and deadlock-free together with the
  // XY multicast trees (every turn of an XY path must be allowed).
  int (*ports)(int x, int y, int dx, int dy, int out[2]) = nullptr;

  // One port (the first preference): the router's deterministic path, the mapper's estimate.
  int first_port(int x, int y, int dx, int dy) const {
    if (sign_table) return sign_table[offset_index(x, y, dx, dy)];
    int out[2];
    return ports(x, y, dx, dy, out) ? out[0] : kLocal;
  }
};

// The registered functions, in list.hpp order.
const std::vector<const RoutingFunction*>& routing_functions();
// Throws spikechip::Error "<what>: unknown routing 'name' (use xy, yx or west_first)".
const RoutingFunction& routing_function(const std::string& name, const std::string& what = "router.routing");
std::vector<std::string> routing_names();
// Multicast packets fork along the XY tree under every routing function (arch/noc/network_impl.hpp, allocate()).
const RoutingFunction& multicast_routing();
// At router (x, y) the XY tree splits a destination set into the parts west of it, above it in
// its column, itself, below it and east of it. With the destinations as sorted column-major keys
// (column_key) each part is a contiguous slice, which is how both network models fork. The
// output port of each part, in that order (throws if multicast_routing() is not XY).
const int* multicast_part_ports();
inline uint32_t column_key(int node, int width, int height) {
  return uint32_t(node % width) * uint32_t(height) + uint32_t(node / width);
}
inline int node_of_column_key(uint32_t k, int width, int height) {
  return int(k % uint32_t(height)) * width + int(k / uint32_t(height));
}

// The links (from, to) a packet from `src` to `dests` crosses on a W-wide mesh, as the network
// routes it (first preferences): one destination -> the routing function's path; several ->
// the XY tree, forking where the destinations' XY ports differ, a branch left with one
// destination continuing by the routing function (arch/noc/network_impl.hpp, allocate()). Appended to out;
// links of a multicast tree once each.
void route_links(const RoutingFunction& rf, int W, int src, const std::vector<int>& dests,
                 std::vector<std::pair<int, int>>& out);

}  // namespace spikechip::arch::noc
