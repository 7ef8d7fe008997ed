// The chip's public face (arch/chip.hpp): construction, the run driver and progress, over the
// engine of arch/chip_engine.hpp; and the spike-for-spike comparison with the golden executor.
#include "arch/chip.hpp"

#include <cstring>

#include "arch/chip_engine.hpp"

namespace spikechip::arch {

using model::Node;
using model::Op;

std::shared_ptr<std::vector<model::ConvPlan>> make_conv_plans(const model::Graph& g) {
  auto plans = std::make_shared<std::vector<model::ConvPlan>>(g.nodes.size());
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (n.op != Op::Conv2d && n.op != Op::Linear) continue;
    const Node& src = g.nodes[n.inputs.at(0)];
    int64_t in_max = 1;
    if (src.kind() == model::ValueKind::Input) {
      int64_t zp = 0;
      for (int32_t z : src.zero_point) zp = std::max<int64_t>(zp, std::abs(int64_t(z)));
      in_max = 255 + zp;
    }
    (*plans)[i] = model::make_conv_plan(g, n, in_max);
  }
  return plans;
}

Chip::Chip(const model::Graph& g, const ChipConfig& chip, const ChipMapping& m)
    : impl_(std::make_unique<Impl>(g, chip, m)) {}
Chip::~Chip() = default;
void Chip::begin(const model::InputView& in, int T, const ChipRunOptions& opt) { impl_->begin(in, T, opt); }
uint64_t Chip::next_event_cycle() const { return impl_->next_event_cycle(); }
void Chip::step() { impl_->step(); }
bool Chip::done() const { return impl_->done(); }
ChipRunResult Chip::finish() { return impl_->finish(); }
uint64_t Chip::now() const { return impl_->net->now(); }
noc::Network& Chip::network() { return *impl_->net; }
double Chip::progress() const {
  uint64_t done = 0, total = 0;
  for (const auto& G : impl_->groups) {
    done += uint64_t(G.t) * G.slots.size() + uint64_t(G.t < impl_->T ? G.k : 0);
    total += uint64_t(impl_->T) * G.slots.size();
  }
  return total ? double(done) / double(total) : 1.0;
}
int Chip::timestep() const {
  int t = impl_->T;
  for (const auto& G : impl_->groups) t = std::min(t, G.t);
  return t;
}
int Chip::num_cores() const { return int(impl_->cores.size()); }

ChipRunResult Chip::run(const model::InputView& in, int T, const ChipRunOptions& opt) {
  begin(in, T, opt);
  while (!done()) {
    if (opt.stop && opt.stop->load(std::memory_order_relaxed)) break;
    if (opt.max_cycles && next_event_cycle() > opt.max_cycles) break;
    step();
  }
  return finish();
}

std::string compare_with_golden(const model::Graph& g, const ChipRunResult& chip, const model::RunResult& golden) {
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (n.op != Op::LIF) continue;
    if (i >= chip.spikes.size() || i >= golden.spikes.size() || chip.spikes[i].empty() || golden.spikes[i].empty())
      return "spikes of '" + n.name + "' were not recorded";
    const int64_t size = n.shape.size(), HW = int64_t(n.shape.h) * n.shape.w;
    const int T = std::min(chip.T, golden.T);
    for (int t = 0; t < T; ++t) {
      const uint8_t* a = chip.spikes[i].data() + size_t(t) * size;
      const uint8_t* b = golden.spikes[i].data() + size_t(t) * size;
      if (std::memcmp(a, b, size_t(size)) == 0) continue;
      for (int64_t j = 0; j < size; ++j)
        if (a[j] != b[j])
          return fmt::format("spike mismatch at layer '{}', neuron (c={}, y={}, x={}), timestep {}: chip {} golden {}",
                             n.name, j / HW, j % HW / n.shape.w, j % n.shape.w, t, int(a[j]), int(b[j]));
    }
  }
  if (chip.output_acc != golden.output_acc) {
    for (size_t o = 0; o < chip.output_acc.size(); ++o)
      if (o >= golden.output_acc.size() || chip.output_acc[o] != golden.output_acc[o])
        return fmt::format("output accumulator {} differs: chip {} golden {}", o, chip.output_acc[o],
                           o < golden.output_acc.size() ? golden.output_acc[o] : 0);
  }
  if (chip.prediction != golden.prediction)
    return fmt::format("prediction differs: chip {} golden {}", chip.prediction, golden.prediction);
  return {};
}

}  // namespace spikechip::arch
