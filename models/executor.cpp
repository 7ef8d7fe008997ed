#include "models/executor.hpp"

#include <algorithm>
#include <cstring>
#include <thread>

#include "base/error.hpp"
#include "models/fast_div.hpp"

namespace spikechip::model {

namespace {

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

GoldenExecutor::GoldenExecutor(const Graph& g) : g_(g), membrane_(Membrane::of_bits(g.membrane_bits)) {
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
  band_bytes_ = std::max<int64_t>(1, opt.band_bytes);
  min_parallel_ops_ = opt.min_parallel_ops;
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

  const int parts = (threads_ > 1 && st.dense_ops >= min_parallel_ops_) ? std::min(threads_, p.cout) : 1;
  const bool by_rows = p.hout >= 4 * parts;
  // Spikes bucketed by input position (stable: channel order kept within a position), so that a
  // band of output rows scatters only the spikes that can reach it (rows are runs of positions),
  // and the spikes of one position, which add into the same few accumulator rows, come one after
  // the other: those rows stay in L1 (in channel order every spike fetched them from L2 again).
  // Integer adds: the order does not change a sum.
  const std::vector<int32_t>* spikes = nullptr;
  if (!from_input) {
    const std::vector<int32_t>& a = act_[src];
    const int64_t hw = int64_t(p.hin) * p.win;
    const ChwIndex chw(p.hin, p.win);
    pos_fill_.assign(size_t(hw) + 1, 0);
    for (int32_t f : a) ++pos_fill_[size_t(chw.pos(f)) + 1];
    for (int64_t q = 0; q < hw; ++q) pos_fill_[size_t(q + 1)] += pos_fill_[size_t(q)];
    row_start_.resize(size_t(p.hin) + 1);
    for (int y = 0; y <= p.hin; ++y) row_start_[size_t(y)] = pos_fill_[size_t(int64_t(y) * p.win)];
    by_row_.resize(a.size());
    for (int32_t f : a) by_row_[size_t(pos_fill_[size_t(chw.pos(f))]++)] = f;
    spikes = &by_row_;
  }
  std::vector<StepStats> part_st(parts);
  int32_t* out = val_[i].data();
  parallel_parts(parts, [&](int k) {
    // Split output rows when there are enough (every thread then adds full channel runs, the
    // widest vectors); else output channels. Each neuron is written by exactly one thread.
    const Slice part = by_rows ? Slice{0, p.cout, p.hout * k / parts, p.hout * (k + 1) / parts, 0, p.wout}
                               : Slice{p.cout * k / parts, p.cout * (k + 1) / parts, 0, p.hout, 0, p.wout};
    // Bands of output rows whose accumulators fit in L2 (the scatter is random access within them).
    const int64_t row_bytes = int64_t(part.channels()) * p.wout * (p.wide ? 8 : 4);
    const int band = int(std::max<int64_t>(1, band_bytes_ / row_bytes));
    auto work = [&](auto& acc) {
      for (int y0 = part.y0; y0 < part.y1; y0 += band) {
        const Slice s{part.c0, part.c1, y0, std::min(part.y1, y0 + band), 0, p.wout};
        acc.assign(size_t(s.size()), 0);
        if (from_input) {
          const std::vector<int32_t>& x = val_[src];
          const int64_t hw = int64_t(p.hin) * p.win;
          for (int c = 0; c < p.cin; ++c)
            for (int y = 0; y < p.hin; ++y)
              for (int xx = 0; xx < p.win; ++xx)
                part_st[k].macs += mac_pixel(p, c, y, xx, x[c * hw + y * p.win + xx], acc.data(), s);
        } else {
          // Input rows that can reach output rows [s.y0, s.y1).
          const int r0 = std::max(0, s.y0 * p.sy - p.py), r1 = std::min(p.hin, (s.y1 - 1) * p.sy - p.py + p.kh);
          if (r0 < r1) {
            const int64_t b = row_start_[size_t(r0)], e = row_start_[size_t(r1)];
            part_st[k].sops += scatter_spikes(p, spikes->data() + b, e - b, acc.data(), s);
          }
        }
        part_st[k].saturations += conv_finalize(p, acc.data(), s, out);
      }
    };
    // Scratch accumulators persist across layers and runs: fresh allocations of this size would
    // be page-faulted in by the kernel on every layer, serialising the threads.
    if (p.wide) work(scratch64_[k]);
    else work(scratch32_[k]);
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
                                  n.shape.c, hw, spk_[i].data(), act_[i], membrane_);
      st.spikes = int64_t(act_[i].size());
      break;
    }
    case Op::Add: {
      std::vector<const int32_t*> ins;
      for (int j : n.inputs) ins.push_back(val_[j].data());
      st.saturations = add_membranes(ins, 0, n.shape.size(), val_[i].data(), membrane_);
      break;
    }
    case Op::SDSA: {
      const int d = n.shape.c / n.heads;
      const uint8_t *q = spk_[n.inputs[0]].data(), *k = spk_[n.inputs[1]].data(), *v = spk_[n.inputs[2]].data();
      std::vector<int32_t> A(size_t(d) * d);
      for (int g = 0; g < n.heads; ++g) {
        std::fill(A.begin(), A.end(), 0);
        st.sdsa_ops += sdsa_accumulate_kv(k, v, g, d, hw, 0, hw, A.data());
        st.sdsa_ops += sdsa_row_sums(q, A.data(), g, d, hw, 0, hw, n.sdsa_shift, val_[i].data(), st.saturations, membrane_);
      }
      st.dense_ops = sdsa_dense_ops(n);
      break;
    }
    case Op::Mean: {
      const Shape& in = g_.input_shape(n);
      std::vector<int64_t> part(n.shape.c, 0);
      mean_partial(val_[n.inputs[0]].data(), int64_t(in.h) * in.w, 0, n.shape.c, 0, int64_t(in.h) * in.w,
                   part.data());
      for (int c = 0; c < n.shape.c; ++c) val_[i][c] = saturate(part[c], membrane_, st.saturations);
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
      if (opt.cancel && opt.cancel->load(std::memory_order_relaxed)) throw RunCancelled();
      r.stats[i][t] = eval_node(i, t);
      if (opt.record_spikes && g_.nodes[i].op == Op::LIF)
        std::memcpy(r.spikes[i].data() + size_t(t) * spk_[i].size(), spk_[i].data(), spk_[i].size());
    }
  r.output_acc = out_acc_;
  r.prediction = int(std::max_element(out_acc_.begin(), out_acc_.end()) - out_acc_.begin());  // first max
  return r;
}

}  // namespace spikechip::model
