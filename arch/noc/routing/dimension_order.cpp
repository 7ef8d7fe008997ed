// Dimension-order routing (deterministic): every hop in the first dimension, then every hop in the
// second. The channel dependency graph is acyclic because a packet never turns back into the
// first dimension, so one VC class suffices. One table builder, two registered orders: xy (the
// default, and the multicast trees' order) and yx.
#include <array>

#include "arch/noc/routing.hpp"

namespace spikechip::arch::noc {

namespace {
// The port per offset_index (arch/noc/routing.hpp): X first goes east/west until the column is
// reached, Y first north/south until the row is (north is -y).
constexpr std::array<int, 9> dimension_order_table(bool x_first) {
  std::array<int, 9> t{};
  for (int sx = -1; sx <= 1; ++sx)
    for (int sy = -1; sy <= 1; ++sy) {
      const int x_port = sx < 0 ? kWest : kEast, y_port = sy < 0 ? kNorth : kSouth;
      t[size_t((sx + 1) * 3 + sy + 1)] = sx == 0 && sy == 0 ? kLocal
                                         : sx == 0          ? y_port
                                         : sy == 0          ? x_port
                                         : x_first          ? x_port
                                                            : y_port;
    }
  return t;
}
constexpr std::array<int, 9> kXYTable = dimension_order_table(true), kYXTable = dimension_order_table(false);
}  // namespace

extern const RoutingFunction kRoutingXY{"xy", "dimension order, X then Y (deterministic)", false, kXYTable.data(), nullptr};
extern const RoutingFunction kRoutingYX{"yx", "dimension order, Y then X (deterministic)", false, kYXTable.data(), nullptr};

}  // namespace spikechip::arch::noc
