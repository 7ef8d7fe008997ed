// docs/extending.md's worked examples (examples/extending/*.cpp), compiled here: each works
// through its registry's interface (a north-last network delivers every flit under load, the
// mapper's estimate follows it; tornado traffic runs; the column placement gives distinct cores),
// and the page quotes each file verbatim. Also: every registered name is in the docs, and the
// registries are the tables the config reader and the errors use.
#include <gtest/gtest.h>

#include <set>

#include <fmt/format.h>

#include "arch/noc/network.hpp"
#include "arch/noc/routing.hpp"
#include "arch/noc/traffic.hpp"
#include "mapper/placement.hpp"
#include "tiny_graph.hpp"
#include "spikechip/source_dir.hpp"

#include "examples/extending/placement_columns.cpp"
#include "examples/extending/routing_north_last.cpp"
#include "examples/extending/traffic_tornado.cpp"

namespace spikechip {
namespace {

using namespace arch::noc;
const std::string kRoot = SPIKECHIP_SOURCE_DIR;

TEST(Extending, NorthLastRoutesEveryFlitMinimallyUnderLoad) {
  NetworkParams p;
  p.width = 6, p.height = 5, p.routing = &kRoutingNorthLast, p.buffer_depth = 4;
  Network net(p);
  TrafficParams tp;
  tp.rate = 0.3, tp.warmup = 0, tp.measure = 2000, tp.multicast_fanout = 2, tp.seed = 5;
  const TrafficResult r = run_traffic(net, tp);
  EXPECT_TRUE(r.drained);
  // Every measured packet arrived (no deadlock). Packets injected after the window may still be
  // in flight when the run stops, so their already-ejected flits are counted without a delivery.
  EXPECT_GE(r.totals.flits_ejected, r.totals.packets_delivered * uint64_t(tp.packet_size));
  EXPECT_LT(r.totals.flits_ejected - r.totals.packets_delivered * uint64_t(tp.packet_size),
            uint64_t(p.width * p.height * tp.multicast_fanout * tp.packet_size));
  // The mapper's estimate of a unicast follows the function: minimal, north last.
  std::vector<std::pair<int, int>> links;
  route_links(kRoutingNorthLast, 6, 6 * 4 + 0, {0 * 6 + 5}, links);  // (0,4) -> (5,0)
  ASSERT_EQ(links.size(), 9u);
  EXPECT_EQ(links.front(), std::make_pair(24, 25));  // east first
  EXPECT_EQ(links.back(), std::make_pair(11, 5));    // north last
}

TEST(Extending, TornadoTrafficRuns) {
  NetworkParams p;
  p.width = 8, p.height = 2;
  Network net(p);
  TrafficParams tp;
  tp.pattern = &kTrafficTornadoX, tp.rate = 0.1, tp.warmup = 0, tp.measure = 500;
  const TrafficResult r = run_traffic(net, tp);
  EXPECT_TRUE(r.drained);
  EXPECT_GT(r.packets_measured, 0u);
  TrafficRng g;
  EXPECT_EQ(kTrafficTornadoX.dest(g, tp, 8 + 1, 8, 2), 8 + 4);  // (1,1) -> (4,1)
}

TEST(Extending, ColumnPlacementGivesDistinctCores) {
  mapper::Mapping m;
  m.mesh_w = 4, m.mesh_h = 3;
  std::vector<int> members = {0, 1, 2, 3, 4}, core_of(5, -1);
  std::vector<std::vector<std::pair<int, double>>> traffic(5);
  mapper::Rng rng(1);
  mapper::PlacementContext ctx{m, members, traffic, 1, rng};
  mapper::kPlacementColumns.place(ctx, core_of);
  EXPECT_EQ(core_of, (std::vector<int>{0, 4, 8, 1, 5}));
}

TEST(Extending, DocsQuoteTheExamplesVerbatim) {
  const std::string doc = testing::slurp(kRoot + "/docs/extending.md");
  for (const char* f : {"routing_north_last.cpp", "traffic_tornado.cpp", "placement_columns.cpp"})
    EXPECT_NE(doc.find(testing::slurp(kRoot + "/examples/extending/" + f)), std::string::npos) << f;
}

// The registries' name tables are docs/extending.md's "Registered" tables, row for row.
TEST(Extending, EveryRegisteredNameIsDocumented) {
  const std::string doc = testing::slurp(kRoot + "/docs/extending.md");
  auto row = [](const char* name, const char* help) { return fmt::format("| `{}` | {} |", name, help); };
  for (const RoutingFunction* f : routing_functions()) EXPECT_NE(doc.find(row(f->name, f->help)), std::string::npos) << f->name;
  for (const TrafficPattern* t : traffic_patterns()) EXPECT_NE(doc.find(row(t->name, t->help)), std::string::npos) << t->name;
  for (const mapper::PlacementAlgorithm* a : mapper::placement_algorithms())
    EXPECT_NE(doc.find(row(a->name, a->help)), std::string::npos) << a->name;
}

TEST(Extending, RegistriesAreTheTablesErrorsName) {
  try {
    routing_function("zigzag");
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "router.routing: unknown routing 'zigzag' (use xy, yx or west_first)");
  }
  EXPECT_THROW(traffic_pattern("zigzag"), UsageError);
  EXPECT_THROW(mapper::placement_algorithm("zigzag"), UsageError);
  EXPECT_EQ(routing_function("yx").first_port(2, 2, 0, 0), kNorth);
  EXPECT_EQ(routing_function("xy").first_port(2, 2, 0, 0), kWest);
  EXPECT_EQ(multicast_routing().name, std::string("xy"));
}

}  // namespace
}  // namespace spikechip
