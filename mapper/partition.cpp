// Partition (docs/mapper.md): each cluster is cut into groups, one core's share each, by channel
// chunks and spatial tiles that fit the core's weight and membrane SRAM, under the split policy
// (min-cores | channels-first); a layer that fits no core at its smallest group is named.
#include <algorithm>
#include <optional>
#include <tuple>

#include <fmt/format.h>

#include "base/error.hpp"
#include "mapper/internal.hpp"
#include "mapper/mapper.hpp"

namespace spikechip::mapper {

using model::Graph;
using detail::ceil_div;
using detail::cluster_label;
using detail::fmt_bytes;

namespace {
struct Split {
  int cc = 0, th = 0, tw = 0, nc = 0, ty = 0, tx = 0;
  int64_t groups() const { return int64_t(nc) * ty * tx; }
};

int64_t group_membrane(const Cluster& c, int cc, int th, int tw) {
  int64_t heads = c.sdsa ? cc / (c.shape.c / c.heads) : 0;
  return int64_t(cc) * th * tw * c.mem_bytes_per_neuron + heads * c.mem_bytes_per_head;
}

}  // namespace

int64_t group_membrane_bytes(const Cluster& c, const Box& b) {
  return group_membrane(c, b.c1 - b.c0, b.y1 - b.y0, b.x1 - b.x0);
}

namespace {
// The best split of `c` under `policy`, or none when its smallest group fits no core.
std::optional<Split> try_split(const Cluster& c, const arch::CoreConfig& core, const std::string& policy) {
  const int C = c.shape.c, H = c.shape.h, W = c.shape.w;
  const int unit = c.sdsa ? C / c.heads : 1;  // SDSA: whole heads
  std::optional<Split> best;
  auto better = [&](const Split& a, const Split& b) {
    int64_t ha = int64_t(a.th) + a.tw, hb = int64_t(b.th) + b.tw;
    if (policy == "channels-first")
      return std::tuple(int64_t(a.ty) * a.tx, a.groups(), ha) < std::tuple(int64_t(b.ty) * b.tx, b.groups(), hb);
    return std::tuple(a.groups(), int64_t(a.ty) * a.tx, ha) < std::tuple(b.groups(), int64_t(b.ty) * b.tx, hb);
  };
  int prev_cc = -1;
  for (int nc = 1; nc <= C / unit; ++nc) {
    int cc = ceil_div(C / unit, nc) * unit;
    if (cc == prev_cc) continue;
    prev_cc = cc;
    if (int64_t(cc) * c.weight_bytes_per_channel > core.weight_sram_bytes) continue;
    Split s;
    s.cc = cc, s.nc = ceil_div(C, cc);
    if (c.sdsa) {  // all tokens of a head on one core
      if (group_membrane(c, cc, H, W) > core.membrane_sram_bytes) continue;
      s.th = H, s.tw = W, s.ty = 1, s.tx = 1;
    } else {
      int64_t max_pix = core.membrane_sram_bytes / (int64_t(cc) * std::max<int64_t>(1, c.mem_bytes_per_neuron));
      if (max_pix < 1) continue;
      std::optional<Split> bs;
      for (int ty = 1; ty <= H; ++ty) {
        int th = ceil_div(H, ty);
        if (ty > 1 && th == ceil_div(H, ty - 1)) continue;
        int64_t tw_max = std::min<int64_t>(W, max_pix / th);
        if (tw_max < 1) continue;
        int tx = ceil_div(W, tw_max), tw = ceil_div(W, tx);
        Split t = s;
        t.th = th, t.tw = tw, t.ty = ceil_div(H, th), t.tx = ceil_div(W, tw);
        if (!bs || better(t, *bs)) bs = t;
      }
      if (!bs) continue;
      s = *bs;
    }
    if (!best || better(s, *best)) best = s;
  }
  return best;
}

Split choose_split(const Graph& g, const Cluster& c, const arch::CoreConfig& core, const std::string& policy) {
  const std::optional<Split> best = try_split(c, core, policy);
  if (!best) {
    const int C = c.shape.c, H = c.shape.h, W = c.shape.w;
    const int unit = c.sdsa ? C / c.heads : 1;
    int64_t w_need = int64_t(unit) * c.weight_bytes_per_channel;
    int64_t m_need = c.sdsa ? group_membrane(c, unit, H, W) : c.mem_bytes_per_neuron;
    std::string what;
    if (w_need > core.weight_sram_bytes)
      what += fmt::format("needs {} of weight SRAM for one output channel{} but a core has {} (short by {}); ",
                          fmt_bytes(w_need), c.sdsa ? " head" : "", fmt_bytes(core.weight_sram_bytes),
                          fmt_bytes(w_need - core.weight_sram_bytes));
    if (m_need > core.membrane_sram_bytes)
      what += fmt::format("needs {} of membrane SRAM for its smallest group but a core has {} (short by {}); ",
                          fmt_bytes(m_need), fmt_bytes(core.membrane_sram_bytes),
                          fmt_bytes(m_need - core.membrane_sram_bytes));
    // Residual streams have been cut at their Adds before this error can stand (mapper.cpp); what
    // is left is one output channel (head) at one pixel, and its inputs are never split.
    throw Error(fmt::format("mapper: layer {} does not fit one core even at its smallest group (one output "
                            "channel{}, one pixel; the mapper does not split a channel's inputs across cores): {}"
                            "use a chip with larger core.weight_sram_bytes / core.membrane_sram_bytes",
                            cluster_label(g, c), c.sdsa ? " head" : "", what));
  }
  return *best;
}
}  // namespace

bool fits_one_core(const Cluster& c, const arch::CoreConfig& core) {
  return try_split(c, core, "min-cores").has_value();
}

std::vector<Group> partition(const Graph& g, std::vector<Cluster>& clusters, const arch::ChipConfig& chip,
                             const MapOptions& opt) {
  if (opt.split != "min-cores" && opt.split != "channels-first")
    throw UsageError("mapper: split policy '" + opt.split + "' is not one of: min-cores, channels-first");
  // The number of groups is known before any is built: a graph whose shapes ask for more than
  // the mapper can place and route in reasonable time (routes grow with the product of producer
  // and consumer groups) is refused here, not after gigabytes of groups (issue 18).
  std::vector<Split> splits;
  int64_t total = 0;
  for (Cluster& c : clusters) {
    splits.push_back(choose_split(g, c, chip.core, opt.split));
    const Split& s = splits.back();
    total += s.groups();
  }
  if (total > kMaxGroups)
    throw Error(fmt::format("mapper: model '{}' would need {} groups (one core's share each) on chip '{}', more than "
                            "the mapper handles ({}; the largest shipped example uses 797): use cores with larger "
                            "core.membrane_sram_bytes / core.weight_sram_bytes, or check the model's shapes",
                            g.name, total, chip.name, kMaxGroups));
  std::vector<Group> groups;
  for (Cluster& c : clusters) {
    const Split& s = splits[size_t(&c - clusters.data())];
    c.channels_per_group = s.cc, c.tile_h = s.th, c.tile_w = s.tw;
    c.n_channel_chunks = s.nc, c.n_tiles_y = s.ty, c.n_tiles_x = s.tx;
    for (int ci = 0; ci < s.nc; ++ci)
      for (int yi = 0; yi < s.ty; ++yi)
        for (int xi = 0; xi < s.tx; ++xi) {
          Group gr;
          gr.id = int(groups.size());
          gr.cluster = c.id;
          gr.box = Box{ci * s.cc, std::min(c.shape.c, (ci + 1) * s.cc), yi * s.th,
                       std::min(c.shape.h, (yi + 1) * s.th), xi * s.tw, std::min(c.shape.w, (xi + 1) * s.tw)};
          const Box& b = gr.box;
          gr.membrane_bytes = group_membrane_bytes(c, b);
          gr.weight_bytes = int64_t(b.c1 - b.c0) * c.weight_bytes_per_channel;
          groups.push_back(gr);
        }
  }
  return groups;
}
}  // namespace spikechip::mapper
