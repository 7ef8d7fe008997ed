// Issue 19: the chip's delivery finds a data packet's readers on a core (ChipEngine::deliver_ranked)
// by the core's rank among the route's destinations sorted by column key, which the packet model
// passes, instead of searching the route's readers. Checked: for every route of the shipped model
// on tiny, the readers each rank names are exactly those a search by core finds, and a run with
// the packet model (ranked) and with the separable router (searched) are both bit-exact.
#include <gtest/gtest.h>

#include <algorithm>

#include "arch/chip_engine.hpp"
#include "arch/noc/routing.hpp"
#include "chip_test_util.hpp"
#include "mapper/mapper.hpp"

namespace spikechip {
namespace {

TEST(ChipDelivery, RankedReadersAreTheSearchedOnes) {
  const testing::ShippedModel s;
  const arch::ChipConfig chip = testing::chip_preset("tiny");
  const mapper::Mapping m = mapper::map_model(s.g, chip, mapper::MapOptions{});
  const arch::detail::ChipEngine E(s.g, chip, m);
  ASSERT_EQ(E.route_rank_readers.size(), m.routes.size());
  size_t checked = 0;
  for (size_t rid = 0; rid < m.routes.size(); ++rid) {
    std::vector<int> cores = E.route_cores[rid];
    std::sort(cores.begin(), cores.end(), [&](int a, int b) {
      return arch::noc::column_key(a, m.mesh_w, m.mesh_h) < arch::noc::column_key(b, m.mesh_w, m.mesh_h);
    });
    const auto& rd = E.route_readers[rid];
    const auto& rr = E.route_rank_readers[rid];
    ASSERT_EQ(rr.size(), cores.size()) << "route " << rid;
    for (size_t k = 0; k < cores.size(); ++k) {
      std::vector<int> want, got;
      for (size_t i = 0; i < rd.size(); ++i)
        if (rd[i].core == cores[k]) want.push_back(int(i));
      for (uint32_t i = rr[k].first; i < rr[k].second; ++i) got.push_back(int(i));
      EXPECT_EQ(got, want) << "route " << rid << " rank " << k;
      ++checked;
    }
  }
  EXPECT_GT(checked, m.routes.size());  // multicast routes among them
}

TEST(ChipDelivery, RankedAndSearchedDeliveriesAreBitExact) {
  const testing::ShippedModel s;
  model::GoldenExecutor gold(s.g);
  model::RunOptions ro;
  ro.record_spikes = true;
  const model::RunResult gr = gold.run(s.input(), s.g.timesteps, ro);
  for (const char* router : {"packet", "separable"}) {
    arch::ChipConfig chip = testing::chip_preset("tiny");
    chip.router.model = router;
    const mapper::Mapping m = mapper::map_model(s.g, chip, mapper::MapOptions{});
    arch::Chip c(s.g, chip, m);
    const arch::ChipRunResult cr = c.run(s.input(), s.g.timesteps);
    ASSERT_TRUE(cr.complete) << router;
    EXPECT_EQ(arch::compare_with_golden(s.g, cr, gr), "") << router;
  }
}

}  // namespace
}  // namespace spikechip
