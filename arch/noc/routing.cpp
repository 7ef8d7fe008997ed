// The routing-function registry (arch/noc/routing.hpp) and the routes it implies.
#include "arch/noc/routing.hpp"

#include <algorithm>
#include <array>

#include "base/error.hpp"
#include "base/registry.hpp"

namespace spikechip::arch::noc {

#define SPIKECHIP_ROUTING(k) extern const RoutingFunction k;
#include "arch/noc/routing/list.hpp"
#undef SPIKECHIP_ROUTING

const char* port_name(int p) {
  static const char* names[] = {"N", "E", "S", "W", "L"};
  return (p >= 0 && p < kNumPorts) ? names[p] : "?";
}

const std::vector<const RoutingFunction*>& routing_functions() {
#define SPIKECHIP_ROUTING(k) &k,
  static const std::vector<const RoutingFunction*> table = {
#include "arch/noc/routing/list.hpp"
  };
#undef SPIKECHIP_ROUTING
  return table;
}

std::vector<std::string> routing_names() { return names_of(routing_functions()); }

const RoutingFunction& routing_function(const std::string& name, const std::string& what) {
  if (const RoutingFunction* f = find_by_name(routing_functions(), name)) return *f;
  throw Error(what + ": unknown routing '" + name + "' (use " + join_names(routing_names(), " or ") + ")");
}

const RoutingFunction& multicast_routing() { return routing_function("xy"); }

namespace {

int step(int node, int port, int W) {
  switch (port) {
    case kNorth: return node - W;
    case kSouth: return node + W;
    case kEast: return node + 1;
    case kWest: return node - 1;
  }
  return node;
}

void unicast_links(const RoutingFunction& rf, int W, int node, int dest, std::vector<std::pair<int, int>>& out) {
  for (;;) {
    const int port = rf.first_port(node % W, node / W, dest % W, dest / W);
    if (port == kLocal) return;
    const int next = step(node, port, W);
    out.push_back({node, next});
    node = next;
  }
}

void tree_links(const RoutingFunction& rf, const RoutingFunction& tree, int W, int node, const std::vector<int>& dests,
                std::vector<std::pair<int, int>>& out) {
  if (dests.size() == 1) return unicast_links(rf, W, node, dests[0], out);
  std::vector<int> sub[kNumPorts];
  for (int d : dests) sub[tree.first_port(node % W, node / W, d % W, d / W)].push_back(d);
  for (int port = 0; port < kLocal; ++port) {
    if (sub[port].empty()) continue;
    const int next = step(node, port, W);
    out.push_back({node, next});
    tree_links(rf, tree, W, next, sub[port], out);
  }
}

}  // namespace

const int* multicast_part_ports() {
  static const std::array<int, 5> ports = [] {
    // sign_table index: (sign dx + 1) * 3 + sign dy + 1 (offset_index). The trees are XY: where
    // dx != 0 the port depends on its sign only (the forks rely on it).
    const int* mc = multicast_routing().sign_table;
    bool xy = mc != nullptr;
    for (int sx : {0, 2})
      for (int sy = 0; sy < 3; ++sy) xy = xy && mc[sx * 3 + sy] == mc[sx * 3 + 1];
    if (!xy) throw Error("internal: the multicast routing is not XY (arch/noc/routing.cpp multicast_routing)");
    const int idx[5] = {0 * 3 + 1, 1 * 3 + 0, 1 * 3 + 1, 1 * 3 + 2, 2 * 3 + 1};  // W, N, here, S, E
    std::array<int, 5> out{};
    for (int j = 0; j < 5; ++j) out[size_t(j)] = mc[idx[j]];
    return out;
  }();
  return ports.data();
}

void route_links(const RoutingFunction& rf, int W, int src, const std::vector<int>& dests,
                 std::vector<std::pair<int, int>>& out) {
  if (dests.empty()) return;
  tree_links(rf, multicast_routing(), W, src, dests, out);
}

}  // namespace spikechip::arch::noc
