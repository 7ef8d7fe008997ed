// Comparison of two run reports (report/compare.hpp).
#include "report/compare.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>

#include "report/csv.hpp"
#include "report/report_writer.hpp"
#include "base/error.hpp"
#include "base/json_text.hpp"

namespace spikechip::report {

using json = nlohmann::json;

namespace {

const json& sub(const json& j, const char* key) {
  static const json empty = json::object();
  auto it = j.find(key);
  return it != j.end() && it->is_object() ? *it : empty;
}

// One compared figure: {name, a, b, delta, rel} (rel null when a is 0 or either side is missing).
json row(const std::string& name, const json& a, const json& b, const std::string& unit = "") {
  json r = {{"name", name}, {"a", a}, {"b", b}, {"delta", nullptr}, {"rel", nullptr}};
  if (!unit.empty()) r["unit"] = unit;
  if (a.is_number() && b.is_number()) {
    const double x = a.get<double>(), y = b.get<double>();
    r["delta"] = y - x;
    if (x != 0) r["rel"] = (y - x) / std::abs(x);
  }
  return r;
}

// Rows for every numeric key of two objects, in `order` first, then the others alphabetically.
json object_rows(const json& a, const json& b, const std::vector<std::string>& order, const std::string& unit) {
  std::vector<std::string> keys = order;
  std::set<std::string> rest;
  for (const json* o : {&a, &b})
    for (auto it = o->begin(); it != o->end(); ++it)
      if (it->is_number() && std::find(keys.begin(), keys.end(), it.key()) == keys.end()) rest.insert(it.key());
  keys.insert(keys.end(), rest.begin(), rest.end());
  json rows = json::array();
  for (const auto& k : keys)
    if (a.contains(k) || b.contains(k)) rows.push_back(row(k, a.value(k, json()), b.value(k, json()), unit));
  return rows;
}

// Dotted paths of the scalar leaves of a JSON object.
void leaves(const json& j, const std::string& prefix, std::map<std::string, json>& out) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) leaves(*it, prefix.empty() ? it.key() : prefix + "." + it.key(), out);
  } else {
    out[prefix] = j;
  }
}

std::string fmt_value(const json& v) {
  if (v.is_null()) return "-";
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (d != 0 && (std::abs(d) >= 1e7 || std::abs(d) < 1e-3)) return fmt::format("{:.4g}", d);
    return fmt::format("{:.{}f}", d, std::abs(d) >= 100 ? 0 : std::abs(d) >= 1 ? 3 : 5);
  }
  return v.is_string() ? v.get<std::string>() : json_text(v);
}

std::string fmt_rel(const json& r) {
  if (!r.is_number()) return "";
  return fmt::format("{:+.2f} %", 100 * r.get<double>());
}

}  // namespace

json compare_reports(const json& a, const json& b, const CompareOptions& opt) {
  for (const auto* r : {&a, &b})
    if (!r->is_object() || !r->contains("summary"))
      throw Error(fmt::format("{}: not a run report (no /summary); give the report.json of 'spikechip run'",
                              r == &a ? opt.name_a : opt.name_b));
  const json &ma = sub(a, "model"), &mb = sub(b, "model");
  std::vector<std::string> la, lb;
  for (const auto& l : a.value("layers", json::array())) la.push_back(l.value("name", ""));
  for (const auto& l : b.value("layers", json::array())) lb.push_back(l.value("name", ""));
  const std::string ga = ma.value("graph_sha256", ""), gb = mb.value("graph_sha256", "");
  const bool same_model = la == lb && (ga.empty() || gb.empty() || ga == gb);
  if (!same_model && !opt.summary_only)
    throw Error(fmt::format(
        "{} and {} are reports of different models ('{}', {} layers, graph {} vs '{}', {} layers, graph {}): a per-layer "
        "comparison is meaningless; add --summary-only to compare the summary and the energy only",
        opt.name_a, opt.name_b, ma.value("name", "?"), la.size(), ga.substr(0, 12), mb.value("name", "?"), lb.size(),
        gb.substr(0, 12)));

  json cmp = {{"schema", "spikechip.compare/1"}, {"a", opt.name_a}, {"b", opt.name_b}, {"same_model", same_model}};
  cmp["models"] = {ma.value("name", "?"), mb.value("name", "?")};
  cmp["chips"] = {sub(a, "chip").value("name", "?"), sub(b, "chip").value("name", "?")};
  static const std::vector<std::string> kSummary = {
      "latency_cycles", "latency_s", "throughput_inferences_per_s", "energy_pJ", "power_W", "energy_per_sop_pJ",
      "paper_energy_pJ", "area_mm2", "sops", "macs", "sdsa_ops", "spikes", "packets", "flits"};
  json srows = json::array();
  for (const auto& k : kSummary)
    if (sub(a, "summary").contains(k) || sub(b, "summary").contains(k))
      srows.push_back(row(k, sub(a, "summary").value(k, json()), sub(b, "summary").value(k, json())));
  cmp["summary"] = srows;
  const std::vector<std::string>& kComp = energy_component_order();
  cmp["energy_by_component_pJ"] = object_rows(sub(a, "energy_by_component_pJ"), sub(b, "energy_by_component_pJ"), kComp, "pJ");
  cmp["power_by_component_W"] =
      object_rows(sub(sub(a, "power"), "by_component_W"), sub(sub(b, "power"), "by_component_W"), kComp, "W");
  // Chip-config keys that differ (what was changed between the runs).
  std::map<std::string, json> ca, cb;
  leaves(sub(sub(a, "chip"), "config"), "", ca);
  leaves(sub(sub(b, "chip"), "config"), "", cb);
  json diff = json::array();
  std::set<std::string> keys;
  for (const auto& [k, v] : ca) keys.insert(k);
  for (const auto& [k, v] : cb) keys.insert(k);
  for (const auto& k : keys) {
    const json va = ca.count(k) ? ca[k] : json(), vb = cb.count(k) ? cb[k] : json();
    if (va != vb) diff.push_back(row(k, va, vb));
  }
  cmp["chip_config_changes"] = diff;
  if (same_model) {
    json layers = json::array();
    const json &LA = a.value("layers", json::array()), &LB = b.value("layers", json::array());
    for (size_t i = 0; i < LA.size() && i < LB.size(); ++i) {
      json l = {{"name", LA[i].value("name", "")}, {"op", LA[i].value("op", "")}};
      for (const char* k : {"busy_cycles", "energy_pJ", "spikes", "sops", "start_cycles", "end_cycles", "cores"})
        l[k] = row(k, LA[i].value(k, json()), LB[i].value(k, json()));
      layers.push_back(l);
    }
    cmp["layers"] = layers;
  }
  // The critical path, when both reports carry one: its numeric breakdown entries.
  const json &pa = sub(a, "critical_path"), &pb = sub(b, "critical_path");
  if (!pa.empty() && !pb.empty()) {
    json cp = {{"summary", object_rows(pa, pb, {}, "")}};
    for (const char* part : {"breakdown_cycles", "breakdown"})
      if (pa.contains(part) || pb.contains(part)) cp[part] = object_rows(sub(pa, part), sub(pb, part), {}, "cycles");
    cmp["critical_path"] = cp;
  }
  return cmp;
}

std::string compare_text(const json& c) {
  std::string out = fmt::format("A: {}\nB: {}\n", c.value("a", "A"), c.value("b", "B"));
  out += fmt::format("models: {} vs {}; chips: {} vs {}\n", c["models"][0].get<std::string>(), c["models"][1].get<std::string>(),
                     c["chips"][0].get<std::string>(), c["chips"][1].get<std::string>());
  auto table = [&](const std::string& title, const json& rows) {
    if (!rows.is_array() || rows.empty()) return;
    out += "\n" + title + "\n";
    out += fmt::format("  {:<34} {:>16} {:>16} {:>16} {:>10}\n", "", "A", "B", "B - A", "change");
    for (const auto& r : rows)
      out += fmt::format("  {:<34} {:>16} {:>16} {:>16} {:>10}\n", r.value("name", ""), fmt_value(r["a"]), fmt_value(r["b"]),
                         fmt_value(r["delta"]), fmt_rel(r["rel"]));
  };
  if (!c["chip_config_changes"].empty()) {
    out += "\nchip config changes\n";
    for (const auto& r : c["chip_config_changes"])
      out += fmt::format("  {:<34} {} -> {}\n", r.value("name", ""), fmt_value(r["a"]), fmt_value(r["b"]));
  }
  table("summary (per inference)", c["summary"]);
  table("energy by component (pJ per inference)", c["energy_by_component_pJ"]);
  table("average power by component (W)", c["power_by_component_W"]);
  if (c.contains("critical_path")) {
    table("critical path", c["critical_path"]["summary"]);
    for (const char* part : {"breakdown_cycles", "breakdown"})
      if (c["critical_path"].contains(part)) table(std::string("critical path: ") + part, c["critical_path"][part]);
  }
  if (c.contains("layers")) {
    out += "\nper layer: busy cycles and energy (pJ per inference)\n";
    out += fmt::format("  {:<34} {:>12} {:>12} {:>10} {:>14} {:>14} {:>10}\n", "layer", "busy A", "busy B", "change", "energy A",
                       "energy B", "change");
    for (const auto& l : c["layers"])
      out += fmt::format("  {:<34} {:>12} {:>12} {:>10} {:>14} {:>14} {:>10}\n", l.value("name", "").substr(0, 34),
                         fmt_value(l["busy_cycles"]["a"]), fmt_value(l["busy_cycles"]["b"]), fmt_rel(l["busy_cycles"]["rel"]),
                         fmt_value(l["energy_pJ"]["a"]), fmt_value(l["energy_pJ"]["b"]), fmt_rel(l["energy_pJ"]["rel"]));
  } else {
    out += "\nper layer: not compared (different models)\n";
  }
  return out;
}

}  // namespace spikechip::report
