// Semantic check of a loaded mapping (mapping_check.hpp): re-derives what the model needs with the
// mapper's own pieces (build_clusters, group_membrane_bytes, build_routes) and compares.
#include "mapper/mapping_check.hpp"

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "base/error.hpp"
#include "base/strict_json.hpp"

namespace spikechip::mapper {

namespace {

constexpr const char* kRemap = "re-run 'spikechip map' for this model and chip";

std::string dests_str(const std::vector<int>& d) {
  std::string s = "[";
  for (size_t i = 0; i < d.size(); ++i) s += (i ? ", " : "") + (d[i] < 0 ? std::string("host") : std::to_string(d[i]));
  return s + "]";
}

std::string box_str(const Box& b) {
  return fmt::format("channels [{}, {}) rows [{}, {}) cols [{}, {})", b.c0, b.c1, b.y0, b.y1, b.x0, b.x1);
}

struct Checker {
  const Mapping& m;
  const model::Graph& g;
  const arch::ChipConfig& chip;
  const std::string& origin;

  [[noreturn]] void fail(const std::string& path, const std::string& what) const {
    throw Error(origin + ": " + path + ": " + what);
  }

  void nodes() const {
    if (m.node_names.size() != g.nodes.size())
      fail("/model/nodes", fmt::format("{} nodes, but the model has {}; {}", m.node_names.size(), g.nodes.size(), kRemap));
    for (size_t i = 0; i < g.nodes.size(); ++i)
      if (m.node_names[i] != g.nodes[i].name)
        fail(fmt::format("/model/nodes/{}", i), fmt::format("'{}', but the model's node {} is '{}'; {}",
                                                            excerpt(m.node_names[i]), i, excerpt(g.nodes[i].name), kRemap));
  }

  void clusters() const {
    // A cut residual stream (an Add whose stream operand is in another cluster) is the mapper's
    // own choice when the stream does not fit: re-derived with the file's cuts.
    const std::vector<Cluster> want = build_clusters(g, cut_adds_of(g, m.clusters));
    if (m.clusters.size() != want.size())
      fail("/clusters", fmt::format("{} clusters, but the model has {} sets of co-located nodes; {}", m.clusters.size(),
                                    want.size(), kRemap));
    for (size_t i = 0; i < want.size(); ++i) {
      const Cluster &c = m.clusters[i], &w = want[i];
      auto differ = [&](const char* key, auto got, auto need) {
        if (got != need)
          fail(fmt::format("/clusters/{}/{}", i, key), fmt::format("{}, but the model needs {}; {}", got, need, kRemap));
      };
      if (c.nodes != w.nodes) fail(fmt::format("/clusters/{}/nodes", i), std::string("not the nodes the model co-locates; ") + kRemap);
      if (!(c.shape == w.shape)) fail(fmt::format("/clusters/{}/shape", i), std::string("not the shape of its nodes; ") + kRemap);
      differ("sdsa_heads", c.sdsa ? c.heads : 0, w.sdsa ? w.heads : 0);
      differ("membrane_bytes_per_neuron", c.mem_bytes_per_neuron, w.mem_bytes_per_neuron);
      differ("membrane_bytes_per_head", c.mem_bytes_per_head, w.mem_bytes_per_head);
      differ("weight_bytes_per_channel", c.weight_bytes_per_channel, w.weight_bytes_per_channel);
      if (c.fan_in_slices > 1) {  // a fan-in split: of the node the mapper would split, all its input channels
        differ("split/fan_in/node", c.fan_in_node, fan_in_candidate(g, c));
        differ("split/fan_in/channels", c.fan_in_channels, g.input_shape(g.nodes[size_t(c.fan_in_node)]).c);
      }
    }
  }

  void groups() const {
    if (m.mesh_w != chip.global_width() || m.mesh_h != chip.global_height())
      fail("/chip/mesh", fmt::format("[{}, {}], but the chip's global mesh is [{}, {}]; {}", m.mesh_w, m.mesh_h,
                                     chip.global_width(), chip.global_height(), kRemap));
    std::vector<std::vector<int>> of_cluster(m.clusters.size());
    for (const Group& gr : m.groups) {
      const std::string at = fmt::format("/groups/{}", gr.id);
      const Cluster& c = m.clusters[size_t(gr.cluster)];
      // Neurons exactly once: load_mapping checked that the boxes' volumes (x their fan-in slices'
      // share) add up to the shape, so pairwise disjoint boxes (or, for a fan-in split, equal
      // boxes with disjoint slices) cover it exactly.
      for (int o : of_cluster[size_t(gr.cluster)]) {
        const Group& og = m.groups[size_t(o)];
        if (intersect(gr.box, og.box).empty()) continue;
        if (c.fan_in_slices > 1 && gr.box == og.box && (gr.in1 <= og.in0 || og.in1 <= gr.in0)) continue;
        fail(at, fmt::format("its neurons ({}) overlap those of group {} (each neuron belongs to one group{})",
                             box_str(gr.box), o, c.fan_in_slices > 1 ? ", or to one group per slice of its fan-in" : ""));
      }
      of_cluster[size_t(gr.cluster)].push_back(gr.id);
      if (c.sdsa) {
        const int d = c.shape.c / c.heads;
        if (gr.box.c0 % d != 0 || gr.box.c1 % d != 0)
          fail(at + "/channels", fmt::format("[{}, {}) splits an SDSA head ({} channels each); a group holds whole heads",
                                             gr.box.c0, gr.box.c1, d));
        if (gr.box.x0 != 0 || gr.box.x1 != c.shape.w)
          fail(at + "/cols", fmt::format("[{}, {}) cuts a row of an SDSA head's tokens; a token slice holds whole rows "
                                         "[0, {}); {}", gr.box.x0, gr.box.x1, c.shape.w, kRemap));
      }
      Group want = gr;
      set_group_bytes(g, c, want);
      const int64_t mem = want.membrane_bytes, wb = want.weight_bytes;
      if (gr.membrane_bytes != mem)
        fail(at + "/membrane_bytes", fmt::format("{}, but its neurons need {}; {}", gr.membrane_bytes, mem, kRemap));
      if (gr.weight_bytes != wb)
        fail(at + "/weight_bytes", fmt::format("{}, but its channels need {}; {}", gr.weight_bytes, wb, kRemap));
      if (mem > chip.core.membrane_sram_bytes)
        fail(at + "/membrane_bytes", fmt::format("{} do not fit the core's membrane SRAM ({} bytes, core.membrane_sram_bytes); {}",
                                                 mem, chip.core.membrane_sram_bytes, kRemap));
      if (wb > arch::weight_sram_usable(chip))
        fail(at + "/weight_bytes", fmt::format("{} do not fit the core's weight SRAM ({} bytes, core.weight_sram_bytes less "
                                               "the core.weight_prefetch_fraction reserve); {}",
                                               wb, arch::weight_sram_usable(chip), kRemap));
    }
  }

  // Every value of node p produced by source s (-1: host) goes to exactly the groups that read it:
  // the file's routes and the re-derived ones are painted over the source's box cell by cell and
  // their destination sets compared.
  void routes() const {
    std::vector<int> cluster_of(g.nodes.size(), -1);
    for (const Cluster& c : m.clusters)
      for (int i : c.nodes) cluster_of[size_t(i)] = c.id;
    const std::vector<Route> want = build_routes(g, m.clusters, m.groups, MapOptions{});
    std::map<int, std::string> kind_of;  // source node -> the kind of its routes (fan-in partial sums aside)
    for (const Route& r : want)
      if (r.kind != "fan_in") kind_of[r.src_node] = r.kind;

    using Key = std::pair<int, int>;  // (src_node, src_group)
    std::map<Key, std::vector<int>> got_by, want_by;
    for (const Route& r : m.routes) {
      const std::string at = fmt::format("/routes/{}", r.id);
      const model::Node& pn = g.nodes[size_t(r.src_node)];
      if (r.src_group >= 0 && cluster_of[size_t(r.src_node)] != m.groups[size_t(r.src_group)].cluster)
        fail(at + "/src_group", fmt::format("group {} does not compute node '{}' (it holds cluster {}); a route is sent by "
                                            "a group of its source node's cluster; {}",
                                            r.src_group, excerpt(pn.name), m.groups[size_t(r.src_group)].cluster, kRemap));
      if (r.src_group < 0 && pn.op != model::Op::Input)
        fail(at + "/src_group", fmt::format("\"host\" sends only the model's inputs, not node '{}'", excerpt(pn.name)));
      if (r.kind == "fan_in" || (r.src_group >= 0 && m.groups[size_t(r.src_group)].fan_in_partial(
                                                           m.clusters[size_t(m.groups[size_t(r.src_group)].cluster)]))) {
        const Group& sg = m.groups[size_t(r.src_group < 0 ? 0 : r.src_group)];
        const Cluster& sc = m.clusters[size_t(sg.cluster)];
        if (r.src_group < 0 || r.kind != "fan_in" || !sg.fan_in_partial(sc) || r.src_node != sc.fan_in_node)
          fail(at + "/kind", fmt::format("'{}': partial sums of a fan-in slice (kind fan_in) are sent by, and only by, "
                                         "the partial groups of a fan-in split, as their split node; {}", r.kind, kRemap));
      } else {
        auto k = kind_of.find(r.src_node);
        if (k == kind_of.end())
          fail(at + "/src_node", fmt::format("no group reads node '{}' from another core; {}", excerpt(pn.name), kRemap));
        if (k->second != r.kind)
          fail(at + "/kind", fmt::format("'{}', but node '{}' travels as '{}'", r.kind, excerpt(pn.name), k->second));
      }
      const Box src = r.src_group >= 0 ? m.groups[size_t(r.src_group)].box : Box{0, pn.shape.c, 0, pn.shape.h, 0, pn.shape.w};
      if (!src.contains(r.region))
        fail(at, fmt::format("its region ({}) lies outside what its source produces ({})", box_str(r.region), box_str(src)));
      for (int d : r.dests)
        if (d >= 0 && r.src_group >= 0 && m.groups[size_t(d)].phase < m.groups[size_t(r.src_group)].phase)
          fail(at + "/dests", fmt::format("group {} runs in phase {}, before its source group {} (phase {}); {}", d,
                                          m.groups[size_t(d)].phase, r.src_group, m.groups[size_t(r.src_group)].phase, kRemap));
      got_by[{r.src_node, r.src_group}].push_back(r.id);
    }
    for (size_t i = 0; i < want.size(); ++i) want_by[{want[i].src_node, want[i].src_group}].push_back(int(i));

    for (const auto& [key, wl] : want_by)
      if (!got_by.count(key)) {
        const Route& w = want[size_t(wl.front())];
        fail("/routes", fmt::format("no route sends node '{}' from {} ({}) to groups {}, which read it; {}",
                                    excerpt(g.nodes[size_t(key.first)].name),
                                    key.second < 0 ? std::string("the host") : fmt::format("group {}", key.second),
                                    box_str(w.region), dests_str(w.dests), kRemap));
      }
    for (const auto& [key, gl] : got_by) {
      const auto [p, s] = key;
      const model::Node& pn = g.nodes[size_t(p)];
      const Box src = s >= 0 ? m.groups[size_t(s)].box : Box{0, pn.shape.c, 0, pn.shape.h, 0, pn.shape.w};
      const int H = src.y1 - src.y0, W = src.x1 - src.x0;
      auto cell = [&](int c, int y, int x) { return (int64_t(c - src.c0) * H + (y - src.y0)) * W + (x - src.x0); };
      std::vector<int> got(size_t(src.volume()), -1), need(size_t(src.volume()), -1);
      for (int id : gl) {
        const Box& b = m.routes[size_t(id)].region;
        for (int c = b.c0; c < b.c1; ++c)
          for (int y = b.y0; y < b.y1; ++y)
            for (int x = b.x0; x < b.x1; ++x) {
              int& v = got[size_t(cell(c, y, x))];
              if (v >= 0)
                fail(fmt::format("/routes/{}", id), fmt::format("its region overlaps route {} at channel {} row {} col {} "
                                                                "(a value would be sent twice); {}", v, c, y, x, kRemap));
              v = id;
            }
      }
      if (auto w = want_by.find(key); w != want_by.end())
        for (int i : w->second) {
          const Box& b = want[size_t(i)].region;
          for (int c = b.c0; c < b.c1; ++c)
            for (int y = b.y0; y < b.y1; ++y)
              for (int x = b.x0; x < b.x1; ++x) need[size_t(cell(c, y, x))] = i;
        }
      static const std::vector<int> none;
      for (int c = src.c0; c < src.c1; ++c)
        for (int y = src.y0; y < src.y1; ++y)
          for (int x = src.x0; x < src.x1; ++x) {
            const int gi = got[size_t(cell(c, y, x))], ni = need[size_t(cell(c, y, x))];
            const std::vector<int>& gd = gi >= 0 ? m.routes[size_t(gi)].dests : none;
            const std::vector<int>& nd = ni >= 0 ? want[size_t(ni)].dests : none;
            if (gd == nd) continue;
            const std::string what = fmt::format("channel {} row {} col {} of node '{}' must reach groups {}", c, y, x,
                                                 excerpt(pn.name), dests_str(nd));
            if (gi < 0)
              fail("/routes", fmt::format("no route sends {} from {}; {}", what,
                                          s < 0 ? std::string("the host") : fmt::format("group {}", s), kRemap));
            fail(fmt::format("/routes/{}/dests", gi),
                 fmt::format("{}, but this route delivers it to {} (the mapping does not compute the model); {}", what,
                             dests_str(gd), kRemap));
          }
    }
  }
};

}  // namespace

void check_mapping(const Mapping& m, const model::Graph& g, const arch::ChipConfig& chip, const std::string& origin) {
  check_precision(g, chip);
  const Checker c{m, g, chip, origin};
  c.nodes();
  c.clusters();
  c.groups();
  c.routes();
}

}  // namespace spikechip::mapper
