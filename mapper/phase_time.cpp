// Time multiplexing's time model (docs/mapper.md, "Phase partitioning", `min-time`): how long a
// phase is expected to take from the work of its groups (the neuro-core's timing contract applied
// to the expected events of the firing rates) and from the DRAM channel's bandwidth and latency.
// `--phases min-time` cuts the dataflow with it; tests compare it with the chip's phase tables.
#include <algorithm>
#include <cmath>

#include "arch/dram_timing.hpp"
#include "arch/memory_controllers.hpp"
#include "mapper/internal.hpp"
#include "mapper/mapper.hpp"

namespace spikechip::mapper {

using model::Graph;
using model::Node;
using model::Op;

namespace {

double ceil_pos(double x) { return x > 0 ? std::ceil(x) : 0.0; }

// Firing rate of the values a node reads from `p`: a LIF's spikes at its measured (or default)
// rate; anything else (membrane values) arrives whole.
double input_rate(const Node& p, const MapOptions& opt) {
  if (p.op != Op::LIF) return 1.0;
  auto it = opt.rates.find(p.name);
  return it != opt.rates.end() ? it->second : opt.default_rate;
}

// The share of a Conv2d's taps over the output box `b` that land inside the input (not in the
// padding): the synapses its spikes actually reach, as the scatter kernel counts them.
double in_range_share(const model::Shape& in, const Node& n, const Box& b) {
  auto valid = [](int o0, int o1, int k, int stride, int pad, int size) {
    int64_t v = 0;
    for (int o = o0; o < o1; ++o)
      for (int t = 0; t < k; ++t) v += unsigned(o * stride - pad + t) < unsigned(size);
    return double(v) / double(std::max<int64_t>(1, int64_t(o1 - o0) * k));
  };
  return valid(b.y0, b.y1, n.kh, n.sy, n.py, in.h) * valid(b.x0, b.x1, n.kw, n.sx, n.px, in.w);
}

// Expected cycles per timestep of one group: its synapse engine's and its node unit's work
// (docs/architecture.md, "Neuro-core"), at the expected firing rates. Conv2d / Linear: each input
// spike's in-range taps are runs of min(group channels, output channels per conv group) channels, each run
// ceil(run / min(adder_lanes, membrane_banks)) cycles; the encoding layer's MACs on mac_lanes;
// finalise, Add and Mean over the group's words on the same lanes; LIF on the neuron units; SDSA
// (q.k and K^T V over the group's heads and tokens, the q/k/v spikes stored) on the SDSA lanes.
double group_step_cycles(const Graph& g, const Cluster& c, const Group& gr, const arch::CoreConfig& k,
                         const MapOptions& opt) {
  const double lanes = std::max(1, std::min(k.adder_lanes, k.membrane_banks));
  const double vol = double(gr.box.volume());
  double engine = 0, node = 0;
  for (int idx : c.nodes) {
    const Node& n = g.nodes[size_t(idx)];
    if (gr.fan_in_partial(c) && idx != c.fan_in_node) continue;  // a partial group holds only its slice
    const double share = vol / double(std::max<int64_t>(1, n.shape.size()));
    switch (n.op) {
      case Op::Conv2d:
      case Op::Linear: {
        const Node& in = g.nodes[size_t(n.inputs.at(0))];
        double ops = double(model::dense_ops(g, n)) * share;
        if (n.op == Op::Conv2d) ops *= in_range_share(g.input_shape(n), n, gr.box);
        if (c.fan_in_slices > 1 && idx == c.fan_in_node)
          ops *= double(gr.in1 - gr.in0) / double(std::max(1, g.input_shape(n).c));
        if (in.op == Op::Input) {
          engine += ceil_pos(ops / std::max(1, k.mac_lanes));
        } else {
          const int cout_g = n.op == Op::Conv2d ? n.shape.c / std::max(1, n.groups) : n.shape.c;
          const double run = std::max(1, std::min(gr.box.c1 - gr.box.c0, cout_g));
          engine += ops * input_rate(in, opt) / run * std::ceil(run / lanes);
        }
        if (!gr.fan_in_partial(c)) node += ceil_pos(vol / lanes);  // finalise
        break;
      }
      case Op::LIF: node += ceil_pos(vol / std::max(1, k.neuron_updates_per_cycle)); break;
      case Op::Add:
      case Op::Mean: node += ceil_pos(vol / lanes); break;
      case Op::SDSA: {
        const double d = double(n.shape.c) / std::max(1, n.heads);
        const double heads = double(gr.box.c1 - gr.box.c0) / std::max(1.0, d);
        const double tokens = double(gr.box.y1 - gr.box.y0) * (gr.box.x1 - gr.box.x0);
        double r[3] = {opt.default_rate, opt.default_rate, opt.default_rate};
        for (size_t i = 0; i < 3 && i < n.inputs.size(); ++i) r[i] = input_rate(g.nodes[size_t(n.inputs[i])], opt);
        // K^T V: a pair per token where k[a] and v[b] both spike; q . (K^T V): |q_n| rows of d.
        const double ops = heads * tokens * (r[1] * d * r[2] * d + r[0] * d * d);
        const double stores = heads * tokens * d * (r[0] + r[1] + r[2]);
        node += ceil_pos((ops + stores) / std::max(1, k.sdsa_lanes));
        break;
      }
      default: break;
    }
  }
  return engine + node;
}

}  // namespace

PhaseTimeModel phase_time_model(const Graph& g, const Mapping& m, const arch::ChipConfig& chip, const MapOptions& opt) {
  PhaseTimeModel tm;
  tm.timesteps = std::max(1, g.timesteps);
  // The DRAM's data-bus peak in bytes per chip cycle; with memory controllers on the mesh, each
  // also injects at most one flit per cycle.
  tm.dram_bytes_per_cycle = arch::dram_peak_bytes_per_s(chip) / chip.clock_hz;
  if (!chip.memory_controllers.empty())
    tm.dram_bytes_per_cycle = std::min(tm.dram_bytes_per_cycle, double(chip.memory_controllers.size()) *
                                                                    chip.router.flit_bits / 8.0);
  tm.dram_bytes_per_cycle = std::max(tm.dram_bytes_per_cycle, 1e-9);
  // One access's latency: the channel's figure, or a closed row's tRCD + tCL of the (first) device.
  const std::string model = chip.memory_controllers.empty() ? chip.dram.model : chip.memory_controllers.front().model;
  if (const arch::DramDevice* d = arch::find_dram_device(model))
    tm.dram_latency_cycles = double(d->tRCD + d->tCL) * chip.clock_hz / 1e12;
  else
    tm.dram_latency_cycles = chip.dram.latency_cycles;
  tm.prefetch_buffer_bytes = arch::weight_prefetch_bytes(chip);
  tm.group_cycles.resize(m.groups.size());
  for (const Group& gr : m.groups)
    tm.group_cycles[size_t(gr.id)] = group_step_cycles(g, m.clusters[size_t(gr.cluster)], gr, chip.core, opt);
  return tm;
}

double PhaseTimeModel::compute_cycles(const std::vector<double>& stages) const {
  const size_t n = stages.size();
  std::vector<double> done(n, 0), prev(n, 0);  // end of timestep t, of t - 1, per layer
  for (int t = 0; t < timesteps; ++t) {
    for (size_t i = 0; i < n; ++i) {
      const double free = std::max(prev[i], i + 1 < n ? prev[i + 1] : 0.0);  // its output of t - 1 taken
      done[i] = std::max(free, i > 0 ? done[i - 1] : 0.0) + stages[i];
    }
    std::swap(done, prev);
  }
  return n ? *std::max_element(prev.begin(), prev.end()) : 0.0;
}

double PhaseTimeModel::phase_cycles(const PhaseLoad& q, double next_prefetch) const {
  const double b = dram_bytes_per_cycle;
  return q.phases * dram_latency_cycles + (q.weight_bytes - q.prefetched_bytes + q.read_bytes) / b +
         std::max(q.compute, next_prefetch / b) + q.write_bytes / b;
}

double PhaseTimeModel::prefetchable(int64_t weight_bytes) const {
  return double(std::min(weight_bytes, prefetch_buffer_bytes));
}

std::vector<PhaseLoad> phase_loads(const PhaseTimeModel& tm, const Mapping& m) {
  const size_t np = m.phases.size();
  std::vector<PhaseLoad> q(np);
  // Per phase and cluster: the slowest group (a layer's timestep ends with its slowest core).
  std::vector<std::vector<double>> slowest(np, std::vector<double>(m.clusters.size(), -1));
  for (const Group& gr : m.groups) {
    const size_t p = size_t(gr.phase);
    double& s = slowest[p][size_t(gr.cluster)];
    s = std::max(s, tm.group_cycles[size_t(gr.id)]);
    q[p].weight_bytes += double(gr.weight_bytes);
    if (p > 0) q[p].prefetched_bytes += tm.prefetchable(gr.weight_bytes);
  }
  const std::vector<detail::SpillBytes> spills = detail::phase_spill_bytes(m, tm.timesteps);
  for (size_t p = 0; p < np; ++p) {
    std::vector<double> stages;
    for (double s : slowest[p])
      if (s >= 0) stages.push_back(s);
    q[p].compute = tm.compute_cycles(stages);
    q[p].read_bytes = spills[p].read, q[p].write_bytes = spills[p].written;
  }
  return q;
}

std::vector<double> estimate_phase_cycles(const PhaseTimeModel& tm, const Mapping& m) {
  const std::vector<PhaseLoad> q = phase_loads(tm, m);
  std::vector<double> out(q.size());
  for (size_t p = 0; p < q.size(); ++p)
    out[p] = tm.phase_cycles(q[p], p + 1 < q.size() ? q[p + 1].prefetched_bytes : 0.0);
  return out;
}

}  // namespace spikechip::mapper
