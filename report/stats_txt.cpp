// stats.txt and timesteps.csv of a run (report/stats_txt.hpp).
#include "report/stats_txt.hpp"

#include <array>
#include <cctype>

#include <fmt/format.h>

#include "report/csv.hpp"

namespace spikechip::report {

using json = nlohmann::json;

namespace {

struct Lines {
  std::string text;
  void add(const std::string& name, const json& v, const std::string& what, const std::string& unit) {
    if (v.is_null()) return;
    std::string val = v.is_boolean() ? (v.get<bool>() ? "1" : "0") : json_cell(v);
    if (val.empty()) val = "nan";
    text += fmt::format("{} {} # {}{}\n", name, val, what, unit.empty() ? "" : " (" + unit + ")");
  }
};

// A stat name component: letters, digits, '_' and '-' kept; anything else becomes '_'.
std::string name_part(std::string s) {
  for (char& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') c = '_';
  return s.empty() ? "_" : s;
}

const json& obj(const json& j, const char* key) {
  static const json empty = json::object();
  auto it = j.find(key);
  return it != j.end() && it->is_object() ? *it : empty;
}
const json& arr(const json& j, const char* key) {
  static const json empty = json::array();
  auto it = j.find(key);
  return it != j.end() && it->is_array() ? *it : empty;
}
json get(const json& j, const char* key) { return j.is_object() && j.contains(key) ? j[key] : json(); }

// The per-timestep figures (report.json `timesteps`), once for timesteps.csv (columns, in this
// order) and stats.txt (timestep.<t>.<key> lines): key, description, unit.
const std::vector<std::array<const char*, 3>> kTimestepColumns = {
    {"timestep", "timestep index", ""},
    {"end_cycles", "cycle at which the timestep ended (Output node done)", "cycles"},
    {"cycles", "cycles since the previous timestep ended (the last: until the result is at the host)", "cycles"},
    {"spikes", "spike events of this timestep", ""},
    {"sops", "synaptic operations of this timestep", ""},
    {"macs", "encoder MACs of this timestep", ""},
    {"sdsa_ops", "SDSA operations of this timestep", ""},
    {"packets", "network packets sent for this timestep", ""},
    {"flits", "network flits sent for this timestep", ""},
    {"energy_pJ", "energy of this timestep's events and static energy of its cycles", "pJ"}};

}  // namespace

std::string render_stats_txt(const json& r) {
  Lines L;
  L.text = "# spikechip run statistics: name value # description (unit). Per inference (mean over the inputs) unless\n"
           "# noted; docs/reports.md \"stats.txt\". The host.* lines at the end are the only ones that differ between reruns.\n";
  const json& run = obj(r, "run");
  const json& sum = obj(r, "summary");
  L.add("run.inputs", get(run, "inputs"), "inputs simulated", "");
  L.add("run.timesteps", get(run, "timesteps"), "timesteps per inference (T)", "");
  L.add("run.verified", get(run, "verified"), "1 when every spike matched the golden executor", "");
  L.add("run.simulated_cycles", get(run, "simulated_cycles"), "cycles simulated over all inputs", "cycles");
  L.add("chip.clock_hz", get(obj(r, "chip"), "clock_hz"), "chip clock", "Hz");
  L.add("mapping.cores_used", get(obj(r, "mapping"), "cores_used"), "cores holding at least one group", "");
  static const std::vector<std::array<const char*, 3>> kSummary = {
      {"latency_cycles", "latency of one inference, input in to result at the host", "cycles"},
      {"latency_s", "latency at the chip clock", "s"},
      {"throughput_inferences_per_s", "1 / latency", "inferences/s"},
      {"energy_pJ", "energy of one inference (sum of energy.*)", "pJ"},
      {"energy_per_sop_pJ", "energy / (SOPs + SDSA ops)", "pJ"},
      {"paper_energy_pJ", "paper formula 4.6 pJ x MACs + 0.9 pJ x (SOPs + SDSA ops)", "pJ"},
      {"power_W", "average power: energy / latency", "W"},
      {"area_mm2", "chip area, area model (area.*)", "mm2"},
      {"sops", "synaptic operations (additions of a weight)", ""},
      {"macs", "multiply-accumulates of the encoding layer", ""},
      {"spikes", "spike events emitted by LIF neurons", ""},
      {"packets", "network packets injected (one carries many spike events)", ""},
      {"flits", "network flits injected", ""}};
  for (const auto& [k, what, unit] : kSummary) L.add(std::string("summary.") + k, get(sum, k), what, unit);
  for (const auto& [k, v] : obj(r, "energy_by_component_pJ").items())
    L.add("energy." + name_part(k) + "_pJ", v, "energy of component " + k, "pJ");
  const json& power = obj(r, "power");
  for (const auto& [k, v] : obj(power, "by_component_W").items())
    L.add("power." + name_part(k) + "_W", v, "average power of component " + k, "W");
  const json& area = obj(r, "area");
  L.add("area.total_mm2", get(area, "total_mm2"), "chip area: cores x core area", "mm2");
  L.add("area.cores", get(area, "cores"), "cores of the global mesh (all count)", "");
  L.add("area.core_um2", get(area, "core_um2"), "area of one core, router included", "um2");
  for (const auto& [k, v] : obj(area, "per_core_um2").items())
    L.add("area.core." + name_part(k) + "_um2", v, "per-core area of " + k, "um2");
  for (const auto& [k, v] : obj(r, "dram").items())
    L.add("dram." + name_part(k), v, "off-chip memory: " + k, "");
  for (const json& t : arr(r, "timesteps")) {
    const std::string p = fmt::format("timestep.{}.", get(t, "timestep").dump());
    for (const auto& [k, what, unit] : kTimestepColumns)
      if (std::string(k) != "timestep") L.add(p + k, get(t, k), what, unit);
  }
  for (const json& l : arr(r, "layers")) {
    const std::string p = "layer." + name_part(l.value("name", std::string("?"))) + ".";
    L.add(p + "spikes", get(l, "spikes"), "spike events emitted", "");
    L.add(p + "firing_rate", get(l, "firing_rate"), "spikes / (neurons x timesteps)", "");
    L.add(p + "sops", get(l, "sops"), "synaptic operations", "");
    L.add(p + "energy_pJ", get(l, "energy_pJ"), "energy of the layer's own events", "pJ");
    L.add(p + "busy_cycles", get(l, "busy_cycles"), "cycles its cores' units spent on it, last input", "cycles");
  }
  for (const json& c : arr(r, "cores")) {
    const std::string p = "core." + get(c, "id").dump() + ".";
    L.add(p + "busy_cycles", get(c, "busy_cycles"), "busy cycles, last input", "cycles");
    L.add(p + "idle_cycles", get(c, "idle_cycles"), "idle cycles of its input engine, node unit and packetiser, last input", "cycles");
    L.add(p + "utilisation", get(c, "utilisation"), "busy / (3 x run cycles), last input", "");
    L.add(p + "sops", get(c, "sops"), "synaptic operations, last input", "");
  }
  L.add("host.wall_s", get(run, "wall_s"), "wall time of the whole command (host)", "s");
  L.add("host.chip_wall_s", get(run, "chip_wall_s"), "wall time of the chip simulation (host)", "s");
  L.add("host.golden_wall_s", get(run, "golden_wall_s"), "wall time of the golden executor (host)", "s");
  L.add("host.cycles_per_wall_s", get(run, "cycles_per_wall_s"), "simulation speed (host)", "cycles/s");
  return L.text;
}

std::string render_timesteps_csv(const json& r) {
  std::vector<std::string> cols;
  for (const auto& c : kTimestepColumns) cols.push_back(c[0]);
  CsvWriter w(cols);
  for (const json& t : arr(r, "timesteps")) {
    std::vector<std::string> row;
    for (const auto& c : cols) row.push_back(t.is_object() && t.contains(c) ? json_cell(t[c]) : std::string());
    w.row(row);
  }
  return w.text();
}

}  // namespace spikechip::report
