#pragma once
// The DRAM traffic a time-multiplexed run must make, derived from the mapping and the golden run
// only (not from the chip's counters): the tests of the off-chip paths (test_chip_tm.cpp, the DRAM
// channel behind the host port; test_memory_controllers.cpp, controllers on the mesh) compare the
// chip's counts with it.
#include <gtest/gtest.h>

#include <set>

#include "arch/chip_config.hpp"
#include "mapper/mapper.hpp"
#include "models/executor.hpp"
#include "models/graph.hpp"

namespace spikechip::testing {

// DRAM bytes the chip must move for one input, from the mapping and the golden run only: every
// phase's weights once; every value on a route into later phases written once (4 B: a spike's
// address, a 32-bit partial sum or a cut stream's membrane value) and read once per later phase
// holding destinations.
struct DramExpect {
  uint64_t weights = 0, spill_write = 0, spill_read = 0;
  uint64_t reload_cycles = 0;  // sum over phases of latency + ceil(weights / bytes_per_cycle)
};
inline DramExpect expected_dram(const model::Graph& g, const mapper::Mapping& m, const model::RunResult& gold,
                         const arch::ChipConfig& chip) {
  DramExpect e;
  for (const auto& p : m.phases) {
    e.weights += uint64_t(p.reload_bytes);
    e.reload_cycles += uint64_t(chip.dram.latency_cycles) +
                       uint64_t((p.reload_bytes + chip.dram.bytes_per_cycle - 1) / chip.dram.bytes_per_cycle);
  }
  for (const auto& r : m.routes) {
    if (r.src_group < 0) continue;
    std::set<int> later;
    for (int d : r.dests)
      if (d >= 0 && m.groups[size_t(d)].phase != m.groups[size_t(r.src_group)].phase) later.insert(m.groups[size_t(d)].phase);
    if (later.empty()) continue;
    uint64_t values = 0;
    const model::Shape& sh = g.nodes[size_t(r.src_node)].shape;
    if (r.kind == "spike") {
      for (int t = 0; t < gold.T; ++t)
        for (int c = r.region.c0; c < r.region.c1; ++c)
          for (int y = r.region.y0; y < r.region.y1; ++y)
            for (int x = r.region.x0; x < r.region.x1; ++x)
              values += gold.spikes[size_t(r.src_node)][size_t(t) * size_t(sh.size()) + (size_t(c) * sh.h + y) * sh.w + x];
    } else if (r.kind == "membrane") {
      values = uint64_t(r.region.volume()) * uint64_t(gold.T);  // a cut stream: one word per neuron and step
    } else {
      EXPECT_EQ(r.kind, "partial_sum") << "route " << r.id;
      values = uint64_t(r.region.c1 - r.region.c0) * uint64_t(gold.T);  // one word per channel and step
    }
    e.spill_write += 4 * values;
    e.spill_read += 4 * values * later.size();
  }
  return e;
}

}  // namespace spikechip::testing
