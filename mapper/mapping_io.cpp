// Mapping file (docs/mapper.md, "Mapping file"): writer, strict reader, text summary.
#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "mapper/mapper.hpp"
#include "base/error.hpp"
#include "base/file_util.hpp"
#include "base/json_text.hpp"
#include "base/strict_json.hpp"

namespace spikechip::mapper {

namespace {
nlohmann::json range(int a, int b) { return nlohmann::json::array({a, b}); }

nlohmann::json core_xy(int core, int w) {
  return core < 0 ? nlohmann::json("host") : nlohmann::json::array({core % w, core / w});
}

void read_range(const StrictJson& j, int lo, int hi, int& a, int& b) {
  j.expect_array();
  if (j.size() != 2) j.fail("must be [begin, end]");
  a = int(j.at(0).as_int(lo, hi));
  b = int(j.at(1).as_int(lo, hi));
  if (b <= a) j.fail(fmt::format("empty range [{}, {})", a, b));
}

int read_core(const StrictJson& j, int w, int h, bool allow_host) {
  if (allow_host && j.raw().is_string()) {
    if (j.as_string() != "host") j.fail("must be [x, y] or \"host\"");
    return -1;
  }
  j.expect_array();
  if (j.size() != 2) j.fail("must be [x, y]");
  int x = int(j.at(0).as_int(0, w - 1)), y = int(j.at(1).as_int(0, h - 1));
  return y * w + x;
}
// `options` records how the mapping was made (map_model); `run --mapping` reads chips_x/chips_y.
// Every key is optional (older files lack some) but typed and in range.
void read_options(const StrictJson& o, const Mapping& m) {
  o.only_keys({"placement", "seed", "default_rate", "unicast", "split", "chips_x", "chips_y", "measured_rates",
               "anneal_moves_per_group", "time_multiplex", "phases"});
  if (o.has("placement")) o.at("placement").as_string();
  if (o.has("seed") && !o.at("seed").raw().is_number_unsigned())
    o.at("seed").fail("must be a non-negative integer, got " + describe_json(o.at("seed").raw()));
  if (o.has("default_rate")) o.at("default_rate").as_double(0, 1);
  if (o.has("unicast")) o.at("unicast").as_bool();
  if (o.has("split")) o.at("split").as_enum({"min-cores", "channels-first"});
  if (o.has("measured_rates")) o.at("measured_rates").as_int(0, int64_t(1) << 40);
  if (o.has("anneal_moves_per_group")) o.at("anneal_moves_per_group").as_int(0, int64_t(1) << 40);
  if (o.has("time_multiplex")) o.at("time_multiplex").as_bool();
  if (o.has("phases")) o.at("phases").as_enum(phase_partitioner_names());
  if (o.has("chips_x") != o.has("chips_y")) o.fail("chips_x and chips_y go together");
  if (o.has("chips_x")) {
    // The global mesh is chips_x x chips_y chips of chip_mesh tiles each.
    const int64_t cx = o.at("chips_x").as_int(1, 64), cy = o.at("chips_y").as_int(1, 64);
    if (cx * m.chip_w != m.mesh_w)
      o.at("chips_x").fail(fmt::format("{} chips of {} columns do not make the {}-column mesh of /chip/mesh", cx, m.chip_w, m.mesh_w));
    if (cy * m.chip_h != m.mesh_h)
      o.at("chips_y").fail(fmt::format("{} chips of {} rows do not make the {}-row mesh of /chip/mesh", cy, m.chip_h, m.mesh_h));
  }
}
}  // namespace

nlohmann::json mapping_to_json(const Mapping& m) {
  const int w = m.mesh_w;
  nlohmann::json j;
  j["mapping_version"] = m.mapping_version;
  j["model"] = {{"name", m.model_name}, {"hash", m.model_hash}, {"nodes", m.node_names}};
  j["chip"] = {{"name", m.chip_name}, {"hash", m.chip_hash}, {"mesh", {m.mesh_w, m.mesh_h}},
               {"chip_mesh", {m.chip_w, m.chip_h}}, {"membrane_sram_bytes", m.membrane_sram_bytes},
               {"weight_sram_bytes", m.weight_sram_bytes}};
  j["options"] = m.options;
  nlohmann::json cl = nlohmann::json::array();
  for (const Cluster& c : m.clusters) {
    nlohmann::json names = nlohmann::json::array();
    for (int i : c.nodes) names.push_back(m.node_names[i]);
    nlohmann::json split = {{"channels", c.channels_per_group}, {"tile", {c.tile_h, c.tile_w}},
                            {"grid", {c.n_channel_chunks, c.n_tiles_y, c.n_tiles_x}}};
    if (c.fan_in_slices > 1)  // written only for a fan-in split (docs/mapper.md, "Split fan-in")
      split["fan_in"] = {{"node", m.node_names[size_t(c.fan_in_node)]}, {"slices", c.fan_in_slices},
                         {"channels", c.fan_in_channels}};
    cl.push_back({{"id", c.id}, {"nodes", names}, {"shape", {c.shape.c, c.shape.h, c.shape.w}},
                  {"sdsa_heads", c.sdsa ? c.heads : 0},
                  {"membrane_bytes_per_neuron", c.mem_bytes_per_neuron},
                  {"membrane_bytes_per_head", c.mem_bytes_per_head},
                  {"weight_bytes_per_channel", c.weight_bytes_per_channel},
                  {"split", split}});
  }
  j["clusters"] = cl;
  nlohmann::json gr = nlohmann::json::array();
  for (const Group& g : m.groups) {
    gr.push_back({{"id", g.id}, {"cluster", g.cluster}, {"channels", range(g.box.c0, g.box.c1)},
                  {"rows", range(g.box.y0, g.box.y1)}, {"cols", range(g.box.x0, g.box.x1)},
                  {"core", core_xy(g.core, w)}, {"phase", g.phase}, {"membrane_bytes", g.membrane_bytes},
                  {"weight_bytes", g.weight_bytes}});
    if (m.clusters[size_t(g.cluster)].fan_in_slices > 1) gr.back()["inputs"] = range(g.in0, g.in1);
  }
  j["groups"] = gr;
  nlohmann::json ph = nlohmann::json::array();
  for (const Phase& p : m.phases)
    ph.push_back({{"groups", p.groups}, {"dram_reload_bytes", p.reload_bytes}, {"dram_spill_in_bytes", p.spill_in_bytes}});
  j["phases"] = ph;
  nlohmann::json rt = nlohmann::json::array();
  for (const Route& r : m.routes) {
    nlohmann::json links = nlohmann::json::array();
    for (const auto& [a, b] : r.links) links.push_back({core_xy(a, w), core_xy(b, w)});
    nlohmann::json dests = nlohmann::json::array();
    for (int d : r.dests) dests.push_back(d < 0 ? nlohmann::json("host") : nlohmann::json(d));
    rt.push_back({{"id", r.id}, {"kind", r.kind},
                  {"src_group", r.src_group < 0 ? nlohmann::json("host") : nlohmann::json(r.src_group)},
                  {"src_node", m.node_names[r.src_node]}, {"channels", range(r.region.c0, r.region.c1)},
                  {"rows", range(r.region.y0, r.region.y1)}, {"cols", range(r.region.x0, r.region.x1)},
                  {"dests", dests}, {"events_per_step", r.events}, {"links", links}});
  }
  j["routes"] = rt;
  nlohmann::json cores = nlohmann::json::array();
  for (const Group& g : m.groups)
    cores.push_back({{"core", core_xy(g.core, w)}, {"phase", g.phase}, {"group", g.id},
                     {"membrane_util", double(g.membrane_bytes) / double(m.membrane_sram_bytes)},
                     {"weight_util", double(g.weight_bytes) / double(m.weight_sram_bytes)}});
  j["cores"] = cores;
  nlohmann::json lk = nlohmann::json::array();
  for (const LinkLoad& l : m.links)
    lk.push_back({{"from", core_xy(l.from, w)}, {"to", core_xy(l.to, w)}, {"load", l.load},
                  {"chip_to_chip", l.chip_to_chip}});
  j["links"] = lk;
  j["summary"] = m.summary;
  return j;
}

Mapping mapping_from_json(const nlohmann::json& json, const std::string& origin) {
  StrictJson j(json, origin);
  j.only_keys({"mapping_version", "model", "chip", "options", "clusters", "groups", "phases", "routes", "cores",
               "links", "summary"});
  Mapping m;
  // Version 1 (no phases) is read as one phase; it is written back as the current version.
  const int version = int(j.at("mapping_version").as_int(1, kMappingVersion));
  if (version >= 2) {
    StrictJson jp = j.at("phases");
    jp.expect_array();
    if (jp.size() == 0) jp.fail("a mapping has at least one phase");
    m.phases.clear();
    for (size_t i = 0; i < jp.size(); ++i) {
      StrictJson e = jp.at(i);
      e.only_keys({"groups", "dram_reload_bytes", "dram_spill_in_bytes"});
      m.phases.push_back(Phase{int(e.at("groups").as_int(0, 1 << 30)), e.at("dram_reload_bytes").as_int(0, int64_t(1) << 50),
                               e.at("dram_spill_in_bytes").as_double(0, 1e18)});
    }
  } else if (j.has("phases")) {
    j.at("phases").fail("mapping_version 1 has no phases (use mapping_version 2)");
  }
  StrictJson jm = j.at("model");
  jm.only_keys({"name", "hash", "nodes"});
  m.model_name = jm.at("name").as_string();
  m.model_hash = jm.at("hash").as_string();
  StrictJson jn = jm.at("nodes");
  jn.expect_array();
  for (size_t i = 0; i < jn.size(); ++i) m.node_names.push_back(jn.at(i).as_string());
  std::map<std::string, int> node_index;
  for (size_t i = 0; i < m.node_names.size(); ++i) node_index[m.node_names[i]] = int(i);
  auto node_ref = [&](const StrictJson& s) {
    auto it = node_index.find(s.as_string());
    if (it == node_index.end()) s.fail("unknown node '" + excerpt(s.as_string()) + "' (not in /model/nodes)");
    return it->second;
  };

  StrictJson jc = j.at("chip");
  jc.only_keys({"name", "hash", "mesh", "chip_mesh", "membrane_sram_bytes", "weight_sram_bytes"});
  m.chip_name = jc.at("name").as_string();
  m.chip_hash = jc.at("hash").as_string();
  jc.at("mesh").expect_array();
  m.mesh_w = int(jc.at("mesh").at(0).as_int(1, 1 << 20));
  m.mesh_h = int(jc.at("mesh").at(1).as_int(1, 1 << 20));
  jc.at("chip_mesh").expect_array();
  m.chip_w = int(jc.at("chip_mesh").at(0).as_int(1, m.mesh_w));
  m.chip_h = int(jc.at("chip_mesh").at(1).as_int(1, m.mesh_h));
  m.membrane_sram_bytes = jc.at("membrane_sram_bytes").as_int(1, int64_t(1) << 40);
  m.weight_sram_bytes = jc.at("weight_sram_bytes").as_int(1, int64_t(1) << 40);
  m.options = j.at("options").raw();
  read_options(j.at("options"), m);
  const int W = m.mesh_w, H = m.mesh_h;

  StrictJson jcl = j.at("clusters");
  jcl.expect_array();
  std::vector<int> owner(m.node_names.size(), -1);
  for (size_t i = 0; i < jcl.size(); ++i) {
    StrictJson e = jcl.at(i);
    e.only_keys({"id", "nodes", "shape", "sdsa_heads", "membrane_bytes_per_neuron", "membrane_bytes_per_head",
                 "weight_bytes_per_channel", "split"});
    Cluster c;
    c.id = int(e.at("id").as_int(int64_t(i), int64_t(i)));
    StrictJson ns = e.at("nodes");
    ns.expect_array();
    if (ns.size() == 0) ns.fail("a cluster needs at least one node");
    for (size_t k = 0; k < ns.size(); ++k) {
      int idx = node_ref(ns.at(k));
      if (owner[idx] >= 0) ns.at(k).fail(fmt::format("node already belongs to cluster {}", owner[idx]));
      owner[idx] = c.id;
      c.nodes.push_back(idx);
    }
    StrictJson sh = e.at("shape");
    sh.expect_array();
    if (sh.size() != 3) sh.fail("must be [C, H, W]");
    c.shape = {int(sh.at(0).as_int(1, 1 << 24)), int(sh.at(1).as_int(1, 1 << 16)), int(sh.at(2).as_int(1, 1 << 16))};
    c.heads = int(e.at("sdsa_heads").as_int(0, c.shape.c));
    c.sdsa = c.heads > 0;
    if (!c.sdsa) c.heads = 1;
    c.mem_bytes_per_neuron = e.at("membrane_bytes_per_neuron").as_int(0, 1 << 20);
    c.mem_bytes_per_head = e.at("membrane_bytes_per_head").as_int(0, int64_t(1) << 40);
    c.weight_bytes_per_channel = e.at("weight_bytes_per_channel").as_int(0, int64_t(1) << 40);
    StrictJson sp = e.at("split");
    sp.only_keys({"channels", "tile", "grid", "fan_in"});
    if (sp.has("fan_in")) {
      StrictJson fi = sp.at("fan_in");
      fi.only_keys({"node", "slices", "channels"});
      c.fan_in_node = node_ref(fi.at("node"));
      if (std::find(c.nodes.begin(), c.nodes.end(), c.fan_in_node) == c.nodes.end())
        fi.at("node").fail("not a node of this cluster");
      c.fan_in_channels = int(fi.at("channels").as_int(2, 1 << 24));
      c.fan_in_slices = int(fi.at("slices").as_int(2, c.fan_in_channels));
    }
    c.channels_per_group = int(sp.at("channels").as_int(1, c.shape.c));
    c.tile_h = int(sp.at("tile").at(0).as_int(1, c.shape.h));
    c.tile_w = int(sp.at("tile").at(1).as_int(1, c.shape.w));
    c.n_channel_chunks = int(sp.at("grid").at(0).as_int(1, c.shape.c));
    c.n_tiles_y = int(sp.at("grid").at(1).as_int(1, c.shape.h));
    c.n_tiles_x = int(sp.at("grid").at(2).as_int(1, c.shape.w));
    m.clusters.push_back(c);
  }

  StrictJson jg = j.at("groups");
  jg.expect_array();
  std::set<std::pair<int, int>> used_cores;  // (phase, core)
  std::vector<Phase> counted(m.phases.size());
  for (size_t i = 0; i < jg.size(); ++i) {
    StrictJson e = jg.at(i);
    e.only_keys({"id", "cluster", "channels", "rows", "cols", "core", "phase", "membrane_bytes", "weight_bytes", "inputs"});
    Group g;
    g.id = int(e.at("id").as_int(int64_t(i), int64_t(i)));
    g.cluster = int(e.at("cluster").as_int(0, int64_t(m.clusters.size()) - 1));
    const model::Shape& s = m.clusters[g.cluster].shape;
    read_range(e.at("channels"), 0, s.c, g.box.c0, g.box.c1);
    read_range(e.at("rows"), 0, s.h, g.box.y0, g.box.y1);
    read_range(e.at("cols"), 0, s.w, g.box.x0, g.box.x1);
    if (const Cluster& gc = m.clusters[g.cluster]; gc.fan_in_slices > 1)
      read_range(e.at("inputs"), 0, gc.fan_in_channels, g.in0, g.in1);
    else if (e.has("inputs"))
      e.at("inputs").fail("only groups of a fan-in split (cluster split.fan_in) have an input-channel slice");
    g.core = read_core(e.at("core"), W, H, false);
    if (version >= 2) g.phase = int(e.at("phase").as_int(0, int64_t(m.phases.size()) - 1));
    else if (e.has("phase")) e.at("phase").fail("mapping_version 1 has no phases");
    if (!used_cores.insert({g.phase, g.core}).second)
      e.at("core").fail(fmt::format("core already holds another group in phase {}", g.phase));
    g.membrane_bytes = e.at("membrane_bytes").as_int(0, m.membrane_sram_bytes);
    g.weight_bytes = e.at("weight_bytes").as_int(0, m.weight_sram_bytes);
    counted[size_t(g.phase)].groups++, counted[size_t(g.phase)].reload_bytes += g.weight_bytes;
    m.groups.push_back(g);
  }
  if (version < 2) m.phases[0].groups = int(m.groups.size());
  for (size_t p = 0; p < m.phases.size(); ++p) {
    if (m.phases[p].groups != counted[p].groups)
      j.at("phases").at(p).fail(fmt::format("says {} groups but {} groups are in phase {}", m.phases[p].groups, counted[p].groups, p));
    // One phase: weights are loaded once at configuration, nothing is reloaded per inference.
    const int64_t want = m.phases.size() > 1 ? counted[p].reload_bytes : 0;
    if (m.phases[p].reload_bytes != want)
      j.at("phases").at(p).fail(fmt::format("dram_reload_bytes {} is not the weight bytes of its groups ({})",
                                            m.phases[p].reload_bytes, want));
  }
  // Every neuron of every cluster in exactly one group: the boxes are disjoint and fill the shape
  // (a fan-in split: every neuron once per input channel of the split node, in slices).
  std::vector<int64_t> covered(m.clusters.size(), 0);
  for (const Group& g : m.groups) {
    const Cluster& gc = m.clusters[size_t(g.cluster)];
    covered[g.cluster] += g.box.volume() * (gc.fan_in_slices > 1 ? g.in1 - g.in0 : 1);
  }
  for (const Cluster& c : m.clusters) {
    const int64_t want = c.shape.size() * (c.fan_in_slices > 1 ? c.fan_in_channels : 1);
    if (covered[c.id] != want)
      jcl.at(size_t(c.id)).fail(fmt::format("its groups cover {} neurons{} but the shape has {}", covered[c.id],
                                            c.fan_in_slices > 1 ? " x input channels" : "", want));
  }

  StrictJson jr = j.at("routes");
  jr.expect_array();
  for (size_t i = 0; i < jr.size(); ++i) {
    StrictJson e = jr.at(i);
    e.only_keys({"id", "kind", "src_group", "src_node", "channels", "rows", "cols", "dests", "events_per_step", "links"});
    Route r;
    r.id = int(e.at("id").as_int(int64_t(i), int64_t(i)));
    r.kind = e.at("kind").as_enum({"spike", "pixel", "partial_sum", "membrane", "fan_in", "result"});
    StrictJson sg = e.at("src_group");
    r.src_group = sg.raw().is_string() ? (sg.as_enum({"host"}), -1) : int(sg.as_int(0, int64_t(m.groups.size()) - 1));
    if ((r.kind == "pixel") != (r.src_group < 0)) sg.fail("pixel routes, and only they, start at the host");
    r.src_node = node_ref(e.at("src_node"));
    read_range(e.at("channels"), 0, 1 << 24, r.region.c0, r.region.c1);
    read_range(e.at("rows"), 0, 1 << 16, r.region.y0, r.region.y1);
    read_range(e.at("cols"), 0, 1 << 16, r.region.x0, r.region.x1);
    if (r.src_group >= 0 && !m.groups[r.src_group].box.contains(r.region))
      e.fail(fmt::format("region lies outside the output of source group {}", r.src_group));
    StrictJson ds = e.at("dests");
    ds.expect_array();
    if (ds.size() == 0) ds.fail("a route needs at least one destination");
    for (size_t k = 0; k < ds.size(); ++k) {
      StrictJson d = ds.at(k);
      int v = d.raw().is_string() ? (d.as_enum({"host"}), -1) : int(d.as_int(0, int64_t(m.groups.size()) - 1));
      if (!r.dests.empty() && v <= r.dests.back()) d.fail("destinations must be ascending and distinct");
      r.dests.push_back(v);
    }
    r.events = e.at("events_per_step").as_double(0, 1e15);
    StrictJson ls = e.at("links");
    ls.expect_array();
    for (size_t k = 0; k < ls.size(); ++k) {
      StrictJson l = ls.at(k);
      l.expect_array();
      if (l.size() != 2) l.fail("must be [from, to]");
      int a = read_core(l.at(0), W, H, true), b = read_core(l.at(1), W, H, true);
      bool adjacent = (a < 0 && b == 0) || (b < 0 && a == 0) ||
                      (a >= 0 && b >= 0 && std::abs(a % W - b % W) + std::abs(a / W - b / W) == 1);
      if (!adjacent) l.fail("not a link between neighbouring routers");
      r.links.push_back({a, b});
    }
    m.routes.push_back(std::move(r));
  }
  StrictJson jl = j.at("links");
  jl.expect_array();
  for (size_t i = 0; i < jl.size(); ++i) {
    StrictJson e = jl.at(i);
    e.only_keys({"from", "to", "load", "chip_to_chip"});
    LinkLoad l;
    l.from = read_core(e.at("from"), W, H, true);
    l.to = read_core(e.at("to"), W, H, true);
    l.load = e.at("load").as_double(0, 1e18);
    l.chip_to_chip = e.at("chip_to_chip").as_bool();
    m.links.push_back(l);
  }
  j.at("cores").expect_array();  // derived from groups; kept for readers, recomputed on write
  j.at("summary").expect_object();
  m.summary = j.at("summary").raw();
  return m;
}

Mapping load_mapping(const std::string& path) { return mapping_from_json(read_json_file(path, "mapping"), path); }

void save_mapping(const Mapping& m, const std::string& path) {
  // A temporary file renamed into place: a failed write never leaves a truncated mapping.
  write_file_atomic(path, json_text(mapping_to_json(m), 1) + "\n");
}

std::string summary_text(const Mapping& m) {
  const auto& s = m.summary;
  std::string out = fmt::format(
      "mapping of '{}' onto '{}' ({}x{} cores, placement {})\n"
      "  cores used        {} of {}\n"
      "  membrane SRAM     mean {:.1f} %, max {:.1f} % per core\n"
      "  weight SRAM       mean {:.1f} %, max {:.1f} % per core; replication x{:.2f} ({} bytes unique, {} stored)\n"
      "  traffic           {:.0f} spike events/step, {:.0f} event-hops/step, {:.0f} link traversals/step "
      "({:.0f} chip-to-chip), max link load {:.0f}\n",
      m.model_name, m.chip_name, m.mesh_w, m.mesh_h, s.value("placement", "?"), s.value("cores_used", 0),
      s.value("cores_total", 0), 100 * s.value("membrane_util_mean", 0.0), 100 * s.value("membrane_util_max", 0.0),
      100 * s.value("weight_util_mean", 0.0), 100 * s.value("weight_util_max", 0.0),
      s.value("weight_replication", 1.0), s.value("weight_bytes_unique", int64_t(0)),
      s.value("weight_bytes_stored", int64_t(0)), s.value("packets_per_step", 0.0), s.value("traffic_hops", 0.0),
      s.value("link_traversals", 0.0), s.value("chip_to_chip_traversals", 0.0), s.value("max_link_load", 0.0));
  if (m.phases.size() > 1) {
    out += fmt::format("  time-multiplexed  {} phases; per inference {} weight bytes reloaded and {:.0f} spilled bytes read "
                       "back from DRAM\n", m.phases.size(), s.value("dram_reload_bytes_per_inference", int64_t(0)),
                       s.value("dram_spill_bytes_per_inference", 0.0));
    for (size_t p = 0; p < m.phases.size(); ++p)
      out += fmt::format("    phase {:<3} {:>6} groups {:>12} reload bytes {:>14.0f} spill-in bytes\n", p, m.phases[p].groups,
                         m.phases[p].reload_bytes, m.phases[p].spill_in_bytes);
  }
  out += fmt::format("  {:<44} {:>12} {:>14} {:>10}\n", "layer (source node)", "events/step", "event-hops", "mean hops");
  if (s.contains("layers"))
    for (const auto& l : s["layers"])
      out += fmt::format("  {:<44} {:>12.0f} {:>14.0f} {:>10.2f}\n", l.value("node", ""),
                         l.value("packets_per_step", 0.0), l.value("traffic_hops", 0.0), l.value("mean_hops", 0.0));
  return out;
}

}  // namespace spikechip::mapper
