#include "cosim/requests.hpp"

#include <fmt/format.h>

#include <chrono>
#include <vector>

#include "base/json_text.hpp"
#include "cosim/cycle_run.hpp"
#include "models/graph_io.hpp"
#include "pipeline/run_pipeline.hpp"
#include "report/golden_report.hpp"

namespace spikechip::cosim {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

json tensor_list(const model::SafeTensors& st) {
  json a = json::array();
  for (const auto& [name, t] : st.tensors)
    a.push_back({{"name", name}, {"dtype", wire_dtype_name(t.dtype)}, {"shape", t.shape}});
  return a;
}

json model_summary(const LoadedModel& m) {
  const model::Graph& g = m.graph;
  const model::Node& in = g.input();
  return {{"name", g.name},
          {"origin", m.origin},
          {"model_version", m.version},
          {"timesteps", g.timesteps},
          {"num_classes", g.num_classes},
          {"nodes", g.nodes.size()},
          {"input", {{"shape", {in.shape.c, in.shape.h, in.shape.w}}, {"encoding", in.encoding}}},
          {"provenance", g.provenance},
          {"tensors", tensor_list(model::graph_tensors(g))}};
}

std::shared_ptr<LoadedModel> publish(SessionState& s, model::Graph g, std::string origin) {
  auto m = std::make_shared<LoadedModel>();
  m->graph = std::move(g);
  m->origin = std::move(origin);
  m->version = ++s.versions;
  s.model = m;
  return m;
}

// load_model and set_chip take their object either from a file on the server ("path") or inline
// in the request: exactly one of the two. Returns the path when it was given.
std::optional<std::string> path_or_inline(const json& h, const char* inline_key, const std::string& usage) {
  if (h.contains("path") == h.contains(inline_key)) throw ProtocolError(code::kBadHeader, usage);
  if (!h.contains("path")) return std::nullopt;
  if (!h["path"].is_string()) throw ProtocolError(code::kBadHeader, "\"path\" must be a string");
  return h["path"].get<std::string>();
}

// Library errors (bad model, bad chip, ...) reach the client as protocol errors with `error_code`.
template <class F>
void as_protocol_error(const char* error_code, F&& f) {
  try {
    f();
  } catch (const ProtocolError&) {
    throw;
  } catch (const Error& e) {
    throw ProtocolError(error_code, e.what());
  } catch (const nlohmann::json::exception& e) {  // a reader that let a mistyped value through
    throw ProtocolError(error_code, e.what());
  }
}

// A reply without tensor frames.
Message reply(json header) {
  Message r;
  r.header = std::move(header);
  return r;
}

Message handle_load_model(const Ctx& c, const Message& req) {
  const json& h = req.header;
  check_keys(h, {"type", "id", "protocol", "path", "graph", "tensors"});
  const auto path = path_or_inline(h, "graph",
                                   "load_model needs exactly one of \"path\" (model directory on the server) "
                                   "or \"graph\" (graph.json object, with the tensors as frames)");
  as_protocol_error(code::kBadModel, [&] {
    if (path) {
      if (!req.tensors.empty()) throw ProtocolError(code::kBadFrames, "load_model by path takes no tensor frames");
      publish(c.s, model::load_model(*path), *path);
    } else {
      const std::string origin = "load_model request graph";
      model::Graph g = model::graph_from_json(h["graph"], origin);
      model::validate_graph_structure(g, origin);  // as load_model from disk: attach_tensors relies on it
      model::SafeTensors st;
      for (const NamedTensor& t : req.tensors) st.tensors[t.name] = t.data;
      model::attach_tensors(g, st, origin);
      model::validate_graph(g, origin);
      publish(c.s, std::move(g), "(sent by client)");
    }
  });
  return reply({{"type", "model_loaded"}, {"model", model_summary(*c.s.model)}});
}

// The strict tensor check of update_weights: each name must be one of the graph's tensors with
// the same dtype and shape; the updated graph is validated as a whole (e.g. shift range).
Message handle_update_weights(const Ctx& c, const Message& req) {
  const json& h = req.header;
  check_keys(h, {"type", "id", "protocol", "tensors", "quant"});
  if (!c.s.model) throw ProtocolError(code::kNoModel, "update_weights before load_model: load a model first");
  if (req.tensors.empty() && !h.contains("quant"))
    throw ProtocolError(code::kBadHeader, "update_weights needs tensor frames and/or \"quant\"");
  const LoadedModel& cur = *c.s.model;
  model::SafeTensors st = model::graph_tensors(cur.graph);
  json updated = json::array();
  for (const NamedTensor& t : req.tensors) {
    auto it = st.tensors.find(t.name);
    if (it == st.tensors.end())
      throw ProtocolError(code::kBadTensor, "update_weights: model '" + cur.graph.name + "' has no tensor '" + t.name +
                                                "' (names are <node>.weight|bias|shift|threshold|zero_point, see the "
                                                "\"tensors\" list of the load_model reply)");
    if (it->second.dtype != t.data.dtype || it->second.shape != t.data.shape)
      throw ProtocolError(code::kBadTensor,
                          fmt::format("update_weights: tensor '{}' is {} {}, expected {} {}", t.name,
                                      wire_dtype_name(t.data.dtype), model::shape_to_string(t.data.shape),
                                      wire_dtype_name(it->second.dtype), model::shape_to_string(it->second.shape)));
    it->second = t.data;
    updated.push_back(t.name);
  }
  model::Graph g = cur.graph;  // copy: runs of the old snapshot may still be replying
  if (h.contains("quant")) {
    if (!h["quant"].is_object())
      throw ProtocolError(code::kBadHeader, "\"quant\" must be an object {node name: quant object}");
    for (const auto& [name, q] : h["quant"].items()) {
      const int i = g.find(name);
      if (i < 0) throw ProtocolError(code::kBadHeader, "update_weights: \"quant\" names unknown node '" + name + "'");
      if (!q.is_object()) throw ProtocolError(code::kBadHeader, "update_weights: quant of '" + name + "' must be an object");
      g.nodes[size_t(i)].quant = q;
    }
  }
  as_protocol_error(code::kBadTensor, [&] {
    const std::string origin = "update_weights of model '" + g.name + "'";
    model::attach_tensors(g, st, origin);
    model::validate_graph(g, origin);
  });
  auto m = publish(c.s, std::move(g), cur.origin + " (updated)");
  return reply({{"type", "weights_updated"}, {"updated", updated}, {"model_version", m->version}});
}

json chip_summary(const arch::ChipConfig& ch) {
  return {{"name", ch.name},
          {"mesh", {ch.global_width(), ch.global_height()}},
          {"cores", ch.num_cores()},
          {"clock_hz", ch.clock_hz},
          {"tech_node", ch.tech.node},
          {"source", ch.source_path}};
}

Message handle_set_chip(const Ctx& c, const Message& req) {
  const json& h = req.header;
  check_keys(h, {"type", "id", "protocol", "path", "chip"});
  const auto path =
      path_or_inline(h, "chip", "set_chip needs exactly one of \"path\" (chip JSON on the server) or \"chip\"");
  if (!req.tensors.empty()) throw ProtocolError(code::kBadFrames, "set_chip takes no tensor frames");
  as_protocol_error(code::kBadChip, [&] {
    c.s.chip = path ? arch::load_chip_config(*path) : arch::chip_config_from_json(h["chip"], "set_chip request chip");
  });
  return reply({{"type", "chip_set"}, {"chip", chip_summary(*c.s.chip)}});
}

Message handle_map(const Ctx& c, const Message& req) {
  const json& h = req.header;
  check_keys(h, {"type", "id", "protocol", "placement", "seed"});
  if (!c.s.model) throw ProtocolError(code::kNoModel, "map before load_model: load a model first");
  if (!c.s.chip) throw ProtocolError(code::kNoChip, "map before set_chip: set a chip first (or start the server with --chip)");
  mapper::MapOptions mo;
  if (h.contains("placement")) {
    if (!h["placement"].is_string()) throw ProtocolError(code::kBadHeader, "\"placement\" must be a string");
    mo.placement = h["placement"].get<std::string>();
  }
  if (h.contains("seed")) {
    if (!h["seed"].is_number_unsigned()) throw ProtocolError(code::kBadHeader, "\"seed\" must be an integer >= 0");
    mo.seed = h["seed"].get<uint64_t>();
  }
  mapper::Mapping m;
  try {
    m = mapper::map_model(c.s.model->graph, *c.s.chip, mo);
  } catch (const std::exception& e) {  // UsageError for a bad placement name, Error when it does not fit
    throw ProtocolError(code::kMapFailed, e.what());
  }
  c.s.mapping = std::make_shared<const mapper::Mapping>(m);
  return reply({{"type", "mapped"},
                {"model_version", c.s.model->version},
                {"chip", chip_summary(*c.s.chip)},
                {"groups", m.groups.size()},
                {"routes", m.routes.size()},
                {"summary", m.summary}});
}

// A parsed run request: the input batch as views into the request's frame.
struct RunRequest {
  std::string mode;
  int T = 1;
  int64_t B = 0;
  bool layers = true;
  std::vector<model::InputView> inputs;
  std::vector<int> labels;  // [B], -1 when not given
  std::vector<std::string> origins;
};

RunRequest parse_run(const Ctx& c, const Message& req, const model::Graph& g) {
  const json& h = req.header;
  RunRequest rq;
  rq.mode = "golden";
  if (h.contains("mode")) {
    if (!h["mode"].is_string() || (h["mode"] != "golden" && h["mode"] != "cycle"))
      throw ProtocolError(code::kBadHeader,
                          "\"mode\" must be 'golden' or 'cycle', got " + excerpt(json_text(h["mode"])));
    rq.mode = h["mode"].get<std::string>();
  }
  if (h.contains("layers") && !h["layers"].is_boolean()) throw ProtocolError(code::kBadHeader, "\"layers\" must be true or false");
  rq.layers = h.value("layers", true);
  rq.T = g.timesteps;
  if (h.contains("T")) {
    if (!h["T"].is_number_integer()) throw ProtocolError(code::kBadHeader, "\"T\" must be an integer");
    const int64_t t = h["T"].get<int64_t>();
    if (t < 1 || t > c.opt.max_timesteps)
      throw ProtocolError(code::kBadHeader, fmt::format("\"T\" = {} out of range 1..{}", t, c.opt.max_timesteps));
    rq.T = int(t);
  }
  if (req.tensors.size() != 1 || req.tensors[0].name != "x")
    throw ProtocolError(code::kBadFrames, "run takes exactly one tensor frame named 'x' (uint8 [B,C,H,W], or "
                                          "[B,T,C,H,W] for an events model)");
  const model::TensorData& x = req.tensors[0].data;
  const model::Shape& is = g.input().shape;
  const bool events = g.input().encoding == "events";
  std::vector<int64_t> want = {-1, is.c, is.h, is.w};
  if (events) want.insert(want.begin() + 1, rq.T);
  bool ok = x.dtype == model::DType::U8 && x.shape.size() == want.size();
  for (size_t k = 1; ok && k < want.size(); ++k) ok = x.shape[k] == want[k];
  if (!ok) {
    std::string w = events ? fmt::format("[B, {}, {}, {}, {}]", rq.T, is.c, is.h, is.w)
                           : fmt::format("[B, {}, {}, {}]", is.c, is.h, is.w);
    throw ProtocolError(code::kBadTensor, fmt::format("run: 'x' is {} {}, model '{}' needs uint8 {}",
                                                      wire_dtype_name(x.dtype), model::shape_to_string(x.shape), g.name, w));
  }
  rq.B = x.shape[0];
  if (rq.B < 1 || rq.B > c.opt.max_batch)
    throw ProtocolError(code::kTooLarge, fmt::format("run: batch {} out of range 1..{} (--max-batch)", rq.B, c.opt.max_batch));
  rq.labels.assign(size_t(rq.B), -1);
  if (h.contains("labels")) {
    const json& l = h["labels"];
    if (!l.is_array() || int64_t(l.size()) != rq.B)
      throw ProtocolError(code::kBadHeader, fmt::format("\"labels\" must be an array of {} integers", rq.B));
    for (int64_t k = 0; k < rq.B; ++k) {
      const json& v = l[size_t(k)];
      if (!v.is_number_integer() || (v.is_number_unsigned() ? v.get<uint64_t>() > INT32_MAX : v.get<int64_t>() < -1))
        throw ProtocolError(code::kBadHeader, "\"labels\" must hold integers >= -1 (-1: unknown)");
      rq.labels[size_t(k)] = v.get<int>();
    }
  }
  const int frames = events ? rq.T : 1;
  const size_t stride = size_t(frames) * size_t(is.size());
  for (int64_t k = 0; k < rq.B; ++k) {
    rq.inputs.push_back(model::InputView{x.bytes.data() + size_t(k) * stride, frames, is});
    rq.origins.push_back(fmt::format("x[{}]", k));
  }
  return rq;
}

// The reply both run modes share; `latency` and the report are mode-specific.
Message run_result(const RunRequest& rq, const LoadedModel& m, json preds, json spikes, json energy, json latency,
                   json rep) {
  return reply({{"type", "run_result"},
                {"mode", rq.mode},
                {"model_version", m.version},
                {"T", rq.T},
                {"batch", rq.B},
                {"predictions", std::move(preds)},
                {"spikes", std::move(spikes)},
                {"energy_pJ", std::move(energy)},
                {"latency", std::move(latency)},
                {"report", std::move(rep)}});
}

Message run_golden(const Ctx& c, LoadedModel& m, const RunRequest& rq) {
  const model::Graph& g = m.graph;
  std::vector<report::ReportOptions> ro(size_t(rq.B));
  for (size_t k = 0; k < ro.size(); ++k) ro[k].label = rq.labels[k], ro[k].input_origin = rq.origins[k];
  const auto t0 = Clock::now();
  std::vector<model::RunResult> runs;
  runs.reserve(size_t(rq.B));
  {
    std::lock_guard lk(m.exec_mutex);
    if (!m.exec) m.exec = std::make_unique<model::GoldenExecutor>(g);
    model::RunOptions o;
    o.threads = c.opt.exec_threads;
    o.cancel = &c.cancel;
    for (const model::InputView& in : rq.inputs) runs.push_back(m.exec->run(in, rq.T, o));
  }
  const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  json rep = report::make_golden_report(g, runs, ro);
  if (!rq.layers) rep.erase("layers");
  else
    for (json& l : rep["layers"]) l.erase("per_timestep");  // per-timestep detail: spikechip infer
  json preds = json::array(), spikes = json::array(), energy = json::array();
  for (const json& in : rep["inputs"]) {
    preds.push_back(in["prediction"]);
    spikes.push_back(in["spikes"]);
    energy.push_back(in["paper_energy_pJ"]);
  }
  return run_result(rq, m, std::move(preds), std::move(spikes), std::move(energy),
                    {{"wall_s", wall}, {"cycles", nullptr}}, std::move(rep));
}


// mode "cycle": the batch on the cycle-accurate chip in this worker thread (cosim/cycle_run),
// verified against the golden executor and reported exactly as `spikechip run` does.
Message run_cycle(const Ctx& c, const LoadedModel& m, const RunRequest& rq) {
  if (!c.s.chip)
    throw ProtocolError(code::kNoChip, "run mode 'cycle' needs a chip: set_chip first (or start the server with --chip)");
  const arch::ChipConfig& chip = *c.s.chip;
  // `spikechip run` maps the graph with its timesteps set to T; the same graph is used here.
  std::optional<model::Graph> gT;
  if (rq.T != m.graph.timesteps) gT = m.graph, gT->timesteps = rq.T;
  const model::Graph& g = gT ? *gT : m.graph;
  if (!c.s.mapping || c.s.mapping->model_hash != mapper::structure_hash(g) || c.s.mapping->chip_hash != mapper::chip_hash(chip)) {
    try {  // as `spikechip run` without --mapping: placed with the firing rates these inputs have
      c.s.mapping = std::make_shared<const mapper::Mapping>(pipeline::map_for_inputs(g, chip, rq.inputs, rq.T, {}));
    } catch (const std::exception& e) {
      throw ProtocolError(code::kMapFailed, e.what());
    }
  }
  const std::shared_ptr<const mapper::Mapping> mp = c.s.mapping;
  const auto t0 = Clock::now();
  CycleBatch batch;
  batch.graph = &g, batch.chip = &chip, batch.mapping = mp.get();
  batch.inputs = rq.inputs, batch.origins = rq.origins, batch.labels = rq.labels;
  batch.T = rq.T, batch.exec_threads = c.opt.exec_threads, batch.model_origin = m.origin;
  CycleOutcome res;
  try {
    res = run_cycle_batch(batch, c.cancel);
  } catch (const model::RunCancelled&) {
    throw;
  } catch (const Error& e) {  // the chip cannot run this mapping (stall, bad mapping)
    throw ProtocolError(code::kSimFailed, e.what());
  }
  const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  json rep = std::move(res.report);
  rep.erase("timeline");  // cycle-level detail: `spikechip run -o` writes it
  if (!rq.layers) rep.erase("layers"), rep.erase("cores"), rep.erase("links");
  json preds = json::array(), energy = json::array(), cycles = json::array(), secs = json::array();
  for (const json& in : rep["inputs"]) {
    preds.push_back(in["prediction"]);
    energy.push_back(in["energy_pJ"]);
    cycles.push_back(in["latency_cycles"]);
    secs.push_back(in["latency_cycles"].get<double>() / chip.clock_hz);
  }
  json by_component = rep["energy_by_component_pJ"], verified = rep["run"]["verified"];
  Message r = run_result(rq, m, std::move(preds), res.spikes, std::move(energy),
                         {{"wall_s", wall}, {"cycles", cycles}, {"s", secs}}, std::move(rep));
  r.header["energy_by_component_pJ"] = std::move(by_component);
  r.header["verified"] = std::move(verified);
  if (!res.mismatch.empty()) r.header["mismatch"] = res.mismatch;
  return r;
}

Message handle_run(const Ctx& c, const Message& req) {
  check_keys(req.header, {"type", "id", "protocol", "tensors", "T", "mode", "labels", "layers"});
  if (!c.s.model) throw ProtocolError(code::kNoModel, "run before load_model: load a model first");
  std::shared_ptr<LoadedModel> m = c.s.model;
  const RunRequest rq = parse_run(c, req, m->graph);
  return rq.mode == "cycle" ? run_cycle(c, *m, rq) : run_golden(c, *m, rq);
}

}  // namespace

Message dispatch(const Ctx& c, const Message& req) {
  const std::string t = req.header["type"].get<std::string>();
  if (t == "load_model") return handle_load_model(c, req);
  if (t == "update_weights") return handle_update_weights(c, req);
  if (t == "set_chip") return handle_set_chip(c, req);
  if (t == "map") return handle_map(c, req);
  return handle_run(c, req);
}


}  // namespace spikechip::cosim
