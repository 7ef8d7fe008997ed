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

// An SDSA group of a token slice (rows th x tw of the N tokens) keeps per head the d x d KV counts,
// the k and v bits of all N tokens (it builds K^T V itself) and the q bits of its own tokens; with
// all tokens that is the cluster's mem_bytes_per_head.
int64_t sdsa_head_bytes(const Cluster& c, int64_t tokens) {
  const int64_t d = c.shape.c / c.heads, n = int64_t(c.shape.h) * c.shape.w;
  if (tokens >= n) return c.mem_bytes_per_head;
  return c.mem_bytes_per_head - 4 * ((3 * d * n + 31) / 32) + 4 * ((2 * d * n + d * tokens + 31) / 32);
}

int64_t group_membrane(const Cluster& c, int cc, int th, int tw) {
  int64_t heads = c.sdsa ? cc / (c.shape.c / c.heads) : 0;
  return int64_t(cc) * th * tw * c.mem_bytes_per_neuron + (heads ? heads * sdsa_head_bytes(c, int64_t(th) * tw) : 0);
}

}  // namespace

int64_t group_membrane_bytes(const Cluster& c, const Box& b) {
  return group_membrane(c, b.c1 - b.c0, b.y1 - b.y0, b.x1 - b.x0);
}

int fan_in_candidate(const Graph& g, const Cluster& c) {
  int best = -1;
  int64_t bytes = 0;
  for (int i : c.nodes) {
    const model::Node& n = g.nodes[size_t(i)];
    if (!((n.op == model::Op::Conv2d && n.groups == 1) || n.op == model::Op::Linear)) continue;
    if (g.input_shape(n).c < 2) continue;
    const int64_t b = model::param_bytes_per_channel(g, n);
    if (b > bytes) best = i, bytes = b;
  }
  return best;
}

void set_group_bytes(const Graph& g, const Cluster& c, Group& gr) {
  const int64_t channels = gr.box.c1 - gr.box.c0;
  if (c.fan_in_slices <= 1) {
    gr.membrane_bytes = group_membrane_bytes(c, gr.box);
    gr.weight_bytes = channels * c.weight_bytes_per_channel;
    return;
  }
  const model::Node& n = g.nodes[size_t(c.fan_in_node)];
  const int64_t slice = model::fan_in_slice_weight_bytes(g, n, gr.in1 - gr.in0);
  if (gr.fan_in_partial(c)) {
    // Only the node's slice: its weights and shift per output channel, an accumulator word per neuron.
    gr.membrane_bytes = gr.box.volume() * model::membrane_word_bytes(g);
    gr.weight_bytes = channels * (slice + 1);
  } else {
    // The whole cluster, with the last slice of the node's fan-in instead of all of it.
    gr.membrane_bytes = group_membrane_bytes(c, gr.box);
    gr.weight_bytes = channels * (c.weight_bytes_per_channel - model::fan_in_slice_weight_bytes(g, n, c.fan_in_channels) + slice);
  }
}

namespace {
// The best split of `c` under `policy`, or none when its smallest group fits no core.
// `token_split`: an SDSA head may be cut into slices of whole token rows (tried only when no head
// fits a core with all its tokens, so every mapping that fits unsplit stays as it was).
std::optional<Split> try_split(const Cluster& c, const arch::CoreConfig& core, const std::string& policy,
                               bool token_split = false) {
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
    if (c.sdsa && !token_split) {  // all tokens of a head on one core
      if (group_membrane(c, cc, H, W) > core.membrane_sram_bytes) continue;
      s.th = H, s.tw = W, s.ty = 1, s.tx = 1;
    } else if (c.sdsa) {  // the fewest slices of whole token rows that fit (contiguous tokens n = y*W + x)
      int ty = 1;
      while (ty <= H && group_membrane(c, cc, ceil_div(H, ty), W) > core.membrane_sram_bytes) ++ty;
      if (ty > H) continue;
      const int th = ceil_div(H, ty);
      s.th = th, s.tw = W, s.ty = ceil_div(H, th), s.tx = 1;
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

// The fewest fan-in slices of the cluster's largest Conv2d / Linear with which its groups fit (each
// slice's group sized as the worst of the accumulating group and the partial ones); sets the
// cluster's fan_in_* fields. Tried only when no output-channel / spatial split fits.
std::optional<Split> try_fan_in(const Graph& g, Cluster& c, const arch::CoreConfig& core, const std::string& policy) {
  const int node = fan_in_candidate(g, c);
  if (node < 0) return std::nullopt;
  const model::Node& n = g.nodes[size_t(node)];
  const int cin = g.input_shape(n).c;
  const int64_t full = model::fan_in_slice_weight_bytes(g, n, cin);
  int prev = -1;
  for (int k = 2; k <= cin; ++k) {
    const int per = ceil_div(cin, k);
    if (per == prev) continue;
    prev = per;
    const int64_t slice = model::fan_in_slice_weight_bytes(g, n, per);
    Cluster t = c;
    t.weight_bytes_per_channel = std::max(c.weight_bytes_per_channel - full + slice, slice + 1);
    t.mem_bytes_per_neuron = std::max<int64_t>(c.mem_bytes_per_neuron, model::membrane_word_bytes(g));
    std::optional<Split> s = try_split(t, core, policy);
    if (!s) continue;
    c.fan_in_node = node, c.fan_in_slices = ceil_div(cin, per), c.fan_in_channels = cin;
    return s;
  }
  return std::nullopt;
}

Split choose_split(const Graph& g, Cluster& c, const arch::CoreConfig& core, const std::string& policy) {
  c.fan_in_node = -1, c.fan_in_slices = 1, c.fan_in_channels = 0;
  std::optional<Split> best = try_split(c, core, policy);
  if (!best && c.sdsa) best = try_split(c, core, policy, true);
  if (!best && !c.sdsa) best = try_fan_in(g, c, core, policy);
  if (!best) {
    const int C = c.shape.c, W = c.shape.w;
    const int unit = c.sdsa ? C / c.heads : 1;
    int64_t w_need = int64_t(unit) * c.weight_bytes_per_channel;
    int64_t m_need = c.sdsa ? group_membrane(c, unit, 1, W) : c.mem_bytes_per_neuron;
    const int fin = c.sdsa ? -1 : fan_in_candidate(g, c);
    if (fin >= 0) {  // even one input channel of the fan-in per group
      const model::Node& n = g.nodes[size_t(fin)];
      w_need = std::max(w_need - model::fan_in_slice_weight_bytes(g, n, g.input_shape(n).c) + model::fan_in_slice_weight_bytes(g, n, 1),
                        model::fan_in_slice_weight_bytes(g, n, 1) + 1);
    }
    std::string what;
    if (w_need > core.weight_sram_bytes)
      what += fmt::format("needs {} of weight SRAM for one output channel{}{} but a core has {} (short by {}); ",
                          fmt_bytes(w_need), c.sdsa ? " head" : "",
                          fin >= 0 ? fmt::format(" with one input channel of '{}'", g.nodes[size_t(fin)].name) : "",
                          fmt_bytes(core.weight_sram_bytes),
                          fmt_bytes(w_need - core.weight_sram_bytes));
    if (m_need > core.membrane_sram_bytes)
      what += fmt::format("needs {} of membrane SRAM for its smallest group but a core has {} (short by {}); ",
                          fmt_bytes(m_need), fmt_bytes(core.membrane_sram_bytes),
                          fmt_bytes(m_need - core.membrane_sram_bytes));
    // Residual streams have been cut at their Adds before this error can stand (mapper.cpp); what
    // is left is one output channel at one pixel with its fan-in split down to one input channel
    // (or one SDSA head over one row of tokens).
    throw Error(fmt::format("mapper: layer {} does not fit one core even at its smallest group ({}): {}"
                            "use a chip with larger core.weight_sram_bytes / core.membrane_sram_bytes",
                            cluster_label(g, c),
                            c.sdsa ? "one SDSA head over one row of tokens"
                            : fin >= 0 ? "one output channel at one pixel, its fan-in split to one input channel per core"
                                       : "one output channel at one pixel",
                            what));
  }
  return *best;
}
}  // namespace

bool fits_one_core(const Cluster& c, const arch::CoreConfig& core) {
  return try_split(c, core, "min-cores").has_value() || (c.sdsa && try_split(c, core, "min-cores", true).has_value());
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
    total += s.groups() * c.fan_in_slices;
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
          // A fan-in split gives the box one group per input-channel slice, the accumulating one
          // (last slice) last, so that spreading a layer over phases never puts it before a partial.
          const int per = c.fan_in_slices > 1 ? ceil_div(c.fan_in_channels, c.fan_in_slices) : 0;
          for (int k = 0; k < c.fan_in_slices; ++k) {
            Group gr;
            gr.id = int(groups.size());
            gr.cluster = c.id;
            gr.box = Box{ci * s.cc, std::min(c.shape.c, (ci + 1) * s.cc), yi * s.th,
                         std::min(c.shape.h, (yi + 1) * s.th), xi * s.tw, std::min(c.shape.w, (xi + 1) * s.tw)};
            if (per) gr.in0 = k * per, gr.in1 = std::min(c.fan_in_channels, (k + 1) * per);
            set_group_bytes(g, c, gr);
            groups.push_back(gr);
          }
        }
  }
  return groups;
}
}  // namespace spikechip::mapper
