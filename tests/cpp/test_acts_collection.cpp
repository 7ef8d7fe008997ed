// Issue 19 memory: the critical path's interval records are collected while the chip runs
// (arch/chip_critical.cpp ChipEngine::collect_acts): only the records still reachable from the
// engine's roots survive, renumbered. Checked by running the same chip engine twice, once with the
// collection disabled and once collecting from 64 records on (many collections): the same critical
// path, segment for segment, and the same latency and events, with fewer records held.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>

#include "arch/chip_engine.hpp"
#include "chip_test_util.hpp"
#include "critical_path_check.hpp"
#include "mapper/mapper.hpp"

namespace spikechip {
namespace {

struct Run {
  arch::ChipRunResult r;
  size_t max_acts = 0;
  double mean_acts = 0;  // records held after a step, on average over the steps
};

using Shipped = testing::ShippedModel;  // (its first sample: thousands of records per run)

Run run(const Shipped& s, const arch::ChipConfig& chip, const mapper::Mapping& m, bool collect) {
  arch::detail::ChipEngine E(s.g, chip, m);
  E.acts_collect_min = collect ? 64 : SIZE_MAX;  // collect from 64 records on, so that it runs many times
  E.begin(model::InputView{s.items.at(0).data.data(), 1, s.items.at(0).shape}, s.g.timesteps, arch::ChipRunOptions{});
  Run out;
  size_t steps = 0;
  while (!E.done()) {
    E.step();
    out.max_acts = std::max(out.max_acts, E.acts.size());
    out.mean_acts += double(E.acts.size()), ++steps;
  }
  out.mean_acts /= double(std::max<size_t>(1, steps));
  out.r = E.finish();
  return out;
}

void expect_same_path_fewer_records(const Shipped& s, const arch::ChipConfig& chip, const mapper::Mapping& m) {
  const Run a = run(s, chip, m, true), b = run(s, chip, m, false);
  ASSERT_TRUE(a.r.complete && b.r.complete);
  EXPECT_EQ(a.r.latency_cycles, b.r.latency_cycles);
  EXPECT_EQ(a.r.events.to_json(), b.r.events.to_json());
  ASSERT_EQ(a.r.critical_path.size(), b.r.critical_path.size());
  for (size_t i = 0; i < a.r.critical_path.size(); ++i) {
    const auto &x = a.r.critical_path[i], &y = b.r.critical_path[i];
    EXPECT_TRUE(x.kind == y.kind && x.core == y.core && x.node == y.node && x.timestep == y.timestep &&
                x.start == y.start && x.end == y.end)
        << "segment " << i;
  }
  testing::expect_exact_critical_path(a.r);
  EXPECT_GT(b.max_acts, 4u * 64);  // enough records to collect several times
  EXPECT_LE(a.max_acts, b.max_acts);
  // On a model this small most records are still live (every port's and unit's latest); at 55.4M
  // T=4 the records fell from 30+ million to a few hundred thousand (docs/performance.md).
  EXPECT_LT(a.mean_acts, b.mean_acts) << a.mean_acts << " records held on average with collection, " << b.mean_acts
                                          << " without";
}

TEST(ActsCollection, SamePathWithFewerRecords) {
  const Shipped s;
  const arch::ChipConfig chip = testing::chip_preset("tiny");
  expect_same_path_fewer_records(s, chip, mapper::map_model(s.g, chip, mapper::MapOptions{}));
}

TEST(ActsCollection, SamePathTimeMultiplexedWithControllers) {
  const Shipped s;
  testing::TimeMultiplexedChip tm = testing::time_multiplexed_tiny(s.g);
  tm.chip.memory_controllers = {arch::MemoryControllerConfig{"west", 1, 1, "lpddr4-3200"},
                                arch::MemoryControllerConfig{"east", 2, 2, "lpddr4-3200"}};
  expect_same_path_fewer_records(s, tm.chip, tm.m);
}

// What a time-multiplexed run no longer needs holds no record, so collection can drop the chains
// behind it: a group done for the run (its last task, its ports' ready times, its weights) and a
// value spilled to DRAM (read back, it is sent afresh). 123.7M T=4 on loihi2-lpddr4 (139 phases):
// peak memory 10.7 -> 4.5 GB with byte-identical reports (docs/performance.md "Session 16").
TEST(ActsCollection, FinishedGroupsAndSpilledValuesHoldNoRecords) {
  const Shipped s;
  testing::TimeMultiplexedChip tm = testing::time_multiplexed_tiny(s.g);
  ASSERT_GE(tm.m.phases.size(), 2u);
  for (bool controllers : {false, true}) {
    arch::ChipConfig chip = tm.chip;
    if (controllers) chip.memory_controllers = {arch::MemoryControllerConfig{"west", 1, 1, "lpddr4-3200"}};
    arch::detail::ChipEngine E(s.g, chip, tm.m);
    E.acts_collect_min = 64;
    E.begin(model::InputView{s.items.at(0).data.data(), 1, s.items.at(0).shape}, s.g.timesteps, arch::ChipRunOptions{});
    size_t finished = 0, spilled = 0;
    while (!E.done()) {
      E.step();
      for (const auto& G : E.groups) {
        if (G.t < s.g.timesteps) continue;
        ++finished;
        EXPECT_EQ(G.act, E.kNoAct) << "group " << G.id;
        for (const auto& P : G.ports)
          for (const auto& ps : P.step) EXPECT_EQ(ps.ready_act, E.kNoAct) << "group " << G.id;
      }
      for (const auto& phase : E.spill_store)
        for (const auto& d : phase) {
          ++spilled;
          EXPECT_EQ(d.src_act, E.kNoAct);
        }
    }
    EXPECT_GT(finished, 0u);
    EXPECT_GT(spilled, 0u);
    const arch::ChipRunResult r = E.finish();
    ASSERT_TRUE(r.complete);
    testing::expect_exact_critical_path(r);
  }
}

}  // namespace
}  // namespace spikechip
