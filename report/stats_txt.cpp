// stats.txt and timesteps.csv of a run (report/stats_txt.hpp).
#include "report/stats_txt.hpp"

#include <array>
#include <cctype>

#include <fmt/format.h>

#include "base/json_text.hpp"
#include "report/csv.hpp"

namespace spikechip::report {

using json = nlohmann::json;

namespace {

// A stat line's key in its report.json object, its description and its unit ("" for none).
using Stat = std::array<const char*, 3>;

json get(const json& j, const char* key) { return j.is_object() && j.contains(key) ? j[key] : json(); }

// A stat name component: letters, digits, '_' and '-' kept; anything else becomes '_'.
std::string name_part(std::string s) {
  for (char& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') c = '_';
  return s.empty() ? "_" : s;
}

// j[key] when it is of `kind` (object or array), else an empty one: a report without a section
// (or a hand-edited one) gives no lines for it.
const json& member(const json& j, const char* key, json::value_t kind) {
  static const json empty_object = json::object(), empty_array = json::array();
  auto it = j.find(key);
  if (it != j.end() && it->type() == kind) return *it;
  return kind == json::value_t::array ? empty_array : empty_object;
}
const json& obj(const json& j, const char* key) { return member(j, key, json::value_t::object); }
const json& arr(const json& j, const char* key) { return member(j, key, json::value_t::array); }

struct Lines {
  std::string text;
  void add(const std::string& name, const json& v, const std::string& what, const std::string& unit) {
    if (v.is_null()) return;
    std::string val = v.is_boolean() ? (v.get<bool>() ? "1" : "0") : json_cell(v);
    if (val.empty()) val = "nan";
    // A value is one token (e.g. dram.models): blanks, line breaks and '#' of a hand-edited
    // report's string would break the `name value # description` line.
    for (char& c : val)
      if (std::isspace(static_cast<unsigned char>(c)) || c == '#') c = '_';
    text += fmt::format("{} {} # {}{}\n", name, val, what, unit.empty() ? "" : " (" + unit + ")");
  }
  // One line per stat of `table` found in `o`: <prefix><key>.
  void add_table(const std::string& prefix, const json& o, const std::vector<Stat>& table) {
    for (const auto& [k, what, unit] : table) add(prefix + k, get(o, k), what, unit);
  }
  // One line per member of the object `o` (names the report chose, e.g. energy components):
  // <prefix><name><suffix>, described as <what><name>.
  void add_each(const std::string& prefix, const json& o, const std::string& suffix, const std::string& what,
                const std::string& unit) {
    for (const auto& [k, v] : o.items()) add(prefix + name_part(k) + suffix, v, what + k, unit);
  }
};

// The per-timestep figures (report.json `timesteps`), once for timesteps.csv (columns, in this
// order) and stats.txt (timestep.<t>.<key> lines): key, description, unit.
const std::vector<Stat> kTimestepColumns = {
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
  static const std::vector<Stat> kRun = {
      {"inputs", "inputs simulated", ""},
      {"timesteps", "timesteps per inference (T)", ""},
      {"verified", "1 when every spike matched the golden executor", ""},
      {"simulated_cycles", "cycles simulated over all inputs", "cycles"}};
  L.add_table("run.", run, kRun);
  L.add("chip.clock_hz", get(obj(r, "chip"), "clock_hz"), "chip clock", "Hz");
  L.add("mapping.cores_used", get(obj(r, "mapping"), "cores_used"), "cores holding at least one group", "");
  static const std::vector<Stat> kSummary = {
      {"latency_cycles", "latency of one inference, input in to result at the host", "cycles"},
      {"latency_s", "latency at the chip clock", "s"},
      {"throughput_inferences_per_s", "1 / latency", "inferences/s"},
      {"energy_pJ", "energy of one inference (sum of energy.*)", "pJ"},
      {"energy_per_sop_pJ", "energy / (SOPs + SDSA ops)", "pJ"},
      {"paper_energy_pJ", "paper formula 4.6 pJ x MACs + 0.9 pJ x (SOPs + SDSA ops)", "pJ"},
      {"power_W", "average power: energy / latency", "W"},
      {"area_mm2", "chip area, area model (area.*)", "mm2"},
      {"dram_bytes_per_inference", "off-chip bytes: weights reloaded + spills written + spills read", "bytes"},
      {"dram_bandwidth_utilisation", "DRAM bytes / (peak DRAM bandwidth x latency)", ""},
      {"weight_stall_share", "node-unit cycles waiting for weights / (cores used x run cycles), last input", ""},
      {"sops", "synaptic operations (additions of a weight)", ""},
      {"macs", "multiply-accumulates of the encoding layer", ""},
      {"spikes", "spike events emitted by LIF neurons", ""},
      {"packets", "network packets injected (one carries many spike events)", ""},
      {"flits", "network flits injected", ""}};
  L.add_table("summary.", sum, kSummary);
  L.add_each("energy.", obj(r, "energy_by_component_pJ"), "_pJ", "energy of component ", "pJ");
  L.add_each("power.", obj(obj(r, "power"), "by_component_W"), "_W", "average power of component ", "W");
  const json& area = obj(r, "area");
  static const std::vector<Stat> kArea = {
      {"total_mm2", "chip area: cores x core area", "mm2"},
      {"cores", "cores of the global mesh (all count)", ""},
      {"core_um2", "area of one core, router included", "um2"}};
  L.add_table("area.", area, kArea);
  L.add_each("area.core.", obj(area, "per_core_um2"), "_um2", "per-core area of ", "um2");
  L.add_each("dram.", obj(r, "dram"), "", "off-chip memory: ", "");
  for (const json& t : arr(r, "timesteps")) {
    const std::string p = fmt::format("timestep.{}.", json_text(get(t, "timestep")));
    for (const auto& [k, what, unit] : kTimestepColumns)
      if (std::string(k) != "timestep") L.add(p + k, get(t, k), what, unit);
  }
  // Busy and idle cycles are the last input's (report.json `layers` and `cores`, docs/reports.md).
  static const std::vector<Stat> kLayer = {
      {"spikes", "spike events emitted", ""},
      {"firing_rate", "spikes / (neurons x timesteps)", ""},
      {"sops", "synaptic operations", ""},
      {"energy_pJ", "energy of the layer's own events", "pJ"},
      {"busy_cycles", "cycles its cores' units spent on it, last input", "cycles"}};
  for (const json& l : arr(r, "layers")) L.add_table("layer." + name_part(l.value("name", std::string("?"))) + ".", l, kLayer);
  static const std::vector<Stat> kCore = {
      {"busy_cycles", "busy cycles, last input", "cycles"},
      {"idle_cycles", "idle cycles of its input engine, node unit and packetiser, last input", "cycles"},
      {"utilisation", "busy / (3 x run cycles), last input", ""},
      {"sops", "synaptic operations, last input", ""}};
  for (const json& c : arr(r, "cores")) L.add_table("core." + json_text(get(c, "id")) + ".", c, kCore);
  static const std::vector<Stat> kHost = {
      {"wall_s", "wall time of the whole command (host)", "s"},
      {"chip_wall_s", "wall time of the chip simulation (host)", "s"},
      {"golden_wall_s", "wall time of the golden executor (host)", "s"},
      {"cycles_per_wall_s", "simulation speed (host)", "cycles/s"}};
  L.add_table("host.", run, kHost);
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
