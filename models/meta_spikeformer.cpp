#include "models/meta_spikeformer.hpp"

#include <algorithm>
#include <random>

#include <fmt/format.h>

#include "models/executor.hpp"
#include "base/error.hpp"
#include "spikechip/version.hpp"

namespace spikechip::model {

MetaSpikeFormerSpec meta_spikeformer_preset(const std::string& name) {
  MetaSpikeFormerSpec s;
  if (name == "15M") s.dims = {64, 128, 256, 360};
  else if (name == "31M" || name == "8_384") s.dims = {96, 192, 384, 480};
  else if (name == "55M" || name == "8_512") s.dims = {128, 256, 512, 640};
  else if (name == "123M" || name == "8_768") s.dims = {192, 384, 768, 960};
  else throw UsageError("unknown Meta-SpikeFormer variant '" + name + "' (known: 15M, 31M, 55M, 123M, 8_384, 8_512, 8_768)");
  s.variant = name;
  return s;
}

int64_t float_param_count(const MetaSpikeFormerSpec& s) {
  // Per module, as the official classification/models.py declares them (cross-checked with the
  // state-dict key lists of the official checkpoints).
  auto bn = [](int64_t c) { return 2 * c; };
  auto conv = [](int64_t cin, int64_t cout, int64_t k, bool bias) { return cin * cout * k * k + (bias ? cout : 0); };
  auto conv_block = [&](int64_t C) {
    return conv(C, 2 * C, 1, false) + bn(2 * C)       // Conv.pwconv1 + bn1
           + 2 * C * 49                               // Conv.dwconv 7x7 depthwise, no bias
           + conv(2 * C, C, 1, false) + bn(C)         // Conv.pwconv2 + bn2
           + conv(C, 4 * C, 3, false) + bn(4 * C)     // conv1 + bn1
           + conv(4 * C, C, 3, false) + bn(C);        // conv2 + bn2
  };
  auto rep_conv = [&](int64_t C) {  // 1x1 -> BNAndPad -> dw3x3 -> pw1x1 -> BN, then the outer BN
    return conv(C, C, 1, false) + bn(C) + 9 * C + conv(C, C, 1, false) + bn(C) + bn(C);
  };
  auto ms_block = [&](int64_t C) {
    const int64_t H = int64_t(s.mlp_ratio) * C;
    return 4 * rep_conv(C) + conv(C, H, 1, true) + bn(H) + conv(H, C, 1, true) + bn(C);
  };
  const auto& e = s.dims;
  const int64_t c0 = e[0] / 2;
  int64_t p = conv(s.in_channels, c0, 7, true) + bn(c0);
  p += conv_block(c0);
  p += conv(c0, e[0], 3, true) + bn(e[0]) + conv_block(e[0]);
  p += conv(e[0], e[1], 3, true) + bn(e[1]) + 2 * conv_block(e[1]);
  p += conv(e[1], e[2], 3, true) + bn(e[2]) + s.blocks3 * ms_block(e[2]);
  p += conv(e[2], e[3], 3, true) + bn(e[3]) + s.blocks4 * ms_block(e[3]);
  p += (s.kd ? 2 : 1) * (int64_t(e[3]) * s.num_classes + s.num_classes);
  return p;
}

namespace {

// Platform-independent integer draws (std:: distributions are implementation-defined).
class Rng {
 public:
  explicit Rng(uint64_t seed) : g_(seed) {}
  uint64_t bits() { return g_(); }
  // Irwin-Hall: sum of four uniform 6-bit values, centred: bell-shaped in [-126, 126], std ~37.
  // The values fit int8, so they are drawn straight into one-byte storage.
  void weights(std::vector<int8_t>& w) {
    for (size_t i = 0; i < w.size(); i += 2) {
      const uint64_t b = g_();
      for (size_t j = 0; j < 2 && i + j < w.size(); ++j) {
        const uint64_t x = b >> (24 * j);
        w[i + j] = int8_t(int((x & 63) + ((x >> 6) & 63) + ((x >> 12) & 63) + ((x >> 18) & 63)) - 126);
      }
    }
  }
  int32_t uniform(int32_t lo, int32_t hi) { return lo + int32_t(g_() % uint64_t(hi - lo + 1)); }

 private:
  std::mt19937_64 g_;
};

class Builder {
 public:
  Builder(Graph& g, uint64_t seed) : g_(g), rng_(seed) {}

  int input(const Shape& s) {
    Node n;
    n.name = "input", n.op = Op::Input, n.shape = s, n.encoding = "image";
    n.zero_point.assign(s.c, 128);
    return push(std::move(n));
  }
  int conv(const std::string& name, int in, int cout, int k, int stride, int pad, const std::string& source) {
    const Shape& is = g_.nodes[in].shape;
    Node n;
    n.name = name, n.op = Op::Conv2d, n.inputs = {in}, n.source = source;
    n.kh = n.kw = k, n.sy = n.sx = stride, n.py = n.px = pad;
    n.shape = {cout, (is.h + 2 * pad - k) / stride + 1, (is.w + 2 * pad - k) / stride + 1};
    weights(n, int64_t(cout) * is.c * k * k, cout);
    return push(std::move(n));
  }
  int linear(const std::string& name, int in, int cout, const std::string& source) {
    Node n;
    n.name = name, n.op = Op::Linear, n.inputs = {in}, n.source = source, n.shape = {cout, 1, 1};
    weights(n, int64_t(cout) * g_.nodes[in].shape.size(), cout);
    return push(std::move(n));
  }
  int lif(const std::string& name, int in) {
    Node n;
    n.name = name, n.op = Op::LIF, n.inputs = {in}, n.shape = g_.nodes[in].shape, n.tau_shift = 1;
    n.threshold.assign(n.shape.c, 1);  // calibrated later
    return push(std::move(n));
  }
  int add(const std::string& name, int a, int b) {
    Node n;
    n.name = name, n.op = Op::Add, n.inputs = {a, b}, n.shape = g_.nodes[a].shape;
    return push(std::move(n));
  }
  int sdsa(const std::string& name, int q, int k, int v, int heads, int shift) {
    Node n;
    n.name = name, n.op = Op::SDSA, n.inputs = {q, k, v}, n.shape = g_.nodes[q].shape;
    n.heads = heads, n.sdsa_shift = shift;
    return push(std::move(n));
  }
  int mean(const std::string& name, int in) {
    Node n;
    const Shape& is = g_.nodes[in].shape;
    n.name = name, n.op = Op::Mean, n.inputs = {in}, n.shape = {is.c, 1, 1}, n.count = is.h * is.w;
    return push(std::move(n));
  }
  int output(int in) {
    Node n;
    n.name = "output", n.op = Op::Output, n.inputs = {in}, n.shape = g_.nodes[in].shape;
    return push(std::move(n));
  }

  // MS_ConvBlock on stream u (official module names); returns the new stream.
  int conv_block(const std::string& p, int u) {
    const int C = g_.nodes[u].shape.c;
    int s = lif(p + ".Conv.lif1", u);
    int a = conv(p + ".Conv.pwconv1", s, 2 * C, 1, 1, 0, p + ".Conv.pwconv1 + bn1");
    s = lif(p + ".Conv.lif2", a);
    a = conv(p + ".Conv.pwconv2", s, C, 7, 1, 3, p + ".Conv.dwconv + pwconv2 + bn2");
    const int u1 = add(p + ".add1", u, a);
    s = lif(p + ".lif1", u1);
    a = conv(p + ".conv1", s, 4 * C, 3, 1, 1, p + ".conv1 + bn1");
    s = lif(p + ".lif2", a);
    a = conv(p + ".conv2", s, C, 3, 1, 1, p + ".conv2 + bn2");
    return add(p + ".add2", u1, a);
  }
  // MS_Block on stream u.
  int ms_block(const std::string& p, int u, int heads, int mlp_ratio) {
    const int C = g_.nodes[u].shape.c;
    const int h = lif(p + ".attn.head_lif", u);
    int qkv[3];
    const char* nm[3] = {"q", "k", "v"};
    for (int j = 0; j < 3; ++j) {
      const std::string c = p + ".attn." + nm[j] + "_conv";
      const int cv = conv(c, h, C, 3, 1, 1, c + ".0 (RepConv) + " + c + ".1 (BN)");
      qkv[j] = lif(p + ".attn." + nm[j] + "_lif", cv);
    }
    // shift 4: the official 0.125 scale and attn_lif v_th 0.5 stay exact for T <= 4 (semantics.md).
    const int at = sdsa(p + ".attn.sdsa", qkv[0], qkv[1], qkv[2], heads, 4);
    int s = lif(p + ".attn.attn_lif", at);
    int a = conv(p + ".attn.proj_conv", s, C, 3, 1, 1, p + ".attn.proj_conv (RepConv + BN)");
    const int u1 = add(p + ".add1", u, a);
    s = lif(p + ".mlp.fc1_lif", u1);
    a = conv(p + ".mlp.fc1_conv", s, mlp_ratio * C, 1, 1, 0, p + ".mlp.fc1_conv + fc1_bn");
    s = lif(p + ".mlp.fc2_lif", a);
    a = conv(p + ".mlp.fc2_conv", s, C, 1, 1, 0, p + ".mlp.fc2_conv + fc2_bn");
    return add(p + ".add2", u1, a);
  }

 private:
  int push(Node&& n) {
    g_.nodes.push_back(std::move(n));
    return int(g_.nodes.size()) - 1;
  }
  void weights(Node& n, int64_t count, int cout) {
    std::vector<int8_t> w(static_cast<size_t>(count));
    rng_.weights(w);
    n.weight.assign_narrow(std::move(w));  // 8-bit synthetic weights, one byte each
    n.bias.resize(cout);
    for (auto& b : n.bias) b = rng_.uniform(-256, 256);
    n.shift.assign(cout, 0);
  }
  Graph& g_;
  Rng rng_;
};

// Threshold at the (1 - rate) quantile of what the LIF compares at T = 1 (x >> tau_shift), per
// channel where a channel has enough positions to have a quantile, else over the whole layer.
// Never below 1, so that silent (zero) inputs never fire.
void calibrate_lif(Node& n, const std::vector<int32_t>& x, double rate) {
  const int64_t hw = int64_t(n.shape.h) * n.shape.w;
  auto quantile = [&](std::vector<int32_t>& v) {
    for (auto& e : v) e >>= n.tau_shift;
    const size_t k = std::min(v.size() - 1, size_t(double(v.size()) * (1.0 - rate)));
    std::nth_element(v.begin(), v.begin() + k, v.end());
    return std::max<int32_t>(1, v[k]);
  };
  if (hw >= 16) {
    for (int c = 0; c < n.shape.c; ++c) {
      std::vector<int32_t> v(x.begin() + c * hw, x.begin() + (c + 1) * hw);
      n.threshold[c] = quantile(v);
    }
  } else {
    std::vector<int32_t> v(x.begin(), x.begin() + n.shape.size());
    n.threshold.assign(n.shape.c, quantile(v));
  }
}

}  // namespace

Graph build_meta_spikeformer_structure(const MetaSpikeFormerSpec& s, uint64_t seed) {
  const auto& e = s.dims;
  if (e[0] < 2 || e[0] % 2 || s.blocks3 < 0 || s.blocks4 < 0 || s.heads < 1 || s.mlp_ratio < 1 ||
      e[2] % s.heads || e[3] % s.heads || s.in_channels < 1 || s.height < 8 || s.width < 8 || s.num_classes < 1 ||
      s.T < 1)
    throw UsageError("invalid Meta-SpikeFormer spec: dims must be positive with dims[0] even and dims[2], dims[3] "
                     "divisible by heads; input at least 8x8; classes, T >= 1");
  // Bounds that keep a valid-looking spec from exhausting memory (it was std::bad_alloc, or the
  // OOM killer): each figure one order or more above the largest official model (123.7M
  // parameters, 4 x 96 x 112 x 112 values in its largest feature map at 224 x 224).
  constexpr int64_t kMaxParams = 2'000'000'000, kMaxFeatureMap = int64_t(1) << 28;
  if (s.height > 8192 || s.width > 8192 || s.in_channels > 4096 || s.num_classes > 1'000'001 || s.blocks3 > 256 ||
      s.blocks4 > 256 || s.heads > 4096 || s.mlp_ratio > 64 || *std::max_element(e.begin(), e.end()) > 65536)
    throw UsageError("Meta-SpikeFormer spec out of bounds: input sides <= 8192, channels <= 4096, classes <= 1000001, "
                     "blocks <= 256 per stage, heads <= 4096, mlp ratio <= 64, dims <= 65536");
  const int64_t params = float_param_count(s);
  if (params > kMaxParams)
    throw UsageError(fmt::format("Meta-SpikeFormer spec with {} parameters (limit {}; the largest official model has "
                                 "123.7M): use smaller --dims or --blocks", params, kMaxParams));
  // The widest feature map: the input, the ConvBlocks' hidden 4C at 1/2, 1/4 and 1/8 of the input
  // side, the MLPs' hidden (mlp ratio x C) at 1/16.
  auto side = [](int n, int f) { return int64_t((n + f - 1) / f); };
  const int64_t widest = std::max({int64_t(s.in_channels) * s.height * s.width,
                                   int64_t(4) * (e[0] / 2) * side(s.height, 2) * side(s.width, 2),
                                   int64_t(4) * e[0] * side(s.height, 4) * side(s.width, 4),
                                   int64_t(4) * e[1] * side(s.height, 8) * side(s.width, 8),
                                   int64_t(s.mlp_ratio) * std::max(e[2], e[3]) * side(s.height, 16) * side(s.width, 16)});
  if (widest > kMaxFeatureMap)
    throw UsageError(fmt::format("Meta-SpikeFormer spec whose widest feature map holds {} values (limit {}): use a "
                                 "smaller --input or --dims", widest, kMaxFeatureMap));
  Graph g;
  g.name = "meta-spikeformer-" + s.variant;
  g.timesteps = s.T;
  g.num_classes = s.num_classes;
  g.provenance = {{"source", "spikechip-synthetic"},
                  {"variant", s.variant},
                  {"dims", {e[0], e[1], e[2], e[3]}},
                  {"blocks", {s.blocks3, s.blocks4}},
                  {"heads", s.heads},
                  {"mlp_ratio", s.mlp_ratio},
                  {"kd", s.kd},
                  {"seed", seed},
                  {"input_size", {s.height, s.width}},
                  {"T", s.T},
                  {"float_params", params},
                  {"created_by", std::string("spikechip ") + kVersion}};
  Builder b(g, seed);
  int x = b.input({s.in_channels, s.height, s.width});
  x = b.conv("downsample1_1.encode_conv", x, e[0] / 2, 7, 2, 3,
             "downsample1_1.encode_conv + downsample1_1.encode_bn");
  x = b.conv_block("ConvBlock1_1.0", x);
  auto down = [&](const std::string& p, int u, int cout, int stride) {
    const int l = b.lif(p + ".encode_lif", u);
    return b.conv(p + ".encode_conv", l, cout, 3, stride, 1, p + ".encode_conv + " + p + ".encode_bn");
  };
  x = down("downsample1_2", x, e[0], 2);
  x = b.conv_block("ConvBlock1_2.0", x);
  x = down("downsample2", x, e[1], 2);
  x = b.conv_block("ConvBlock2_1.0", x);
  x = b.conv_block("ConvBlock2_2.0", x);
  x = down("downsample3", x, e[2], 2);
  for (int j = 0; j < s.blocks3; ++j) x = b.ms_block("block3." + std::to_string(j), x, s.heads, s.mlp_ratio);
  x = down("downsample4", x, e[3], 1);
  for (int j = 0; j < s.blocks4; ++j) x = b.ms_block("block4." + std::to_string(j), x, s.heads, s.mlp_ratio);
  x = b.mean("head_mean", x);
  x = b.lif("lif", x);
  x = b.linear("head", x, s.num_classes, s.kd ? "(head + head_kd) / 2" : "head");
  b.output(x);
  return g;
}

Graph build_meta_spikeformer(const MetaSpikeFormerSpec& s, uint64_t seed, double target_rate) {
  if (!(target_rate > 0 && target_rate < 1))
    throw UsageError("--rate must be in (0, 1), got " + std::to_string(target_rate));
  Graph g = build_meta_spikeformer_structure(s, seed);
  g.provenance["target_rate"] = target_rate;
  // Calibrate layer by layer on one deterministic random image: each LIF's threshold is set from
  // its input just before the LIF is evaluated, so later layers see calibrated spikes.
  std::vector<uint8_t> img(g.input().shape.size());
  Rng rng(seed ^ 0x9e3779b97f4a7c15ull);
  for (auto& p : img) p = uint8_t(rng.bits() >> 56);
  GoldenExecutor ex(g);
  ex.begin(InputView{img.data(), 1, g.input().shape}, RunOptions{2, false});
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Node& n = g.nodes[i];
    if (n.op == Op::LIF) calibrate_lif(n, ex.values(n.inputs[0]), target_rate);
    ex.eval_node(i, 0);
  }
  return g;
}

}  // namespace spikechip::model
