// Issue 20 item 3, the mapper planning for memory controllers (docs/mapper.md, "Time
// multiplexing"): a time-multiplexed mapping on a chip with controllers routes each value between
// phases through the controller nearest its source's core (as the chip spills and reads it back),
// its traffic and link loads count those legs, the annealer keeps heavy weight reloads near the
// controllers, and the chip runs the mapping bit-exact.
#include <gtest/gtest.h>

#include <cstdlib>
#include <set>

#include "arch/chip.hpp"
#include "arch/memory_controllers.hpp"
#include "base/error.hpp"
#include "chip_test_util.hpp"
#include "mapper/mapper.hpp"

namespace spikechip {
namespace {

int dist(int a, int b, int w) { return std::abs(a % w - b % w) + std::abs(a / w - b / w); }

// The XY links (from router, to router) of a unicast from core a to core b on a w-wide mesh.
std::vector<std::pair<int, int>> xy_links(int a, int b, int w) {
  std::vector<std::pair<int, int>> out;
  int x = a % w, y = a / w;
  const int bx = b % w, by = b / w;
  while (x != bx) {
    const int nx = x + (bx > x ? 1 : -1);
    out.push_back({y * w + x, y * w + nx}), x = nx;
  }
  while (y != by) {
    const int ny = y + (by > y ? 1 : -1);
    out.push_back({y * w + x, ny * w + x}), y = ny;
  }
  return out;
}

struct Planned {
  model::Graph g = testing::small_meta_spikeformer(2);
  arch::ChipConfig host = testing::chip_preset("tiny"), ctrl;
  mapper::Mapping mh, mc;
  Planned() {
    host.mesh.width = host.mesh.height = 4;
    ctrl = host;
    arch::MemoryControllerConfig a, b;
    a.edge = "east", a.position = 3, b.edge = "south", b.position = 0;
    ctrl.memory_controllers = {a, b};
    mapper::MapOptions mo;
    mo.time_multiplex = true;
    mh = mapper::map_model(g, host, mo);
    mc = mapper::map_model(g, ctrl, mo);
  }
};

TEST(MapperControllers, SpillLegsAndTrafficGoThroughTheNearestController) {
  Planned s;
  const mapper::Mapping& m = s.mc;
  ASSERT_GE(m.phases.size(), 2u);
  const int w = m.mesh_w;
  std::vector<int> routers;
  for (const auto& mc : s.ctrl.memory_controllers) routers.push_back(arch::memory_controller_router(mc, w, m.mesh_h));
  EXPECT_EQ(m.memory_routers, routers);
  auto nearest = [&](int core) {  // by hand: the first listed on a tie
    int best = routers[0];
    for (int r : routers)
      if (dist(core, r, w) < dist(core, best, w)) best = r;
    return best;
  };
  double hops = 0;
  int crossing = 0;
  for (const auto& r : m.routes) {
    const std::set<std::pair<int, int>> links(r.links.begin(), r.links.end());
    for (int d : r.dests) {
      if (r.src_group < 0 || d < 0) {
        hops += r.events * (r.src_group < 0 ? 1 + m.groups[d].core % w + m.groups[d].core / w
                                            : 1 + m.groups[r.src_group].core % w + m.groups[r.src_group].core / w);
        continue;
      }
      const int sc = m.groups[r.src_group].core, dc = m.groups[d].core;
      if (m.groups[r.src_group].phase == m.groups[d].phase) {
        hops += r.events * dist(sc, dc, w);
        continue;
      }
      ++crossing;
      const int via = nearest(sc);
      hops += r.events * (dist(sc, via, w) + dist(via, dc, w));
      for (const auto& l : xy_links(sc, via, w)) EXPECT_TRUE(links.count(l)) << "route " << r.id << ": spill leg to the controller";
      for (const auto& l : xy_links(via, dc, w)) EXPECT_TRUE(links.count(l)) << "route " << r.id << ": read-back leg";
    }
  }
  EXPECT_GT(crossing, 0);
  EXPECT_NEAR(mapper::traffic_hops(m), hops, 1e-9 * hops);
}

// Weight bytes x hops from each group's core to its nearest controller: what the reloads cost the
// links. Planned for, it is lower than with the host-port plan on the same chip; both run bit-exact.
TEST(MapperControllers, ReloadsStayNearTheControllersAndRunBitExact) {
  Planned s;
  ASSERT_EQ(s.mc.groups.size(), s.mh.groups.size());
  ASSERT_EQ(s.mc.phases.size(), s.mh.phases.size());
  const int w = s.mc.mesh_w;
  const std::vector<int> routers = s.mc.memory_routers;
  const std::vector<int> near = arch::nearest_memory_controller(routers, w, w * s.mc.mesh_h);
  auto reload_hops = [&](const mapper::Mapping& m) {
    double v = 0;
    for (const auto& gr : m.groups) v += double(gr.weight_bytes) * dist(gr.core, routers[size_t(near[size_t(gr.core)])], w);
    return v;
  };
  EXPECT_LT(reload_hops(s.mc), reload_hops(s.mh));
  const auto img = testing::random_image(s.g.input().shape, 9);
  const model::InputView in{img.data(), 1, s.g.input().shape};
  model::RunOptions ro;
  ro.record_spikes = true;
  ro.threads = 1;
  const model::RunResult gold = model::GoldenExecutor(s.g).run(in, 2, ro);
  const arch::ChipRunResult rc = arch::Chip(s.g, s.ctrl, s.mc).run(in, 2), rh = arch::Chip(s.g, s.ctrl, s.mh).run(in, 2);
  ASSERT_TRUE(rc.complete);
  ASSERT_TRUE(rh.complete);
  EXPECT_EQ(arch::compare_with_golden(s.g, rc, gold), "");
  EXPECT_EQ(arch::compare_with_golden(s.g, rh, gold), "");
  EXPECT_EQ(rc.reload_flits, rh.reload_flits);
  std::printf("reload bytes x hops: %.0f planned vs %.0f host-port plan; latency %llu vs %llu cycles, link flits %llu vs %llu\n",
              reload_hops(s.mc), reload_hops(s.mh), (unsigned long long)rc.latency_cycles, (unsigned long long)rh.latency_cycles,
              (unsigned long long)rc.net.link_flits, (unsigned long long)rh.net.link_flits);
}

// A residual stage larger than the chip cannot be split across phases: the error names the
// stage's first layer, its cores and SRAM and every way out.
// A cycle of clusters larger than the chip that no cut breaks (here: the uncut clusters, as the
// mapper has them before it cuts the stream; map_model itself now cuts it, test_cut_stream.cpp).
TEST(MapperControllers, StageLargerThanTheChipNamesTheWaysOut) {
  const model::Graph g = testing::small_meta_spikeformer(1);
  arch::ChipConfig chip = testing::chip_preset("tiny");
  chip.mesh.width = chip.mesh.height = 2;
  mapper::MapOptions mo;
  mo.time_multiplex = true;
  mapper::Mapping m;
  m.clusters = mapper::build_clusters(g);
  m.groups = mapper::partition(g, m.clusters, chip, mo);
  try {
    mapper::assign_phases(g, m, chip.num_cores());
    ADD_FAILURE() << "phases on 4 cores";
  } catch (const Error& e) {
    const std::string msg = e.what();
    for (const char* want : {"cannot split layer", "residual stage", "membrane", "--chips auto", "core.weight_prefetch_fraction",
                             "mesh-hbm2"})
      EXPECT_NE(msg.find(want), std::string::npos) << want << " in: " << msg;
  }
}

}  // namespace
}  // namespace spikechip
