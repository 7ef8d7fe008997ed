#include "cosim/cycle_run.hpp"

#include "pipeline/run_pipeline.hpp"

namespace spikechip::cosim {

CycleOutcome run_cycle_batch(const CycleBatch& b, const std::atomic<bool>& cancel) {
  pipeline::Options po;
  po.T = b.T, po.engine = pipeline::Engine::EventLoop, po.golden_threads = b.exec_threads;
  po.mapping = b.mapping, po.stop = &cancel;
  po.model_path = b.model_origin, po.chip_path = b.chip->source_path, po.command = "spikechip serve: run mode cycle";
  pipeline::Result r = pipeline::run(*b.graph, *b.chip, pipeline::Inputs{b.inputs, b.origins, b.labels}, po);
  if (cancel.load()) throw model::RunCancelled();
  CycleOutcome out;
  out.mismatch = std::move(r.mismatch);
  out.report = std::move(r.report);
  for (const auto& res : r.run.results) {
    uint64_t n = 0;
    for (const auto& node : res.stats)
      for (const auto& s : node) n += uint64_t(s.spikes);
    out.spikes.push_back(n);
  }
  return out;
}

}  // namespace spikechip::cosim
