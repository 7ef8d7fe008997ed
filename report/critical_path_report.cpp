// The critical path in the run report (report/critical_path_report.hpp, docs/reports.md
// "Critical path"): the segments the chip recorded (arch/critical_path.hpp), summed by kind, by
// layer and by core, and listed for the HTML page and critical_path.csv.
#include "report/critical_path_report.hpp"

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "base/error.hpp"
#include "report/csv.hpp"

namespace spikechip::report {

using nlohmann::json;
using arch::PathKind;

namespace {

// Latency categories of the summary: compute per unit, the network, DRAM, and the waits.
const char* category(PathKind k) {
  switch (k) {
    case PathKind::Synapse: case PathKind::Encoder: case PathKind::Node: case PathKind::Sdsa: return "compute";
    case PathKind::Network: return "network";
    case PathKind::Dram: return "dram";
    default: return "waiting";
  }
}

std::string layer_name(const model::Graph& g, int node) {
  return node >= 0 && size_t(node) < g.nodes.size() ? g.nodes[size_t(node)].name : std::string();
}

// Entries of `by` as [{key: k, cycles, share}] sorted by cycles (then key), at most `top`.
template <class K>
json ranked(const std::map<K, uint64_t>& by, uint64_t latency, const char* key, size_t top) {
  std::vector<std::pair<K, uint64_t>> v(by.begin(), by.end());
  std::stable_sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  json out = json::array();
  for (size_t i = 0; i < v.size() && i < top; ++i)
    out.push_back({{key, v[i].first}, {"cycles", v[i].second},
                   {"share", latency ? double(v[i].second) / double(latency) : 0.0}});
  return out;
}

}  // namespace

json critical_path_by_kind(const arch::ChipRunResult& r) {
  std::vector<uint64_t> sum(arch::kPathKindNames.size(), 0);
  for (const auto& s : r.critical_path) sum[size_t(s.kind)] += s.end - s.start;
  json out = json::object();
  for (size_t k = 0; k < sum.size(); ++k) out[std::string(arch::kPathKindNames[k])] = sum[k];
  return out;
}

json critical_path_breakdown(const json& by_kind) {
  json out = {{"compute_cycles", 0.0}, {"network_cycles", 0.0}, {"dram_cycles", 0.0}, {"waiting_cycles", 0.0}};
  for (size_t k = 0; k < arch::kPathKindNames.size(); ++k) {
    const std::string name(arch::kPathKindNames[k]);
    if (!by_kind.contains(name)) continue;
    auto& slot = out[std::string(category(PathKind(k))) + "_cycles"];
    slot = slot.get<double>() + by_kind[name].get<double>();
  }
  return out;
}

json critical_path_json(const model::Graph& g, int mesh_w, const arch::ChipRunResult& r, size_t index,
                        size_t max_segments) {
  const uint64_t lat = r.latency_cycles;
  uint64_t sum = 0, at = 0;
  bool contiguous = true;
  std::map<std::string, uint64_t> by_layer, by_layer_compute;
  std::map<int, uint64_t> by_core;
  json segs = json::array();
  for (const auto& s : r.critical_path) {
    const uint64_t c = s.end - s.start;
    sum += c;
    contiguous = contiguous && s.start == at && s.kind != PathKind::Other;
    at = s.end;
    if (s.node >= 0) {
      by_layer[layer_name(g, s.node)] += c;
      if (arch::path_kind_is_compute(s.kind)) by_layer_compute[layer_name(g, s.node)] += c;
    }
    if (arch::path_kind_is_compute(s.kind) && s.core >= 0) by_core[s.core] += c;
    if (segs.size() < max_segments)
      segs.push_back({{"kind", arch::path_kind_name(s.kind)}, {"layer", layer_name(g, s.node)}, {"core", s.core},
                      {"timestep", s.timestep}, {"start_cycles", s.start}, {"end_cycles", s.end}});
  }
  contiguous = contiguous && at == lat;
  json layers = ranked(by_layer, lat, "name", by_layer.size());
  for (auto& l : layers) l["compute_cycles"] = by_layer_compute[l["name"].get<std::string>()];
  json cores = ranked(by_core, lat, "id", by_core.size());
  for (auto& c : cores) {
    const int id = c["id"].get<int>();
    c["x"] = mesh_w > 0 ? id % mesh_w : 0, c["y"] = mesh_w > 0 ? id / mesh_w : 0;
  }
  const json by_kind = critical_path_by_kind(r);
  return {{"input", index},
          {"latency_cycles", lat},
          {"segments_sum_cycles", sum},
          {"exact", contiguous && sum == lat && !r.critical_path.empty()},
          {"by_kind_cycles", by_kind},
          {"breakdown_cycles", critical_path_breakdown(by_kind)},
          {"layers", layers},
          {"cores", cores},
          {"segments_total", r.critical_path.size()},
          {"segments_truncated", r.critical_path.size() > segs.size()},
          {"segments", segs}};
}

json critical_path_summary(const json& section, const json& mean_by_kind, size_t top) {
  auto head = [&](const char* key) {
    json out = json::array();
    for (const auto& e : section.value(key, json::array())) {
      if (out.size() >= top) break;
      out.push_back(e);
    }
    return out;
  };
  return {{"breakdown_cycles", critical_path_breakdown(mean_by_kind)}, {"by_kind_cycles", mean_by_kind},
          {"top_layers", head("layers")}, {"top_cores", head("cores")}};
}

std::string critical_path_text(const json& cp, double latency) {
  auto pct = [&](double v) { return fmt::format("{:.1f} %", latency > 0 ? 100 * v / latency : 0.0); };
  const json bk = cp.value("breakdown_cycles", json::object()), kinds = cp.value("by_kind_cycles", json::object());
  auto parts = [&](std::initializer_list<PathKind> ks) {
    std::string out;
    for (PathKind k : ks) {
      const double v = kinds.value(std::string(arch::path_kind_name(k)), 0.0);
      if (v > 0) out += fmt::format("{}{} {}", out.empty() ? "" : ", ", arch::path_kind_name(k), pct(v));
    }
    return out.empty() ? std::string() : " (" + out + ")";
  };
  std::string s = fmt::format(
      "critical path: compute {}{}, network {}, DRAM {}, waiting {}{}\n", pct(bk.value("compute_cycles", 0.0)),
      parts({PathKind::Synapse, PathKind::Encoder, PathKind::Node, PathKind::Sdsa}), pct(bk.value("network_cycles", 0.0)),
      pct(bk.value("dram_cycles", 0.0)), pct(bk.value("waiting_cycles", 0.0)),
      parts({PathKind::Host, PathKind::EndOfStep, PathKind::Other}));
  std::string layers, cores;
  for (const auto& l : cp.value("top_layers", json::array()))
    layers += fmt::format("{}{} {:.1f} %", layers.empty() ? "" : ", ", l.value("name", std::string("?")), 100 * l.value("share", 0.0));
  for (const auto& c : cp.value("top_cores", json::array()))
    cores += fmt::format("{}core {} ({},{}) {:.1f} %", cores.empty() ? "" : ", ", c.value("id", -1), c.value("x", 0),
                         c.value("y", 0), 100 * c.value("share", 0.0));
  s += fmt::format("  top layers on it: {}; top cores: {}\n", layers.empty() ? "-" : layers, cores.empty() ? "-" : cores);
  return s;
}

std::string critical_path_csv(const json& report) {
  CsvWriter w({"index", "kind", "category", "layer", "timestep", "core", "start_cycles", "end_cycles", "cycles"});
  auto it = report.find("critical_path");
  if (it == report.end() || it->is_null()) return w.text();
  if (!it->is_object()) throw Error("run report: /critical_path must be a JSON object; regenerate the report with spikechip run");
  const json& segs = it->value("segments", json::array());
  if (!segs.is_array()) throw Error("run report: /critical_path/segments must be a JSON array");
  for (size_t i = 0; i < segs.size(); ++i) {
    const json& s = segs[i];
    if (!s.is_object() || !s.value("start_cycles", json()).is_number_unsigned() ||
        !s.value("end_cycles", json()).is_number_unsigned() || !s.value("kind", json()).is_string())
      throw Error(fmt::format("run report: /critical_path/segments/{} must be an object with kind, start_cycles and "
                              "end_cycles",
                              i));
    const std::string kind = s["kind"].get<std::string>();
    const auto k = std::find(arch::kPathKindNames.begin(), arch::kPathKindNames.end(), kind);
    const uint64_t a = s["start_cycles"].get<uint64_t>(), b = s["end_cycles"].get<uint64_t>();
    w.row({std::to_string(i), kind, k == arch::kPathKindNames.end() ? "" : category(PathKind(k - arch::kPathKindNames.begin())),
           json_cell(s.value("layer", json())), json_cell(s.value("timestep", json())), json_cell(s.value("core", json())),
           std::to_string(a), std::to_string(b), b >= a ? std::to_string(b - a) : std::string()});
  }
  return w.text();
}

}  // namespace spikechip::report
