#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>

#include <gtest/gtest.h>


#include "arch/chip_config.hpp"
#include "mapper/mapper.hpp"
#include "mapper_graphs.hpp"
#include "base/error.hpp"
#include "base/strict_json.hpp"

using namespace spikechip;
using spikechip::testing::GraphBuilder;
using spikechip::testing::fmnist_sized_shape;
using spikechip::testing::mapper_preset;
using spikechip::testing::meta_spikeformer_shape;

namespace {

// Invariants every mapping must satisfy, checked against the graph independently of the mapper.
void check_mapping(const model::Graph& g, const mapper::Mapping& m, const arch::ChipConfig& chip) {
  // Every neuron of every non-input node lies in exactly one group of its cluster.
  std::vector<std::vector<int>> count(g.nodes.size());
  for (size_t i = 1; i < g.nodes.size(); ++i) count[i].assign(size_t(g.nodes[i].shape.size()), 0);
  for (const auto& gr : m.groups) {
    for (int n : m.clusters[gr.cluster].nodes) {
      const auto& s = g.nodes[n].shape;
      for (int c = gr.box.c0; c < gr.box.c1; ++c)
        for (int y = gr.box.y0; y < gr.box.y1; ++y)
          for (int x = gr.box.x0; x < gr.box.x1; ++x) ++count[n][(size_t(c) * s.h + y) * s.w + x];
    }
  }
  for (size_t i = 1; i < g.nodes.size(); ++i)
    for (int v : count[i]) ASSERT_EQ(v, 1) << g.nodes[i].name;
  // Capacities and one group per core.
  std::set<int> cores;
  for (const auto& gr : m.groups) {
    EXPECT_LE(gr.membrane_bytes, chip.core.membrane_sram_bytes);
    EXPECT_LE(gr.weight_bytes, chip.core.weight_sram_bytes);
    ASSERT_GE(gr.core, 0);
    ASSERT_LT(gr.core, m.mesh_w * m.mesh_h);
    EXPECT_TRUE(cores.insert(gr.core).second);
  }
  // Each multicast tree's links form paths from the source that end exactly at the destinations.
  for (const auto& r : m.routes) {
    int src = r.src_group < 0 ? -1 : m.groups[r.src_group].core;
    std::set<int> reached{src}, want;
    for (int d : r.dests) want.insert(d < 0 ? -1 : m.groups[d].core);
    std::map<int, int> indeg;
    std::set<int> has_out;
    bool grew = true;
    std::set<std::pair<int, int>> links(r.links.begin(), r.links.end());
    while (grew) {
      grew = false;
      for (const auto& [a, b] : links)
        if (reached.count(a) && !reached.count(b)) reached.insert(b), grew = true;
    }
    for (const auto& [a, b] : links) {
      EXPECT_TRUE(reached.count(a)) << "link not connected to the source in route " << r.id;
      has_out.insert(a);
      if (++indeg[b] > 1 && !m.options.value("unicast", false)) ADD_FAILURE() << "not a tree, route " << r.id;
    }
    for (int w : want) EXPECT_TRUE(reached.count(w) || w == src) << "destination missed, route " << r.id;
    for (int c : reached) {  // every leaf of the tree is a destination
      if (!has_out.count(c) && c != src) {
        EXPECT_TRUE(want.count(c)) << "tree leaf is no destination, route " << r.id;
      }
    }
  }
}

// Independent check of the destination sets: a brute-force scan of who reads each spike.
void check_destinations_bruteforce(const model::Graph& g, const mapper::Mapping& m) {
  for (const auto& r : m.routes) {
    if (r.kind != "spike") continue;
    // Pick the region's corner neuron and find every consumer group that reads it.
    int c = r.region.c0, y = r.region.y0, x = r.region.x0;
    std::set<int> expect;
    for (const auto& gr : m.groups)
      for (int n : m.clusters[gr.cluster].nodes) {
        const auto& nd = g.nodes[n];
        for (int in : nd.inputs) {
          if (in != r.src_node) continue;
          bool reads = false;
          if (nd.op == model::Op::Conv2d) {
            for (int oy = gr.box.y0; oy < gr.box.y1 && !reads; ++oy)
              for (int ox = gr.box.x0; ox < gr.box.x1 && !reads; ++ox) {
                int ky = y - (oy * nd.sy - nd.py), kx = x - (ox * nd.sx - nd.px);
                reads = ky >= 0 && ky < nd.kh && kx >= 0 && kx < nd.kw;
              }
          } else if (nd.op == model::Op::SDSA) {
            reads = c >= gr.box.c0 && c < gr.box.c1;
          } else {
            reads = true;
          }
          if (reads) expect.insert(gr.id);
        }
      }
    std::set<int> got(r.dests.begin(), r.dests.end());
    EXPECT_EQ(got, expect) << "route " << r.id << " of " << g.nodes[r.src_node].name;
  }
}
}  // namespace

TEST(Mapper, ClustersFollowTheExecutionModel) {
  model::Graph g = fmnist_sized_shape();
  auto clusters = mapper::build_clusters(g);
  auto cluster_of = [&](const std::string& name) {
    int id = g.find(name);
    for (const auto& c : clusters)
      for (int n : c.nodes)
        if (n == id) return c.id;
    return -1;
  };
  // The residual stream: encode conv, both Adds, the convs adding into them, and LIFs reading them.
  EXPECT_EQ(cluster_of("downsample1_1.encode_conv"), cluster_of("ConvBlock1_1.0.add2"));
  EXPECT_EQ(cluster_of("ConvBlock1_1.0.Conv.pwconv2"), cluster_of("ConvBlock1_1.0.add1"));
  EXPECT_EQ(cluster_of("ConvBlock1_1.0.lif1"), cluster_of("ConvBlock1_1.0.add1"));
  EXPECT_EQ(cluster_of("downsample1_2.encode_lif"), cluster_of("ConvBlock1_1.0.add2"));
  EXPECT_NE(cluster_of("ConvBlock1_1.0.Conv.pwconv1"), cluster_of("ConvBlock1_1.0.add1"));
  EXPECT_EQ(cluster_of("block3.0.attn.sdsa"), cluster_of("block3.0.attn.attn_lif"));
  EXPECT_EQ(cluster_of("head_mean"), cluster_of("lif"));
  EXPECT_NE(cluster_of("head_mean"), cluster_of("block4.0.add2"));
  EXPECT_EQ(cluster_of("head"), cluster_of("output"));
  EXPECT_EQ(cluster_of("input"), -1);
}

TEST(Mapper, TinyModelOnTinyPresetAllPlacements) {
  model::Graph g = fmnist_sized_shape();
  arch::ChipConfig chip = mapper_preset("tiny");
  for (const char* p : {"naive", "random", "snake", "anneal"}) {
    mapper::MapOptions o;
    o.placement = p;
    mapper::Mapping m = mapper::map_model(g, chip, o);
    check_mapping(g, m, chip);
    check_destinations_bruteforce(g, m);
  }
}

TEST(Mapper, SpatialTilesHaloAndUnicast) {
  // A stream at 32x32 on small cores: forces spatial tiles, halos and channel chunks.
  GraphBuilder b("stream");
  int x = b.input(2, 32, 32);
  int u = b.conv("enc", x, 8, 3, 1, 1);
  int l1 = b.lif("l1", u);
  int c1 = b.conv("c1", l1, 16, 3, 1, 1);
  int l2 = b.lif("l2", c1);
  int c2 = b.conv("c2", l2, 8, 3, 2, 1);  // stride 2 into a new stream
  int l3 = b.lif("l3", c2);
  int c3 = b.conv("c3", l3, 8, 3, 1, 1);
  int a = b.add_("add", c2, c3);
  int m = b.lif("ml", b.mean("mean", a));
  b.output(b.linear("head", m, 4));
  nlohmann::json cj = {{"name", "small"}, {"mesh", {{"width", 8}, {"height", 8}}},
                       {"core", {{"membrane_sram_bytes", 2048}, {"membrane_banks", 4}, {"weight_sram_bytes", 2048}, {"weight_banks", 4}}}};
  arch::ChipConfig chip = arch::chip_config_from_json(cj, "small");
  for (bool uni : {false, true}) {
    mapper::MapOptions o;
    o.unicast = uni;
    mapper::Mapping mp = mapper::map_model(b.g, chip, o);
    check_mapping(b.g, mp, chip);
    check_destinations_bruteforce(b.g, mp);
    bool tiled = false;
    for (const auto& c : mp.clusters) tiled |= c.n_tiles_y * c.n_tiles_x > 1;
    EXPECT_TRUE(tiled);
  }
}

TEST(Mapper, DeterministicForASeed) {
  model::Graph g = fmnist_sized_shape();
  arch::ChipConfig chip = mapper_preset("tiny");
  mapper::MapOptions o;
  auto a = mapper::mapping_to_json(mapper::map_model(g, chip, o)).dump();
  auto b = mapper::mapping_to_json(mapper::map_model(g, chip, o)).dump();
  EXPECT_EQ(a, b);
}

TEST(Mapper, AnnealBeatsNaive) {
  model::Graph g = fmnist_sized_shape();
  arch::ChipConfig chip = mapper_preset("tiny");
  mapper::MapOptions o;
  mapper::Mapping m = mapper::map_model(g, chip, o);
  double opt = mapper::traffic_hops(m);
  mapper::place_and_route(m, "naive", 1, false, 0, arch::noc::routing_function("xy"));
  EXPECT_LT(opt, mapper::traffic_hops(m));
}

TEST(Mapper, JsonRoundTripAndBrokenFile) {
  model::Graph g = fmnist_sized_shape();
  mapper::Mapping m = mapper::map_model(g, mapper_preset("tiny"), {});
  nlohmann::json j = mapper::mapping_to_json(m);
  std::filesystem::path f = std::filesystem::temp_directory_path() / "spikechip_mapping_test.json";
  mapper::save_mapping(m, f.string());
  EXPECT_EQ(mapper::mapping_to_json(mapper::load_mapping(f.string())), j);
  auto expect_error = [&](nlohmann::json broken, const std::string& needle) {
    std::ofstream(f) << broken.dump();
    try {
      mapper::load_mapping(f.string());
      ADD_FAILURE() << "accepted: " << needle;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  nlohmann::json b1 = j;
  b1["groups"][3]["core"] = {99, 0};
  expect_error(b1, f.string() + ": /groups/3/core/0: 99 is out of range 0..7");
  nlohmann::json b2 = j;
  b2["groups"][2]["channels"] = {0, 1};
  expect_error(b2, "/clusters/");
  nlohmann::json b3 = j;
  b3["routes"][0]["kindd"] = "spike";
  expect_error(b3, "/routes/0/kindd: unknown key");
  nlohmann::json b4 = j;
  b4["mapping_version"] = 7;
  expect_error(b4, "/mapping_version: 7 is out of range 1..2");
  nlohmann::json b5 = j;
  b5["routes"][1]["links"] = {{{0, 0}, {2, 0}}};
  expect_error(b5, "/routes/1/links/0: not a link between neighbouring routers");
  std::filesystem::remove(f);
}

TEST(Mapper, DoesNotFitNamesLayerAndShortfall) {
  // 55.4M dims at 112x112 (quick to build) on the 15.1M preset.
  model::Graph g = meta_spikeformer_shape({128, 256, 512, 640}, 6, 2, 3, 224, 1000);
  try {
    mapper::map_model(g, mapper_preset("meta15m"), {});
    FAIL() << "55.4M must not fit the 15.1M preset";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("does not fit chip 'meta15m'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("short by"), std::string::npos) << msg;
    EXPECT_NE(msg.find("Layer '"), std::string::npos) << msg;
    EXPECT_NE(msg.find("--chips auto"), std::string::npos) << msg;
    EXPECT_NE(msg.find("--time-multiplex"), std::string::npos) << msg;
  }
  // ... and --chips auto spreads it over several chips.
  mapper::MapOptions o;
  o.chips = -1;
  o.placement = "snake";
  mapper::Mapping m = mapper::map_model(g, mapper_preset("meta15m"), o);
  EXPECT_GT(m.options["chips_x"].get<int>() * m.options["chips_y"].get<int>(), 1);
}

TEST(Mapper, SingleChannelTooBigForCore) {
  GraphBuilder b("wide");
  int x = b.input(1, 8, 8);
  int l = b.lif("l", b.conv("c", x, 4, 3, 1, 1));
  b.output(b.linear("fc", l, 10));
  nlohmann::json cj = {{"name", "mini"}, {"core", {{"weight_sram_bytes", 1024}, {"weight_banks", 4}}}};
  // fc needs 4*8*8 + 5 bytes per output channel: fits; make the input wider so it does not.
  b.g.nodes[1].shape.c = 64;
  b.g.nodes[2].shape.c = 64;
  // 64*64 + 5 bytes per channel: since issue 20 fc's fan-in is split (docs/mapper.md, "Split
  // fan-in"), so the model gets as far as the core count (52 groups on 16 cores)...
  try {
    mapper::map_model(b.g, arch::chip_config_from_json(cj, "mini"), {});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("does not fit chip 'mini'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("Layer 'fc'"), std::string::npos) << e.what();
  }
  // ... while at 40x40 even one of fc's input channels (1,600 weights + bias + shift) exceeds the
  // 1,024 bytes: the error names the layer and the shortfall.
  GraphBuilder w("wider");
  int xw = w.input(1, 40, 40);
  w.output(w.linear("fc", w.lif("l", w.conv("c", xw, 4, 3, 1, 1)), 10));
  try {
    mapper::map_model(w.g, arch::chip_config_from_json(cj, "mini"), {});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("layer 'fc'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("one input channel"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("short by"), std::string::npos) << e.what();
  }
}

// Issue 18: shapes up to the graph reader's limits (2^20 per dimension) must not make the mapper
// build millions of groups (a 229376x229376 input asked for ~7 GB and a minute before it failed).
TEST(Mapper, HugeShapesRefusedBeforeBuildingGroups) {
  GraphBuilder b("huge");
  int x = b.input(1, 65536, 65536);
  int l = b.lif("l", b.conv("c", x, 8, 3, 1, 1));
  b.output(b.linear("fc", b.lif("ml", b.mean("mean", l)), 10));
  const auto t0 = std::chrono::steady_clock::now();
  for (bool tm : {false, true}) {
    mapper::MapOptions o;
    o.time_multiplex = tm;
    try {
      mapper::map_model(b.g, mapper_preset("tiny"), o);
      FAIL() << "a 65536x65536 stream cannot be mapped onto the tiny preset";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("more than the mapper handles (65536"), std::string::npos) << e.what();
    }
  }
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 20.0);
}

#include "models/graph_io.hpp"
#include "models/meta_spikeformer.hpp"

TEST(Mapper, BuilderTinyModelMapsOnTinyPreset) {
  model::MetaSpikeFormerSpec spec;
  spec.dims = {16, 32, 48, 64}, spec.blocks3 = 1, spec.blocks4 = 1, spec.in_channels = 1;
  spec.height = spec.width = 28, spec.num_classes = 10;
  model::Graph g = model::build_meta_spikeformer_structure(spec, 1);
  arch::ChipConfig chip = mapper_preset("tiny");
  mapper::Mapping m = mapper::map_model(g, chip, {});
  check_mapping(g, m, chip);
  check_destinations_bruteforce(g, m);
  // The helper graph used elsewhere in these tests has the builder's structure.
  EXPECT_EQ(mapper::structure_hash(g), mapper::structure_hash(fmnist_sized_shape()));
  EXPECT_EQ(mapper::mapping_to_json(m)["summary"]["cores_used"], 27);
}

// A mapping is for the layers and the timesteps (structure_hash): a run at other timesteps is
// told which T the mapping was made for; another structure is told so.
TEST(Mapper, MismatchNamesTheTimestepsAMappingWasMadeFor) {
  model::Graph g = fmnist_sized_shape();
  g.timesteps = 3;
  const mapper::Mapping m = mapper::map_model(g, mapper_preset("tiny"), {});
  EXPECT_EQ(mapper::mapping_model_mismatch(m, g), "");
  g.timesteps = 4;
  const std::string at4 = mapper::mapping_model_mismatch(m, g);
  EXPECT_NE(at4.find("made for this model at T = 3 and this run has T = 4"), std::string::npos) << at4;
  g.timesteps = 3;
  g.nodes.back().name += "_renamed";
  const std::string other = mapper::mapping_model_mismatch(m, g);
  EXPECT_NE(other.find("(another structure)"), std::string::npos) << other;
  EXPECT_EQ(other.find("T = "), std::string::npos) << other;
}
