// docs/extending.md's worked examples (examples/extending/*.cpp), compiled here: each works
// through its registry's interface (a north-last network delivers every flit under load, the
// mapper's estimate follows it; tornado traffic runs; the column placement gives distinct cores;
// the serial core model, registered by name, runs a model bit-exact; the Max op's row computes its
// slices on a chip engine), and the page quotes each file verbatim. Also: every registered name is in the docs, and the
// registries are the tables the config reader and the errors use.
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>
#include <set>

#include <fmt/format.h>

#include "arch/chip.hpp"
#include "arch/chip_engine.hpp"
#include "arch/core/core_registry.hpp"
#include "arch/noc/network.hpp"
#include "arch/noc/routing.hpp"
#include "arch/noc/traffic.hpp"
#include "mapper/placement.hpp"
#include "chip_test_util.hpp"
#include "tiny_graph.hpp"
#include "spikechip/source_dir.hpp"

#include "examples/extending/core_serial.cpp"
#include "examples/extending/op_max.cpp"
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

// The serial core, registered as a program embedding spikechip would (built in: one line in
// arch/core/list.hpp), is named by a chip config and runs a model bit-exact; one adder makes it
// slower than the event core on the same work (the same SOPs).
TEST(Extending, SerialCoreModelRunsBitExactByName) {
  if (!arch::find_core_model("serial")) arch::register_core_model(arch::kCoreSerial);
  EXPECT_THROW(arch::register_core_model(arch::kCoreSerial), Error);
  const int T = 1;
  model::Graph g = testing::small_meta_spikeformer(T);
  const arch::ChipConfig event = testing::chip_preset("tiny");
  nlohmann::json j = arch::chip_config_to_json(event);
  j["core"]["type"] = "serial";
  const arch::ChipConfig serial = arch::chip_config_from_json(j, "serial.json");
  ASSERT_EQ(serial.core.type, "serial");
  const testing::CoreModelRuns r = testing::run_against_event_core(g, serial, event, T);
  const arch::ChipRunResult &s = r.model, &e = r.event;
  ASSERT_TRUE(s.complete);
  EXPECT_EQ(arch::compare_with_golden(g, s, r.golden), "");
  // The same work and SRAM accesses as the event core; only the cycles differ.
  EXPECT_EQ(s.events.adds16, e.events.adds16);
  EXPECT_EQ(s.events.membrane_reads, e.events.membrane_reads);
  EXPECT_EQ(s.events.sdsa_ops, e.events.sdsa_ops);
  EXPECT_GT(s.events.sdsa_ops, 0u);
  EXPECT_GT(s.latency_cycles, e.latency_cycles);
}

// The Max row on a chip engine that has run a model: on every Add slot's slice it writes the
// element-wise maximum of the slot's inputs, at the cost of the table's element-wise row (Add).
TEST(Extending, MaxOpRowComputesItsSlices) {
  const int T = 1;
  model::Graph g = testing::small_meta_spikeformer(T);
  const arch::ChipConfig chip = testing::chip_preset("tiny");
  const mapper::Mapping m = mapper::map_model(g, chip, mapper::MapOptions{});
  const auto img = testing::random_image(g.input().shape, 5);
  arch::detail::ChipEngine E(g, chip, m);
  E.begin(model::InputView{img.data(), 1, g.input().shape}, T, arch::ChipRunOptions{});
  while (!E.done()) E.step();
  ASSERT_TRUE(E.finish().complete);
  int slots = 0;
  for (arch::detail::GroupState& G : E.groups)
    for (arch::detail::Slot& s : G.slots) {
      if (s.op != model::Op::Add) continue;
      const model::Node& n = g.nodes[size_t(s.node)];
      model::StepStats st;
      arch::CoreModel& core = *E.cores[size_t(G.core)];
      const uint64_t add_cycles = arch::detail::op_rules(model::Op::Add).compute(E, G, s, T - 1, core, st);
      const uint64_t max_cycles = arch::detail::kMaxRow.compute(E, G, s, T - 1, core, st);
      EXPECT_EQ(max_cycles, add_cycles);
      const int64_t HW = int64_t(n.shape.h) * n.shape.w;
      int greater = 0;
      for (int c = G.slice.c0; c < G.slice.c1; ++c)
        for (int y = G.slice.y0; y < G.slice.y1; ++y)
          for (int x = G.slice.x0; x < G.slice.x1; ++x) {
            const size_t i = size_t(c * HW + int64_t(y) * n.shape.w + x);
            int32_t want = E.val[size_t(n.inputs[0])][i];
            for (int k : n.inputs) want = std::max(want, E.val[size_t(k)][i]);
            ASSERT_EQ(E.val[size_t(s.node)][i], want) << n.name << " element " << i;
            greater += want > E.val[size_t(n.inputs[0])][i];
          }
      EXPECT_GT(greater, 0) << n.name;  // not merely a copy of the first input
      ++slots;
    }
  EXPECT_GT(slots, 0);
  EXPECT_TRUE(arch::detail::kMaxRow.membrane_tensor);
  EXPECT_EQ(arch::detail::kMaxRow.arrive, nullptr);
}

// "A layer op touches the chip in one place": outside the op table (arch/chip_ops.cpp) the chip
// names only ops with behaviour of their own (LIF spikes recorded, Output ends a timestep,
// Conv2d/Linear weight plans, Input); Add, SDSA and Mean, like a new op, exist there only as rows.
TEST(Extending, LayerOpsTouchTheChipInOnePlace) {
  const std::set<std::string> own = {"Input", "Conv2d", "Linear", "LIF", "Output"};
  const std::regex op_ref(R"(Op::(\w+))");
  int files = 0;
  // Error codes, not exceptions: other tests running at the same time may add or remove files.
  std::error_code ec;
  for (std::filesystem::recursive_directory_iterator it(kRoot + "/arch", ec), end; !ec && it != end; it.increment(ec)) {
    const std::filesystem::directory_entry& e = *it;
    const std::string path = e.path().string();
    if (!e.is_regular_file(ec) || path.ends_with("/chip_ops.cpp")) continue;
    if (!path.ends_with(".cpp") && !path.ends_with(".hpp")) continue;
    ++files;
    const std::string text = testing::slurp(path);
    for (std::sregex_iterator it(text.begin(), text.end(), op_ref), end; it != end; ++it)
      EXPECT_TRUE(own.count((*it)[1].str())) << path << " names Op::" << (*it)[1].str();
  }
  EXPECT_GT(files, 20);
  const std::string table = testing::slurp(kRoot + "/arch/chip_ops.cpp");
  for (const char* row : {"/* Add    */", "/* SDSA   */", "/* Mean   */"}) EXPECT_NE(table.find(row), std::string::npos) << row;
}

TEST(Extending, DocsQuoteTheExamplesVerbatim) {
  const std::string doc = testing::slurp(kRoot + "/docs/extending.md");
  for (const char* f : {"routing_north_last.cpp", "traffic_tornado.cpp", "placement_columns.cpp", "core_serial.cpp",
                        "op_max.cpp"})
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
  for (const arch::CoreModelInfo* c : arch::core_models()) {
    if (c == &arch::kCoreSerial) continue;  // the example, registered by the test
    EXPECT_NE(doc.find(row(c->name, c->description)), std::string::npos) << c->name;
  }
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

// arch/noc/routing/dimension_order.cpp builds both orders' tables from one function: they are the
// tables written out by hand before (port per offset_index, north = -y).
TEST(Extending, DimensionOrderTablesAreTheHandWrittenOnes) {
  const int xy[9] = {kWest, kWest, kWest, kNorth, kLocal, kSouth, kEast, kEast, kEast};
  const int yx[9] = {kNorth, kWest, kSouth, kNorth, kLocal, kSouth, kNorth, kEast, kSouth};
  ASSERT_NE(routing_function("xy").sign_table, nullptr);
  ASSERT_NE(routing_function("yx").sign_table, nullptr);
  for (int i = 0; i < 9; ++i) {
    EXPECT_EQ(routing_function("xy").sign_table[i], xy[i]) << i;
    EXPECT_EQ(routing_function("yx").sign_table[i], yx[i]) << i;
  }
}

}  // namespace
}  // namespace spikechip
