#include "models/executor.hpp"

#include <algorithm>
#include <cstring>
#include <thread>

#include "sim/error.hpp"
#include "spikechip/version.hpp"

namespace spikechip::model {

namespace {
// Below this many dense ops a layer is not worth a second thread (thread start ~ tens of us).
constexpr int64_t kThreadMinDenseOps = int64_t(1) << 22;

int64_t sdsa_dense_ops(const Node& n) {
  const int64_t N = int64_t(n.shape.h) * n.shape.w;
  return 2 * N * n.shape.c * (n.shape.c / n.heads);
}

// Runs fn(part) for part = 0..parts-1, the first on the calling thread.
template <class Fn>
void parallel_parts(int parts, Fn&& fn) {
  if (parts <= 1) return fn(0);
  std::vector<std::thread> ts;
  ts.reserve(parts - 1);
  for (int k = 1; k < parts; ++k) ts.emplace_back([&fn, k] { fn(k); });
  fn(0);
  for (auto& t : ts) t.join();
}
}  // namespace

GoldenExecutor::GoldenExecutor(const Graph& g) : g_(g) {
  const size_t n = g.nodes.size();
  if (n < 2 || g.nodes.front().op != Op::Input || g.nodes.back().op != Op::Output)
    throw Error("graph '" + g.name + "': needs an Input node first and an Output node last");
  plans_.resize(n), val_.resize(n), vmem_.resize(n), spk_.resize(n), act_.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const Node& nd = g.nodes[i];
    const int64_t size = nd.shape.size();
    switch (nd.op) {
      case Op::Conv2d:
      case Op::Linear: {
        const Node& src = g.nodes[nd.inputs.at(0)];
        int64_t in_max = 1;
        if (src.kind() == ValueKind::Input) {
          int64_t zp = 0;
          for (int32_t z : src.zero_point) zp = std::max<int64_t>(zp, std::abs(int64_t(z)));
          in_max = 255 + zp;
        } else if (src.kind() != ValueKind::Spike) {
          throw Error("node '" + nd.name + "': a " + op_name(nd.op) + " reads spikes or the input, not '" +
                      src.name + "' (" + op_name(src.op) + ")");
        }
        plans_[i] = make_conv_plan(g, nd, in_max);
        val_[i].resize(size);
        break;
      }
      case Op::LIF:
        vmem_[i].resize(size), spk_[i].resize(size);
        break;
      case Op::Output:
        break;
      default:
        val_[i].resize(size);
    }
  }
}

void GoldenExecutor::check_input(const InputView& in) const {
  const Node& inp = g_.input();
  if (!(in.shape == inp.shape))
    throw Error("input shape " + std::to_string(in.shape.c) + "x" + std::to_string(in.shape.h) + "x" +
                std::to_string(in.shape.w) + " does not match the model's input '" + inp.name + "' " +
                std::to_string(inp.shape.c) + "x" + std::to_string(inp.shape.h) + "x" +
                std::to_string(inp.shape.w) + ": resize the input or rebuild the model");
  if (in.frames < 1 || !in.data) throw Error("input has no frames");
  if (int64_t(inp.zero_point.size()) != inp.shape.c)
    throw Error("node '" + inp.name + "': zero_point has " + std::to_string(inp.zero_point.size()) +
                " entries, expected " + std::to_string(inp.shape.c));
}

void GoldenExecutor::begin(const InputView& in, const RunOptions& opt) {
  check_input(in);
  in_ = in;
  threads_ = std::max(1, opt.threads);
  scratch32_.resize(size_t(threads_)), scratch64_.resize(size_t(threads_));
  for (auto& v : vmem_) std::fill(v.begin(), v.end(), 0);
  out_acc_.assign(g_.output().shape.c, 0);
  cache_.assign(g_.nodes.size(), StepStats{});
}

StepStats GoldenExecutor::eval_conv(size_t i, int t) {
  const Node& n = g_.nodes[i];
  const ConvPlan& p = plans_[i];
  const size_t src = size_t(n.inputs[0]);
  StepStats st;
  st.dense_ops = dense_ops(g_, n);
  const bool from_input = g_.nodes[src].kind() == ValueKind::Input;
  // With image encoding the first layer sees the same frame at every step: same output, same work.
  if (from_input && t > 0 && in_.frames == 1) return cache_[i];

  const int parts = (threads_ > 1 && st.dense_ops >= kThreadMinDenseOps) ? std::min(threads_, p.cout) : 1;
  std::vector<StepStats> part_st(parts);
  int32_t* out = val_[i].data();
  parallel_parts(parts, [&](int k) {
    // Split output rows when there are enough (every thread then adds full channel runs, the
    // widest vectors); else output channels. Each neuron is written by exactly one thread.
    const Slice s = p.hout >= 4 * parts
                        ? Slice{0, p.cout, p.hout * k / parts, p.hout * (k + 1) / parts, 0, p.wout}
                        : Slice{p.cout * k / parts, p.cout * (k + 1) / parts, 0, p.hout, 0, p.wout};
    auto work = [&](auto* acc) {
      int64_t ops = 0;
      if (from_input) {
        const std::vector<int32_t>& x = val_[src];
        const int64_t hw = int64_t(p.hin) * p.win;
        for (int c = 0; c < p.cin; ++c)
          for (int y = 0; y < p.hin; ++y)
            for (int xx = 0; xx < p.win; ++xx) ops += mac_pixel(p, c, y, xx, x[c * hw + y * p.win + xx], acc, s);
        part_st[k].macs = ops;
      } else {
        const std::vector<int32_t>& a = act_[src];
        part_st[k].sops = scatter_spikes(p, a.data(), int64_t(a.size()), acc, s);
      }
      part_st[k].saturations = conv_finalize(p, acc, s, out);
    };
    // Scratch accumulators persist across layers and runs: fresh allocations of this size would
    // be page-faulted in by the kernel on every layer, serialising the threads.
    if (p.wide) {
      auto& acc = scratch64_[k];
      acc.assign(size_t(s.size()), 0);
      work(acc.data());
    } else {
      auto& acc = scratch32_[k];
      acc.assign(size_t(s.size()), 0);
      work(acc.data());
    }
  });
  for (const auto& ps : part_st) st.macs += ps.macs, st.sops += ps.sops, st.saturations += ps.saturations;
  if (from_input) cache_[i] = st;
  return st;
}

StepStats GoldenExecutor::eval_node(size_t i, int t) {
  const Node& n = g_.nodes[i];
  StepStats st;
  const int64_t hw = int64_t(n.shape.h) * n.shape.w;
  switch (n.op) {
    case Op::Input: {
      if (n.encoding == "events" && t >= in_.frames)
        throw Error("input has " + std::to_string(in_.frames) + " event frames but timestep " + std::to_string(t) +
                    " was requested: run with -T " + std::to_string(in_.frames) + " or less");
      const int64_t size = n.shape.size();
      const uint8_t* f = in_.data + (in_.frames == 1 ? 0 : int64_t(t) * size);
      for (int64_t j = 0; j < size; ++j) val_[i][j] = int32_t(f[j]) - n.zero_point[j / hw];
      break;
    }
    case Op::Conv2d:
    case Op::Linear:
      return eval_conv(i, t);
    case Op::LIF: {
      if (int64_t(n.threshold.size()) != n.shape.c)
        throw Error("node '" + n.name + "': threshold has " + std::to_string(n.threshold.size()) +
                    " entries, expected " + std::to_string(n.shape.c));
      act_[i].clear();
      st.saturations = lif_update(val_[n.inputs[0]].data(), vmem_[i].data(), n.threshold.data(), n.tau_shift, 0,
                                  n.shape.c, hw, spk_[i].data(), act_[i]);
      st.spikes = int64_t(act_[i].size());
      break;
    }
    case Op::Add: {
      std::vector<const int32_t*> ins;
      for (int j : n.inputs) ins.push_back(val_[j].data());
      st.saturations = add_membranes(ins, 0, n.shape.size(), val_[i].data());
      break;
    }
    case Op::SDSA: {
      const int d = n.shape.c / n.heads;
      const uint8_t *q = spk_[n.inputs[0]].data(), *k = spk_[n.inputs[1]].data(), *v = spk_[n.inputs[2]].data();
      std::vector<int32_t> A(size_t(d) * d);
      for (int g = 0; g < n.heads; ++g) {
        std::fill(A.begin(), A.end(), 0);
        st.sdsa_ops += sdsa_accumulate_kv(k, v, g, d, hw, 0, hw, A.data());
        st.sdsa_ops += sdsa_row_sums(q, A.data(), g, d, hw, 0, hw, n.sdsa_shift, val_[i].data(), st.saturations);
      }
      st.dense_ops = sdsa_dense_ops(n);
      break;
    }
    case Op::Mean: {
      const Shape& in = g_.input_shape(n);
      std::vector<int64_t> part(n.shape.c, 0);
      mean_partial(val_[n.inputs[0]].data(), int64_t(in.h) * in.w, 0, n.shape.c, 0, int64_t(in.h) * in.w,
                   part.data());
      for (int c = 0; c < n.shape.c; ++c) val_[i][c] = sat32(part[c], st.saturations);
      break;
    }
    case Op::Output: {
      const std::vector<int32_t>& x = val_[n.inputs[0]];
      for (int o = 0; o < n.shape.c; ++o) out_acc_[o] += x[o];
      break;
    }
  }
  return st;
}

RunResult GoldenExecutor::run(const InputView& in, int T, const RunOptions& opt) {
  if (T < 1) throw UsageError("the number of timesteps must be >= 1 (got " + std::to_string(T) + ")");
  begin(in, opt);
  RunResult r;
  r.T = T;
  const size_t n = g_.nodes.size();
  r.stats.assign(n, std::vector<StepStats>(T));
  if (opt.record_spikes) {
    r.spikes.resize(n);
    for (size_t i = 0; i < n; ++i)
      if (g_.nodes[i].op == Op::LIF) r.spikes[i].resize(size_t(T) * g_.nodes[i].shape.size());
  }
  for (int t = 0; t < T; ++t)
    for (size_t i = 0; i < n; ++i) {
      r.stats[i][t] = eval_node(i, t);
      if (opt.record_spikes && g_.nodes[i].op == Op::LIF)
        std::memcpy(r.spikes[i].data() + size_t(t) * spk_[i].size(), spk_[i].data(), spk_[i].size());
    }
  r.output_acc = out_acc_;
  r.prediction = int(std::max_element(out_acc_.begin(), out_acc_.end()) - out_acc_.begin());  // first max
  return r;
}

nlohmann::json make_report(const Graph& g, const RunResult& r, const ReportOptions& o) {
  return make_report(g, std::vector<RunResult>{r}, std::vector<ReportOptions>{o});
}

nlohmann::json make_report(const Graph& g, const std::vector<RunResult>& runs, const std::vector<ReportOptions>& opts) {
  using nlohmann::json;
  if (runs.empty() || runs.size() != opts.size()) throw Error("make_report: needs one ReportOptions per run");
  const int T = runs.front().T;
  // SDSA additions are accumulates like SOPs (mspk_ops.py counts them in AC_dense as well).
  auto energy = [](const StepStats& s) {
    return kEnergyMacPj * double(s.macs) + kEnergyAcPj * double(s.sops + s.sdsa_ops);
  };
  auto add = [](StepStats& a, const StepStats& x) {
    a.spikes += x.spikes, a.sops += x.sops, a.macs += x.macs, a.sdsa_ops += x.sdsa_ops;
    a.dense_ops += x.dense_ops, a.saturations += x.saturations;
  };
  json layers = json::array();
  StepStats tot;
  double e_tot = 0;
  int64_t neurons = 0;  // LIF neuron updates over all inputs and timesteps
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    std::vector<StepStats> per(T);
    for (const RunResult& r : runs) {
      if (r.T != T) throw Error("make_report: all runs must have the same number of timesteps");
      for (int t = 0; t < T; ++t) add(per[t], r.stats[i][t]);
    }
    StepStats s;
    json pt = {{"spikes", json::array()}, {"sops", json::array()}, {"macs", json::array()},
               {"sdsa_ops", json::array()}, {"saturations", json::array()}};
    for (const StepStats& x : per) {
      add(s, x);
      pt["spikes"].push_back(x.spikes), pt["sops"].push_back(x.sops), pt["macs"].push_back(x.macs);
      pt["sdsa_ops"].push_back(x.sdsa_ops), pt["saturations"].push_back(x.saturations);
    }
    const int64_t updates = n.shape.size() * T * int64_t(runs.size());
    if (n.op == Op::LIF) neurons += updates;
    layers.push_back({{"name", n.name},
                      {"op", op_name(n.op)},
                      {"shape", {n.shape.c, n.shape.h, n.shape.w}},
                      {"spikes", s.spikes},
                      {"firing_rate", n.op == Op::LIF ? double(s.spikes) / double(updates) : 0.0},
                      {"sops", s.sops},
                      {"macs", s.macs},
                      {"sdsa_ops", s.sdsa_ops},
                      {"dense_ops", s.dense_ops},
                      {"saturations", s.saturations},
                      {"paper_energy_pJ", energy(s)},
                      {"per_timestep", std::move(pt)}});
    add(tot, s);
    e_tot += energy(s);
  }
  json inputs = json::array(), preds = json::array();
  const Node& outn = g.output();
  const bool has_scale = outn.quant.contains("scale") && outn.quant["scale"].is_number();
  for (size_t k = 0; k < runs.size(); ++k) {
    const RunResult& r = runs[k];
    StepStats s;
    for (const auto& node : r.stats)
      for (const auto& x : node) add(s, x);
    json in = {{"index", k},          {"origin", opts[k].input_origin}, {"label", opts[k].label},
               {"prediction", r.prediction}, {"spikes", s.spikes},      {"sops", s.sops},
               {"macs", s.macs},      {"sdsa_ops", s.sdsa_ops},         {"saturations", s.saturations},
               {"paper_energy_pJ", energy(s)}, {"output_acc", r.output_acc}};
    if (has_scale) {
      const double sc = outn.quant["scale"].get<double>();
      json lg = json::array();
      for (int64_t a : r.output_acc) lg.push_back(double(a) * sc / r.T);
      in["logits"] = lg;
    }
    inputs.push_back(std::move(in));
    preds.push_back(r.prediction);
  }
  return {{"schema", "spikechip.golden-report/1"},
          {"tool", {{"name", "spikechip"}, {"version", kVersion}}},
          {"units",
           {{"_pJ", "picojoules"},
            {"(no suffix)", "counts (spikes, operations, saturated values) or ratios in [0,1] (firing_rate = "
                            "spikes per neuron per timestep)"}}},
          {"model", {{"name", g.name}, {"provenance", g.provenance}}},
          {"energy_constants_pJ", {{"mac", kEnergyMacPj}, {"ac", kEnergyAcPj}}},
          {"run", {{"timesteps", T}, {"inputs", runs.size()}}},
          {"summary",
           {{"spikes", tot.spikes},
            {"firing_rate", neurons ? double(tot.spikes) / double(neurons) : 0.0},
            {"sops", tot.sops},
            {"macs", tot.macs},
            {"sdsa_ops", tot.sdsa_ops},
            {"dense_ops", tot.dense_ops},
            {"saturations", tot.saturations},
            {"paper_energy_pJ", e_tot},
            {"paper_energy_pJ_per_input", e_tot / double(runs.size())},
            {"top1_predictions", preds}}},
          {"inputs", std::move(inputs)},
          {"layers", std::move(layers)}};
}

}  // namespace spikechip::model
