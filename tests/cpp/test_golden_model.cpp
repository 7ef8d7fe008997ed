// Meta-SpikeFormer builder and golden executor at graph level: parameter counts against the
// published sizes, dense op counts against ../shared/reference/mspk_ops.py (an independent
// analytic script), executor against a naive step-by-step evaluation, determinism.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <sstream>

#include "models/executor.hpp"
#include "models/meta_spikeformer.hpp"
#include "report/golden_report.hpp"
#include "base/error.hpp"
#include "spikechip/source_dir.hpp"

using namespace spikechip::model;
namespace fs = std::filesystem;

namespace {

std::string find_mspk_ops() {
  if (const char* e = std::getenv("SPIKECHIP_SHARED")) return std::string(e) + "/reference/mspk_ops.py";
  // The shared folder sits beside the repo checkout (as on CI) or beside a worktree's parent folder.
  for (const char* rel : {"/../shared", "/../../shared"}) {
    fs::path p = fs::path(SPIKECHIP_SOURCE_DIR + std::string(rel)) / "reference/mspk_ops.py";
    if (fs::exists(p)) return fs::canonical(p).string();
  }
  return {};
}

std::string python() { return fs::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3"; }

std::string run_capture(const std::string& cmd) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(popen(cmd.c_str(), "r"), pclose);
  std::string out;
  char buf[4096];
  size_t n;
  while (f && (n = fread(buf, 1, sizeof buf, f.get())) > 0) out.append(buf, n);
  return out;
}

MetaSpikeFormerSpec tiny_spec() {
  MetaSpikeFormerSpec s;
  s.variant = "tiny";
  s.dims = {8, 16, 16, 24};
  s.blocks3 = 1, s.blocks4 = 1;
  s.in_channels = 1, s.height = 28, s.width = 28, s.num_classes = 10;
  return s;
}

std::vector<uint8_t> random_image(const Shape& s, uint64_t seed) {
  std::mt19937_64 r(seed);
  std::vector<uint8_t> img(s.size());
  for (auto& p : img) p = uint8_t(r() >> 56);
  return img;
}

}  // namespace

TEST(MetaSpikeFormer, FloatParameterCountsMatchPublishedSizes) {
  EXPECT_EQ(float_param_count(meta_spikeformer_preset("15M")), 15112208);
  EXPECT_EQ(float_param_count(meta_spikeformer_preset("31M")), 31333864);
  EXPECT_EQ(float_param_count(meta_spikeformer_preset("55M")), 55350248);
  EXPECT_EQ(float_param_count(meta_spikeformer_preset("123M")), 123741160);
  auto kd = meta_spikeformer_preset("8_512");
  kd.kd = true;
  EXPECT_EQ(float_param_count(kd), 55991248);  // the released checkpoint's training log (issue #18)
  EXPECT_THROW(meta_spikeformer_preset("7M"), spikechip::UsageError);
}

TEST(MetaSpikeFormer, DenseOpCountsMatchMspkOps) {
  const std::string script = find_mspk_ops();
  if (script.empty()) GTEST_SKIP() << "mspk_ops.py not found beside the checkout (set SPIKECHIP_SHARED)";
  // Exact integers from the script's own functions, and its printed summary (rounded to 1e6).
  const std::string dir = fs::path(script).parent_path().string();
  const std::string exact = run_capture(
      python() + " -c \"import sys; sys.path.insert(0, '" + dir +
      "'); import mspk_ops as m\nfor v,(e,_) in m.VARIANTS.items():\n s=m.summarize(m.build(e,'reparam'))\n"
      " print(v, s['ac'], s['first'], s['sdsa'], s['lif'])\"");
  const std::string full = run_capture(python() + " " + script + " --full");
  ASSERT_NE(full.find("AC_dense(reparam)"), std::string::npos) << full.substr(0, 500);
  const std::map<std::string, std::string> ours = {{"15M", "15M"}, {"8_384", "31M"}, {"8_512", "55M"}, {"8_768", "123M"}};
  std::istringstream in(exact);
  std::string v;
  int64_t ac, first, sdsa, lif;
  int seen = 0;
  while (in >> v >> ac >> first >> sdsa >> lif) {
    ++seen;
    const Graph g = build_meta_spikeformer_structure(meta_spikeformer_preset(ours.at(v)), 1);
    int64_t my_ac = 0, my_first = 0, my_sdsa = 0, my_lif = 0;
    for (const Node& n : g.nodes) {
      if (n.op == Op::Conv2d || n.op == Op::Linear) {
        (g.nodes[n.inputs[0]].op == Op::Input ? my_first : my_ac) += dense_ops(g, n);
      } else if (n.op == Op::SDSA) {
        const int64_t N = int64_t(n.shape.h) * n.shape.w;
        my_sdsa += 2 * N * n.shape.c * (n.shape.c / n.heads);
      } else if (n.op == Op::LIF) {
        my_lif += n.shape.size();
      }
    }
    EXPECT_EQ(my_ac + my_sdsa, ac) << v;  // the script's reparam AC includes the SDSA products
    EXPECT_EQ(my_first, first) << v;
    EXPECT_EQ(my_sdsa, sdsa) << v;
    EXPECT_EQ(my_lif, lif) << v;
    // The printed summary line: "<variant> [dims] params +kd MAC_firstG ... AC_reparamG SDSAG LIFM".
    const size_t pos = full.find("\n" + v + " ");
    ASSERT_NE(pos, std::string::npos) << v;
    std::istringstream line(full.substr(pos + 1, full.find('\n', pos + 1) - pos - 1));
    std::string tok;
    std::vector<std::string> toks;
    while (line >> tok) toks.push_back(tok);
    ASSERT_GE(toks.size(), 10u);
    const size_t k = toks.size();
    EXPECT_NEAR(std::stod(toks[k - 3]), double(my_ac + my_sdsa) / 1e9, 0.0005) << v;
    EXPECT_NEAR(std::stod(toks[k - 2]), double(my_sdsa) / 1e9, 0.00005) << v;
    EXPECT_EQ(std::stoll(toks[k - 8]), float_param_count(meta_spikeformer_preset(ours.at(v)))) << v;
  }
  EXPECT_EQ(seen, 4) << exact;
}

TEST(MetaSpikeFormer, GraphFollowsNamingAndCalibrationHitsTheRate) {
  const Graph g = build_meta_spikeformer(tiny_spec(), 7, 0.2);
  EXPECT_EQ(g.nodes.front().name, "input");
  EXPECT_EQ(g.nodes[1].name, "downsample1_1.encode_conv");
  EXPECT_EQ(g.nodes[2].name, "ConvBlock1_1.0.Conv.lif1");
  EXPECT_GE(g.find("block3.0.attn.attn_lif"), 0);
  EXPECT_GE(g.find("block4.0.mlp.fc2_conv"), 0);
  EXPECT_EQ(g.nodes[g.nodes.size() - 4].name, "head_mean");
  EXPECT_EQ(g.nodes[g.nodes.size() - 3].name, "lif");
  EXPECT_EQ(g.nodes.back().name, "output");
  GoldenExecutor ex(g);
  const auto img = random_image(g.input().shape, 99);  // not the calibration image
  const RunResult r = ex.run(InputView{img.data(), 1, g.input().shape}, 1);
  int64_t spikes = 0, neurons = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i)
    if (g.nodes[i].op == Op::LIF) spikes += r.stats[i][0].spikes, neurons += g.nodes[i].shape.size();
  EXPECT_NEAR(double(spikes) / double(neurons), 0.2, 0.07);
}

// The executor against a naive whole-graph evaluation built only from dense loops (no kernels).
TEST(GoldenExecutor, MatchesNaiveEvaluationOverTimesteps) {
  const Graph g = build_meta_spikeformer(tiny_spec(), 3, 0.25);
  const auto img = random_image(g.input().shape, 5);
  const int T = 3;
  GoldenExecutor ex(g);
  const RunResult r = ex.run(InputView{img.data(), 1, g.input().shape}, T, RunOptions{2, true, 1, 0});  // 2 threads, 1-row bands

  std::vector<std::vector<int64_t>> val(g.nodes.size()), vmem(g.nodes.size());
  std::vector<int64_t> acc(g.output().shape.c, 0);
  auto clamp = [](int64_t x) { return std::min<int64_t>(INT32_MAX, std::max<int64_t>(INT32_MIN, x)); };
  for (int t = 0; t < T; ++t)
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      const Node& n = g.nodes[i];
      auto& out = val[i];
      out.assign(n.shape.size(), 0);
      const int64_t hw = int64_t(n.shape.h) * n.shape.w;
      if (n.op == Op::Input) {
        for (int64_t j = 0; j < n.shape.size(); ++j) out[j] = img[j] - n.zero_point[j / hw];
      } else if (n.op == Op::Conv2d || n.op == Op::Linear) {
        const Shape in = n.op == Op::Linear ? Shape{int(g.input_shape(n).size()), 1, 1} : g.input_shape(n);
        const auto& x = val[n.inputs[0]];
        const int ig = in.c / n.groups, og = n.shape.c / n.groups;
        for (int o = 0; o < n.shape.c; ++o)
          for (int oy = 0; oy < n.shape.h; ++oy)
            for (int ox = 0; ox < n.shape.w; ++ox) {
              int64_t s = 0;
              for (int ii = 0; ii < ig; ++ii)
                for (int ky = 0; ky < n.kh; ++ky)
                  for (int kx = 0; kx < n.kw; ++kx) {
                    const int y = oy * n.sy - n.py + ky, xx = ox * n.sx - n.px + kx;
                    if (y < 0 || y >= in.h || xx < 0 || xx >= in.w) continue;
                    s += n.weight[((int64_t(o) * ig + ii) * n.kh + ky) * n.kw + kx] *
                         x[(int64_t((o / og) * ig + ii) * in.h + y) * in.w + xx];
                  }
              out[(int64_t(o) * n.shape.h + oy) * n.shape.w + ox] = clamp((s << n.shift[o]) + n.bias[o]);
            }
      } else if (n.op == Op::LIF) {
        auto& v = vmem[i];
        v.resize(n.shape.size(), 0);
        for (int64_t j = 0; j < n.shape.size(); ++j) {
          const int64_t h = clamp((v[j] + val[n.inputs[0]][j]) >> n.tau_shift);
          out[j] = h >= n.threshold[j / hw];
          v[j] = out[j] ? 0 : h;
          ASSERT_EQ(out[j], r.spikes[i][t * n.shape.size() + j]) << n.name << " t" << t << " j" << j;
        }
      } else if (n.op == Op::Add) {
        for (int64_t j = 0; j < n.shape.size(); ++j) out[j] = clamp(val[n.inputs[0]][j] + val[n.inputs[1]][j]);
      } else if (n.op == Op::SDSA) {
        const int d = n.shape.c / n.heads;
        const auto &q = val[n.inputs[0]], &k = val[n.inputs[1]], &v = val[n.inputs[2]];
        for (int c = 0; c < n.shape.c; ++c)
          for (int64_t tok = 0; tok < hw; ++tok) {
            const int g0 = c / d * d;
            int64_t s = 0;
            for (int a = 0; a < d; ++a) {
              if (!q[(g0 + a) * hw + tok]) continue;
              for (int64_t m = 0; m < hw; ++m) s += k[(g0 + a) * hw + m] * v[c * hw + m];
            }
            out[c * hw + tok] = clamp(s << n.sdsa_shift);
          }
      } else if (n.op == Op::Mean) {
        const Shape in = g.input_shape(n);
        for (int c = 0; c < n.shape.c; ++c) {
          int64_t s = 0;
          for (int64_t j = 0; j < int64_t(in.h) * in.w; ++j) s += val[n.inputs[0]][c * in.h * in.w + j];
          out[c] = clamp(s);
        }
      } else if (n.op == Op::Output) {
        for (int o = 0; o < n.shape.c; ++o) acc[o] += val[n.inputs[0]][o];
      }
    }
  EXPECT_EQ(r.output_acc, acc);
}

TEST(GoldenExecutor, DeterministicAndThreadCountIndependent) {
  const Graph g = build_meta_spikeformer(tiny_spec(), 11, 0.2);
  const Graph g2 = build_meta_spikeformer(tiny_spec(), 11, 0.2);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    EXPECT_EQ(g.nodes[i].weight, g2.nodes[i].weight);
    EXPECT_EQ(g.nodes[i].threshold, g2.nodes[i].threshold);
  }
  const auto img = random_image(g.input().shape, 1);
  const InputView in{img.data(), 1, g.input().shape};
  std::vector<std::string> dumps;
  // Thread counts and accumulator band sizes (1 byte = one output row per band) change nothing.
  for (auto [threads, band] : {std::pair{1, 1 << 19}, {2, 1 << 19}, {2, 1 << 19}, {3, 1 << 19}, {1, 1}, {2, 3000}}) {
    GoldenExecutor ex(g);
    const RunResult r = ex.run(in, 2, RunOptions{threads, true, band, 0});
    dumps.push_back(spikechip::report::make_golden_report(g, r).dump(1));
    for (const auto& s : r.spikes) dumps.back().append(s.begin(), s.end());
  }
  for (size_t k = 1; k < dumps.size(); ++k) EXPECT_EQ(dumps[k], dumps[0]) << "run " << k;
  // A different seed gives a different model.
  const Graph g3 = build_meta_spikeformer(tiny_spec(), 12, 0.2);
  EXPECT_NE(g3.nodes[1].weight, g.nodes[1].weight);
}

TEST(GoldenExecutor, ReportTotalsAndEnergyFormula) {
  const Graph g = build_meta_spikeformer(tiny_spec(), 5, 0.2);
  const auto img = random_image(g.input().shape, 2);
  GoldenExecutor ex(g);
  const RunResult r = ex.run(InputView{img.data(), 1, g.input().shape}, 2);
  const auto j = spikechip::report::make_golden_report(g, r);
  int64_t sops = 0, macs = 0, sd = 0;
  for (const auto& l : j["layers"]) sops += l["sops"].get<int64_t>(), macs += l["macs"].get<int64_t>(), sd += l["sdsa_ops"].get<int64_t>();
  EXPECT_EQ(j["summary"]["sops"].get<int64_t>(), sops);
  EXPECT_GT(sops, 0);
  EXPECT_GT(macs, 0);
  EXPECT_DOUBLE_EQ(j["summary"]["paper_energy_pJ"].get<double>(), 4.6 * double(macs) + 0.9 * double(sops + sd));
  // The first conv repeats its work every step (image input): MACs counted T times.
  EXPECT_EQ(r.stats[1][0].macs, r.stats[1][1].macs);
  EXPECT_EQ(j["inputs"][0]["prediction"].get<int>(), r.prediction);
}

TEST(GoldenExecutor, RejectsWrongInputShape) {
  const Graph g = build_meta_spikeformer_structure(tiny_spec(), 1);
  GoldenExecutor ex(g);
  std::vector<uint8_t> img(3 * 28 * 28);
  EXPECT_THROW(ex.run(InputView{img.data(), 1, Shape{3, 28, 28}}, 1), spikechip::Error);
}

TEST(GoldenExecutor, EventFramesAreReadPerTimestep) {
  const Graph gi = build_meta_spikeformer(tiny_spec(), 4, 0.2);
  Graph g = gi;
  g.nodes[0].encoding = "events";
  const Shape s = g.input().shape;
  const auto f0 = random_image(s, 1), f1 = random_image(s, 2);
  std::vector<uint8_t> same(f0), diff(f0);
  same.insert(same.end(), f0.begin(), f0.end());
  diff.insert(diff.end(), f1.begin(), f1.end());
  GoldenExecutor ex(g);
  const RunResult img = GoldenExecutor(gi).run(InputView{f0.data(), 1, s}, 2, RunOptions{1, true});
  const RunResult ev_same = ex.run(InputView{same.data(), 2, s}, 2, RunOptions{1, true});
  const RunResult ev_diff = ex.run(InputView{diff.data(), 2, s}, 2, RunOptions{1, true});
  EXPECT_EQ(ev_same.spikes, img.spikes);  // two equal frames == one image seen twice
  EXPECT_EQ(ev_same.output_acc, img.output_acc);
  EXPECT_NE(ev_diff.spikes[2], img.spikes[2]);  // the first LIF sees frame 1 at t = 1
  // Fewer frames than timesteps is an error that says what to do.
  EXPECT_THROW(ex.run(InputView{same.data(), 2, s}, 3), spikechip::Error);
}
