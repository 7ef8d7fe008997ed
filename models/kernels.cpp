#include "models/kernels.hpp"

#include <algorithm>
#include <string>
#include <type_traits>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "base/error.hpp"
#include "models/cpu_avx512.hpp"
#include "models/fast_div.hpp"

namespace spikechip::model {

ConvPlan make_conv_plan(const Node& n, const Shape& in, int64_t in_max) {
  ConvPlan p;
  if (n.op == Op::Linear) {
    p.cin = int(in.size());
    p.cout = n.shape.c;
    p.cin_g = p.cin, p.cout_g = p.cout;
  } else if (n.op == Op::Conv2d) {
    p.cin = in.c, p.cout = n.shape.c, p.hin = in.h, p.win = in.w, p.hout = n.shape.h, p.wout = n.shape.w;
    p.kh = n.kh, p.kw = n.kw, p.sy = n.sy, p.sx = n.sx, p.py = n.py, p.px = n.px, p.groups = n.groups;
    p.cin_g = in.c / n.groups, p.cout_g = n.shape.c / n.groups;
  } else {
    throw Error("node '" + n.name + "': make_conv_plan needs a Conv2d or Linear node");
  }
  const int64_t taps = int64_t(p.kh) * p.kw;
  if (int64_t(n.weight.size()) != int64_t(p.cout) * p.cin_g * taps || int64_t(n.bias.size()) != p.cout ||
      int64_t(n.shift.size()) != p.cout)
    throw Error("node '" + n.name + "': weight/bias/shift sizes do not match its shape (weight " +
                std::to_string(n.weight.size()) + ", expected " +
                std::to_string(int64_t(p.cout) * p.cin_g * taps) + ")");
  // Weights that all fit int8 keep the int8 path (its speed and bits); wider ones (12 / 16-bit
  // models) take the int16 copy.
  int64_t wmax = 0;
  for (int16_t w : n.weight) wmax = std::max<int64_t>(wmax, w < 0 ? -int64_t(w) : int64_t(w));
  const bool narrow = wmax <= 128 && std::all_of(n.weight.begin(), n.weight.end(), [](int16_t w) { return w <= 127; });
  // Re-arrange [O][I/g][kh][kw] into [I][kh][kw][O/g] so one input's fan-out is contiguous.
  auto rearrange = [&](auto& wt) {
    wt.resize(n.weight.size());
    for (int o = 0; o < p.cout; ++o) {
      const int g = o / p.cout_g, oj = o % p.cout_g;
      for (int i = 0; i < p.cin_g; ++i)
        for (int64_t k = 0; k < taps; ++k)
          wt[((int64_t(g) * p.cin_g + i) * taps + k) * p.cout_g + oj] =
              typename std::decay_t<decltype(wt)>::value_type(n.weight[(int64_t(o) * p.cin_g + i) * taps + k]);
    }
  };
  if (narrow) rearrange(p.wt);
  else rearrange(p.wt16);
  p.bias = n.bias;
  p.shift = n.shift;
  // The unshifted sum is bounded by fan_in * max|w| * in_max (int8 weights are >= -128, so 128
  // on the int8 path, as before).
  p.wide = p.fan_in() * (narrow ? 128 : std::max<int64_t>(wmax, 1)) * in_max >= (int64_t(1) << 31);
  return p;
}

ConvPlan make_conv_plan(const Graph& g, const Node& n, int64_t in_max) {
  ConvPlan p = make_conv_plan(n, g.input_shape(n), in_max);
  p.membrane = Membrane::of_bits(g.membrane_bits);
  return p;
}

ConvPlan slice_plan(const ConvPlan& p, const Slice& s) {
  const int n = s.channels();
  if (p.groups != 1 || p.is_wide_weights() || n < 1 || n >= p.cout_g) return {};
  ConvPlan q;  // (field by field: a copy of p would copy all its weights first)
  q.cin = p.cin, q.cout = n, q.hin = p.hin, q.win = p.win, q.hout = p.hout, q.wout = p.wout;
  q.kh = p.kh, q.kw = p.kw, q.sy = p.sy, q.sx = p.sx, q.py = p.py, q.px = p.px, q.groups = 1;
  q.cin_g = p.cin_g, q.cout_g = n;
  const int64_t rows = int64_t(p.cin) * p.kh * p.kw;
  q.wt.resize(size_t(rows) * size_t(n));
  for (int64_t r = 0; r < rows; ++r) std::copy_n(p.wt.data() + r * p.cout_g + s.c0, n, q.wt.data() + r * n);
  q.bias.assign(p.bias.begin() + s.c0, p.bias.begin() + s.c1);
  q.shift.assign(p.shift.begin() + s.c0, p.shift.begin() + s.c1);
  q.wide = p.wide, q.membrane = p.membrane;
  return q;
}

namespace {

// Kernel taps [k_lo, k_hi] (step = stride) of input coordinate `pos` that land on outputs
// [o0, o1): output o = (pos + pad - k) / stride must be integral and in range.
struct TapRange {
  int k0, k1, step;  // k0 first valid tap, iterate k = k0; k <= k1; k += step
};
inline TapRange taps_for(int pos, int pad, int stride, int ksize, int o0, int o1) {
  const int t = pos + pad;
  if (stride == 1) return {std::max(0, t - (o1 - 1)), std::min(ksize - 1, t - o0), 1};  // no division
  int lo = std::max(0, t - (o1 - 1) * stride);
  const int hi = std::min(ksize - 1, t - o0 * stride);
  if (lo > hi) return {1, 0, 1};
  lo += ((t - lo) % stride);  // t - lo must be a multiple of stride
  return {lo, hi, stride};
}

// Calls row(offset, w, n) for every tap of input (ci, y, x) reaching slice s: n weights w add to
// the accumulator's channels [offset, offset + n). Returns the SOPs (taps x n).
template <class W>
inline const W* weights_of(const ConvPlan& p) {
  if constexpr (sizeof(W) == 1) return p.wt.data();
  else return p.wt16.data();
}

// W: the plan's weight type (int8_t, or int16_t for plans with wt16).
template <class W = int8_t, class Fn>
inline __attribute__((always_inline)) int64_t for_each_tap(const ConvPlan& p, int ci, int y, int x, const Slice& s,
                                                           Fn&& row) {
  // Divisions avoided where the common case allows (groups 1, stride 1): the chip calls this once
  // per spike and destination group for runs of only 16-32 channels, so they are a large share.
  const int g = p.groups == 1 ? 0 : ci / p.cin_g;
  const int oc0 = std::max(s.c0, g * p.cout_g), oc1 = std::min(s.c1, (g + 1) * p.cout_g);
  if (oc0 >= oc1) return 0;
  const int n = oc1 - oc0, tw = s.x1 - s.x0, sc = s.c1 - s.c0;
  const TapRange ry = taps_for(y, p.py, p.sy, p.kh, s.y0, s.y1);
  const TapRange rx = taps_for(x, p.px, p.sx, p.kw, s.x0, s.x1);
  const W* wbase = weights_of<W>(p) + int64_t(ci) * p.kh * p.kw * p.cout_g + (oc0 - g * p.cout_g);
  const int64_t abase = oc0 - s.c0;
  int64_t taps = 0;
  // Tap k = k0 + i * stride lands on output (pos + pad - k0) / stride - i: one division per spike
  // and dimension instead of one per tap (a depthwise 7x7 tap is a single add).
  int oy = (p.sy == 1 ? y + p.py - ry.k0 : (y + p.py - ry.k0) / p.sy) - s.y0;
  const int ox0 = (p.sx == 1 ? x + p.px - rx.k0 : (x + p.px - rx.k0) / p.sx) - s.x0;
  for (int ky = ry.k0; ky <= ry.k1; ky += ry.step, --oy) {
    int ox = ox0;
    for (int kx = rx.k0; kx <= rx.k1; kx += rx.step, --ox) {
      row(abase + (int64_t(oy) * tw + ox) * sc, wbase + int64_t(ky * p.kw + kx) * p.cout_g, n);
      ++taps;
    }
  }
  return taps * n;
}

template <class Acc, class W>
inline __attribute__((always_inline)) void add_row(Acc* __restrict a, const W* __restrict w, int n) {
  int i = 0;
  // The chip's group slices give runs of 16-32 channels, which the runtime-length loop below
  // vectorises only from 32 or 64 up (shorter runs took its scalar tail): whole blocks of 16 as
  // fixed-length loops, one or two vector adds each.
  if (n < 64)
    for (; i + 16 <= n; i += 16)
      for (int j = 0; j < 16; ++j) a[i + j] += w[i + j];
  for (; i < n; ++i) a[i] += w[i];
}
template <class Acc, class W>
inline __attribute__((always_inline)) void mac_row(Acc* __restrict a, const W* __restrict w, int n, int32_t v) {
  for (int i = 0; i < n; ++i) a[i] += Acc(v) * w[i];
}

template <class W = int8_t, class Fn>
inline __attribute__((always_inline)) int64_t for_each_spike_tap(const ConvPlan& p, const int32_t* idx, int64_t count,
                                                                 const Slice& s, Fn&& row) {
  // Flat indices are non-negative int32 (so is H*W): decoded without divisions, which the chip's
  // narrow slices (runs of 3-20 channels per tap) made a large share of the time.
  const ChwIndex chw(p.hin, p.win);
  int64_t ops = 0;
  for (int64_t j = 0; j < count; ++j) {
    uint32_t ci, y, x;
    chw.decode(idx[j], ci, y, x);
    ops += for_each_tap<W>(p, int(ci), int(y), int(x), s, row);
  }
  return ops;
}
template <class Acc, class W = int8_t>
inline __attribute__((always_inline)) int64_t scatter_list(const ConvPlan& p, const int32_t* idx, int64_t count,
                                                           Acc* acc, const Slice& s) {
  return for_each_spike_tap<W>(p, idx, count, s, [acc](int64_t o, const W* w, int n) { add_row(acc + o, w, n); });
}

// The hot loop of the whole executor: compiled for AVX2 / baseline and picked at load time, so
// the default (portable) build still runs the wide int8 -> int32 adds; with AVX-512, the version
// below.
__attribute__((target_clones("avx2", "default"))) int64_t scatter_list32_portable(
    const ConvPlan& p, const int32_t* idx, int64_t count, int32_t* acc, const Slice& s) {
  return scatter_list(p, idx, count, acc, s);
}

#if defined(__x86_64__)
// AVX-512: every row in blocks of 16 channels, the last one masked. The chip's group slices give
// runs of 3-22 channels, whose scalar tails were a quarter of the scatter (perf annotate, 15.1M);
// a masked block adds them in one load-convert-add-store. Integer adds: the same sums.
SPIKECHIP_AVX512 inline __attribute__((always_inline)) void add_row_avx512(int32_t* a, const int8_t* w, int n) {
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    // maskz with all ones, not _mm512_cvtepi8_epi32: GCC 12's header passes an undefined vector
    // to that one and warns (-Wmaybe-uninitialized) under LTO; the instruction is the same.
    const __m512i v = _mm512_maskz_cvtepi8_epi32(__mmask16(0xffff), _mm_loadu_si128(reinterpret_cast<const __m128i*>(w + i)));
    _mm512_storeu_si512(a + i, _mm512_add_epi32(_mm512_loadu_si512(a + i), v));
  }
  if (i < n) {
    const __mmask16 m = __mmask16((1u << (n - i)) - 1);
    const __m512i v = _mm512_maskz_cvtepi8_epi32(m, _mm_maskz_loadu_epi8(m, w + i));
    _mm512_mask_storeu_epi32(a + i, m, _mm512_add_epi32(_mm512_maskz_loadu_epi32(m, a + i), v));
  }
}
// K spikes of one position, input channels c_0..c_{K-1}: at each tap their K weight rows (w, and
// w + d[k]) summed in registers, one load-add-store of the accumulator per 16 channels instead of K.
template <int K>
SPIKECHIP_AVX512 inline __attribute__((always_inline)) void add_rows_avx512(int32_t* a, const int8_t* w,
                                                                           const int64_t* d, int n) {
  int i = 0;
  auto load = [&](__mmask16 m, int k) SPIKECHIP_AVX512 {
    return _mm512_maskz_cvtepi8_epi32(m, _mm_maskz_loadu_epi8(m, w + (k ? d[k] : 0) + i));
  };
  for (; i + 16 <= n; i += 16) {
    __m512i v = load(__mmask16(0xffff), 0);
    for (int k = 1; k < K; ++k) v = _mm512_add_epi32(v, load(__mmask16(0xffff), k));
    _mm512_storeu_si512(a + i, _mm512_add_epi32(_mm512_loadu_si512(a + i), v));
  }
  if (i < n) {
    const __mmask16 m = __mmask16((1u << (n - i)) - 1);
    __m512i v = load(m, 0);
    for (int k = 1; k < K; ++k) v = _mm512_add_epi32(v, load(m, k));
    _mm512_mask_storeu_epi32(a + i, m, _mm512_add_epi32(_mm512_maskz_loadu_epi32(m, a + i), v));
  }
}
// Ungrouped convs: the spikes of one position that follow each other in the list (the golden
// executor buckets its lists by position, models/executor.cpp) go through the taps together, up to
// four at a time (add_rows_avx512); they share the taps' ranges and output channels. Integer adds:
// the same sums as one spike at a time. Grouped convs (a depthwise one's spikes at a position add
// into different channels) and lists in channel order (the chip's packets) go one by one.
SPIKECHIP_AVX512 int64_t scatter_list32_avx512(const ConvPlan& p, const int32_t* idx, int64_t count, int32_t* acc,
                                               const Slice& s) {
  if (p.groups != 1)
    return for_each_spike_tap(p, idx, count, s,
                              [acc](int64_t o, const int8_t* w, int n) SPIKECHIP_AVX512 { add_row_avx512(acc + o, w, n); });
  const ChwIndex chw(p.hin, p.win);
  const int64_t per_channel = int64_t(p.kh) * p.kw * p.cout_g;  // weights of one input channel
  int64_t ops = 0;
  for (int64_t j = 0; j < count;) {
    uint32_t ci, y, x;
    chw.decode(idx[j], ci, y, x);
    const uint32_t pos = y * chw.w + x;
    int64_t d[4] = {0, 0, 0, 0};  // the other spikes' weight offsets from spike j's
    int k = 1;
    for (; k < 4 && j + k < count; ++k) {
      uint32_t c;
      if (chw.split(idx[j + k], c) != pos) break;
      d[k] = (int64_t(c) - int64_t(ci)) * per_channel;
    }
    auto taps = [&](auto kk) SPIKECHIP_AVX512 {
      return for_each_tap(p, int(ci), int(y), int(x), s, [acc, &d](int64_t o, const int8_t* w, int n) SPIKECHIP_AVX512 {
        add_rows_avx512<decltype(kk)::value>(acc + o, w, d, n);
      });
    };
    const int64_t one = k == 4 ? taps(std::integral_constant<int, 4>{})
                        : k == 3 ? taps(std::integral_constant<int, 3>{})
                        : k == 2 ? taps(std::integral_constant<int, 2>{})
                                 : taps(std::integral_constant<int, 1>{});
    ops += one * k;
    j += k;
  }
  return ops;
}
#endif

int64_t scatter_list32(const ConvPlan& p, const int32_t* idx, int64_t count, int32_t* acc, const Slice& s) {
  if (p.is_wide_weights()) return scatter_list<int32_t, int16_t>(p, idx, count, acc, s);
#if defined(__x86_64__)
  if (cpu_has_avx512()) return scatter_list32_avx512(p, idx, count, acc, s);
#endif
  return scatter_list32_portable(p, idx, count, acc, s);
}


template <class Acc>
int64_t finalize(const ConvPlan& p, const Acc* acc, const Slice& s, int32_t* out, int acc_channels) {
  int64_t sat = 0;
  const int tw = s.x1 - s.x0, sc = acc_channels > 0 ? acc_channels : s.c1 - s.c0;
  for (int o = s.c0; o < s.c1; ++o) {
    const int sh = p.shift[o];
    const int64_t b = p.bias[o];
    for (int y = s.y0; y < s.y1; ++y) {
      int32_t* orow = out + (int64_t(o) * p.hout + y) * p.wout;
      const Acc* arow = acc + int64_t(y - s.y0) * tw * sc + (o - s.c0);
      for (int x = s.x0; x < s.x1; ++x) orow[x] = saturate((int64_t(arow[int64_t(x - s.x0) * sc]) << sh) + b, p.membrane, sat);
    }
  }
  return sat;
}


// One spike's or pixel's taps with the plan's weight type (int8, or int16 for wide weights).
template <class Acc>
int64_t scatter_one(const ConvPlan& p, int c_in, int y, int x, Acc* acc, const Slice& s) {
  auto row = [acc](int64_t o, const auto* w, int n) { add_row(acc + o, w, n); };
  return p.is_wide_weights() ? for_each_tap<int16_t>(p, c_in, y, x, s, row) : for_each_tap<int8_t>(p, c_in, y, x, s, row);
}
template <class Acc>
int64_t mac_one(const ConvPlan& p, int c_in, int y, int x, int32_t v, Acc* acc, const Slice& s) {
  auto row = [acc, v](int64_t o, const auto* w, int n) { mac_row(acc + o, w, n, v); };
  return p.is_wide_weights() ? for_each_tap<int16_t>(p, c_in, y, x, s, row) : for_each_tap<int8_t>(p, c_in, y, x, s, row);
}

}  // namespace

int64_t scatter_spike(const ConvPlan& p, int c_in, int y, int x, int32_t* acc, const Slice& s) {
  return scatter_one(p, c_in, y, x, acc, s);
}
int64_t scatter_spike(const ConvPlan& p, int c_in, int y, int x, int64_t* acc, const Slice& s) {
  return scatter_one(p, c_in, y, x, acc, s);
}
int64_t scatter_spikes(const ConvPlan& p, const int32_t* idx, int64_t n, int32_t* acc, const Slice& s) {
  return scatter_list32(p, idx, n, acc, s);
}
int64_t scatter_spikes(const ConvPlan& p, const int32_t* idx, int64_t n, int64_t* acc, const Slice& s) {
  return p.is_wide_weights() ? scatter_list<int64_t, int16_t>(p, idx, n, acc, s) : scatter_list(p, idx, n, acc, s);
}

int64_t count_spike_sops(const ConvPlan& p, const int32_t* idx, int64_t n, const Slice& s) {
  return SpikeSopCounter(p, s).count(idx, n);
}

SpikeSopCounter::SpikeSopCounter(const ConvPlan& p, const Slice& s) : p_(&p), s_(s), chw_(p.hin, p.win) {
  if (p.groups != 1) return;
  // One channel run for every spike: the taps in range along y times those along x (closed form,
  // tabulated per input row and column).
  runs_ = std::max(0, std::min(s.c1, p.cout) - std::max(s.c0, 0));
  auto along = [](const TapRange& r) { return r.k0 <= r.k1 ? (r.k1 - r.k0) / r.step + 1 : 0; };
  ty_.resize(size_t(p.hin)), tx_.resize(size_t(p.win));
  for (int y = 0; y < p.hin; ++y) ty_[size_t(y)] = along(taps_for(y, p.py, p.sy, p.kh, s.y0, s.y1));
  for (int x = 0; x < p.win; ++x) tx_[size_t(x)] = along(taps_for(x, p.px, p.sx, p.kw, s.x0, s.x1));
  // Every spike with the same taps (a 1x1 conv or a Linear over the whole map, say): no decoding.
  const bool same_y = std::all_of(ty_.begin(), ty_.end(), [&](int32_t v) { return v == ty_[0]; });
  const bool same_x = std::all_of(tx_.begin(), tx_.end(), [&](int32_t v) { return v == tx_[0]; });
  if (same_y && same_x && !ty_.empty() && !tx_.empty()) taps_each_ = int64_t(ty_[0]) * tx_[0];
}

int64_t SpikeSopCounter::count(const int32_t* idx, int64_t n) const {
  const ConvPlan& p = *p_;
  if (p.groups != 1) {  // a spike's taps reach its group's channels only: counted tap by tap
    auto none = [](int64_t, const auto*, int) {};  // taps only, on the plan's own weight array
    return p.is_wide_weights() ? for_each_spike_tap<int16_t>(p, idx, n, s_, none)
                               : for_each_spike_tap<int8_t>(p, idx, n, s_, none);
  }
  return runs_ == 0 ? 0 : taps(idx, n) * runs_;
}

int64_t SpikeSopCounter::taps(const int32_t* idx, int64_t n) const {
  if (taps_each_ >= 0) return n * taps_each_;
  const int32_t* ty = ty_.data();
  const int32_t* tx = tx_.data();
  int64_t taps = 0;
  for (int64_t j = 0; j < n; ++j) {
    uint32_t ci, y, x;
    chw_.decode(idx[j], ci, y, x);
    taps += int64_t(ty[y]) * tx[x];
  }
  return taps;
}

int64_t mac_pixel(const ConvPlan& p, int c_in, int y, int x, int32_t v, int32_t* acc, const Slice& s) {
  return mac_one(p, c_in, y, x, v, acc, s);
}
int64_t mac_pixel(const ConvPlan& p, int c_in, int y, int x, int32_t v, int64_t* acc, const Slice& s) {
  return mac_one(p, c_in, y, x, v, acc, s);
}

int64_t conv_finalize(const ConvPlan& p, const int32_t* acc, const Slice& s, int32_t* out, int acc_channels) {
  return finalize(p, acc, s, out, acc_channels);
}
int64_t conv_finalize(const ConvPlan& p, const int64_t* acc, const Slice& s, int32_t* out, int acc_channels) {
  return finalize(p, acc, s, out, acc_channels);
}

#if defined(__x86_64__)
namespace {
// lif_update 16 neurons at a time: (V + X) >> tau in two 8-lane int64 halves, clamped to the
// membrane range (the lanes out of range counted), compared with the threshold; the spiking
// lanes' indices compress-stored in order (the scalar loop's push_back mispredicted at every
// spike, a fifth of the neurons). Same values, spikes, order and saturation count.
SPIKECHIP_AVX512 int64_t lif_update_avx512(const int32_t* x, int32_t* v, const int32_t* threshold, int tau_shift,
                                           int c0, int c1, int64_t hw, uint8_t* spikes, std::vector<int32_t>& active,
                                           const Membrane& m) {
  int64_t sat = 0;
  const __m512i lo = _mm512_set1_epi64(m.lo), hi = _mm512_set1_epi64(m.hi);
  const __m128i tau = _mm_cvtsi32_si128(tau_shift);
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  constexpr int kBuf = 1024;
  int32_t buf[kBuf + 16];
  int nb = 0;
  // (maskz forms with all lanes throughout: GCC 12's headers pass an undefined vector to the plain
  // ones and warn under LTO, as add_row_avx512 notes; the instructions are the same.)
  constexpr __mmask8 all = 0xff;
  auto half = [&](__m256i a, __m256i b, __mmask8 live) SPIKECHIP_AVX512 {  // (V + X) >> tau, clamped
    const __m512i sum = _mm512_add_epi64(_mm512_maskz_cvtepi32_epi64(all, a), _mm512_maskz_cvtepi32_epi64(all, b));
    const __m512i h = _mm512_maskz_sra_epi64(all, sum, tau);
    sat += __builtin_popcount(unsigned(_mm512_mask_cmpgt_epi64_mask(live, h, hi) | _mm512_mask_cmplt_epi64_mask(live, h, lo)));
    return _mm512_maskz_cvtepi64_epi32(all, _mm512_maskz_min_epi64(all, _mm512_maskz_max_epi64(all, h, lo), hi));
  };
  for (int c = c0; c < c1; ++c) {
    const __m256i th = _mm256_set1_epi32(threshold[c]);
    const int64_t base = int64_t(c) * hw;
    for (int64_t i = base; i < base + hw; i += 16) {
      const int64_t left = base + hw - i;
      const __mmask16 live = left >= 16 ? __mmask16(0xffff) : __mmask16((1u << left) - 1);
      // Two halves of 8 neurons, each loaded, updated and stored on its own (no 512-bit
      // insert or extract); their spike masks joined for the spike bytes and the indices.
      __mmask16 s = 0;
      for (int k = 0; k < 2; ++k) {
        const __mmask8 l = __mmask8(live >> (8 * k));
        int32_t* const vk = v + i + 8 * k;
        const __m256i h = half(_mm256_maskz_loadu_epi32(l, vk), _mm256_maskz_loadu_epi32(l, x + i + 8 * k), l);
        const __mmask8 sk = _mm256_mask_cmpge_epi32_mask(l, h, th);
        _mm256_mask_storeu_epi32(vk, l, _mm256_maskz_mov_epi32(__mmask8(~sk), h));
        s |= __mmask16(unsigned(sk) << (8 * k));
      }
      _mm_mask_storeu_epi8(spikes + i, live, _mm_maskz_set1_epi8(s, 1));
      if (s) {
        _mm512_mask_compressstoreu_epi32(buf + nb, s, _mm512_add_epi32(_mm512_set1_epi32(int32_t(i)), lane));
        nb += __builtin_popcount(unsigned(s));
        if (nb >= kBuf) active.insert(active.end(), buf, buf + nb), nb = 0;
      }
    }
  }
  active.insert(active.end(), buf, buf + nb);
  return sat;
}
}  // namespace
#endif

int64_t lif_update(const int32_t* x, int32_t* v, const int32_t* threshold, int tau_shift, int c0, int c1,
                   int64_t hw, uint8_t* spikes, std::vector<int32_t>& active, const Membrane& m) {
#if defined(__x86_64__)
  if (cpu_has_avx512()) return lif_update_avx512(x, v, threshold, tau_shift, c0, c1, hw, spikes, active, m);
#endif
  return detail::lif_update_portable(x, v, threshold, tau_shift, c0, c1, hw, spikes, active, m);
}

namespace detail {
int64_t lif_update_portable(const int32_t* x, int32_t* v, const int32_t* threshold, int tau_shift, int c0, int c1,
                            int64_t hw, uint8_t* spikes, std::vector<int32_t>& active, const Membrane& m) {
  int64_t sat = 0;
  for (int c = c0; c < c1; ++c) {
    const int32_t th = threshold[c];
    const int64_t base = int64_t(c) * hw;
    for (int64_t i = base; i < base + hw; ++i) {
      // >> on a negative int64 is an arithmetic shift (floor division) since C++20.
      const int32_t h = saturate((int64_t(v[i]) + x[i]) >> tau_shift, m, sat);
      const bool s = h >= th;
      spikes[i] = s;
      v[i] = s ? 0 : h;
      if (s) active.push_back(int32_t(i));
    }
  }
  return sat;
}
}  // namespace detail

int64_t sdsa_accumulate_kv(const uint8_t* k, const uint8_t* v, int g, int d, int64_t n_tokens, int64_t n0,
                           int64_t n1, int32_t* A) {
  int64_t ops = 0;
  std::vector<int> ka, vb;
  ka.reserve(d), vb.reserve(d);
  for (int64_t n = n0; n < n1; ++n) {
    ka.clear(), vb.clear();
    for (int a = 0; a < d; ++a) {
      const int64_t i = int64_t(g * d + a) * n_tokens + n;
      if (k[i]) ka.push_back(a);
      if (v[i]) vb.push_back(a);
    }
    for (int a : ka)
      for (int b : vb) ++A[a * d + b];
    ops += int64_t(ka.size()) * int64_t(vb.size());
  }
  return ops;
}

int64_t sdsa_row_sums(const uint8_t* q, const int32_t* A, int g, int d, int64_t n_tokens, int64_t n0, int64_t n1,
                      int shift, int32_t* out, int64_t& saturations, const Membrane& m) {
  int64_t ops = 0;
  std::vector<int64_t> row(d);
  for (int64_t n = n0; n < n1; ++n) {
    std::fill(row.begin(), row.end(), 0);
    for (int a = 0; a < d; ++a) {
      if (!q[int64_t(g * d + a) * n_tokens + n]) continue;
      const int32_t* Ar = A + int64_t(a) * d;
      for (int b = 0; b < d; ++b) row[b] += Ar[b];
      ops += d;
    }
    for (int b = 0; b < d; ++b) out[int64_t(g * d + b) * n_tokens + n] = saturate(row[b] << shift, m, saturations);
  }
  return ops;
}

void mean_partial(const int32_t* in, int64_t hw, int c0, int c1, int64_t p0, int64_t p1, int64_t* part) {
  for (int c = c0; c < c1; ++c) {
    int64_t s = 0;
    for (int64_t i = p0; i < p1; ++i) s += in[int64_t(c) * hw + i];
    part[c - c0] += s;
  }
}

int64_t add_membranes(const std::vector<const int32_t*>& ins, int64_t i0, int64_t i1, int32_t* out,
                      const Membrane& m) {
  int64_t sat = 0;
  for (int64_t i = i0; i < i1; ++i) {
    int64_t s = 0;
    for (const int32_t* p : ins) s += p[i];
    out[i] = saturate(s, m, sat);
  }
  return sat;
}

}  // namespace spikechip::model
