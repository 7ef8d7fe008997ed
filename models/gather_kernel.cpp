// Spike scatter in gather form (models/kernels.hpp gather_spikes). The chip's group slices hold
// runs of 3-22 output channels, so scatter_spikes adds a short row per (spike, tap), and successive
// spikes add into the same outputs: a chain of load-add-store through memory, 14 TSC cycles per
// tap at 15.1M against 1.7 per 16 channels on the golden's long rows (docs/performance.md,
// session 17). Here the spikes are first bucketed by input position (a counting sort); then each
// output position sums its taps' weight rows in registers and adds them to the accumulator once.
// The same integer sums in another order, so the same bits.
#include <algorithm>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "models/cpu_avx512.hpp"
#include "models/fast_div.hpp"
#include "models/kernels.hpp"

namespace spikechip::model {

namespace {

constexpr int kMaxChannels = 64;  // four 16-lane blocks of int32

// A call's spikes bucketed by input position, over the input region that reaches the slice.
struct Buckets {
  int ry0 = 0, ry1 = 0, rx0 = 0, rx1 = 0;  // the region: input rows [ry0, ry1), columns [rx0, rx1)
  std::vector<int32_t> start;  // position q's spikes (raster order in the region) are off[start[q], start[q + 1])
  // Per spike: ci * kh * kw * cout_g + c0 + xx * cout_g, its channel's weight rows (c0 onwards)
  // plus its column in the region (xx) times the tap stride, so the taps of one kernel row that
  // reach a run of consecutive columns are one loop over that run's spikes (gather_loop).
  std::vector<int32_t> off;
  std::vector<int32_t> pos, ch, cursor;  // scratch: per spike its position (-1 outside) and offset
};

// The inputs a slice's outputs [o0, o1) read along one dimension: o * stride - pad + [0, k),
// clipped to [0, size).
void input_span(int o0, int o1, int stride, int pad, int k, int size, int& lo, int& hi) {
  lo = std::max(0, o0 * stride - pad);
  hi = std::max(lo, std::min(size, (o1 - 1) * stride - pad + k));
}

void bucket(const ConvPlan& p, const int32_t* idx, int64_t count, const Slice& s, Buckets& b) {
  input_span(s.y0, s.y1, p.sy, p.py, p.kh, p.hin, b.ry0, b.ry1);
  input_span(s.x0, s.x1, p.sx, p.px, p.kw, p.win, b.rx0, b.rx1);
  const uint32_t rh = uint32_t(b.ry1 - b.ry0), rw = uint32_t(b.rx1 - b.rx0), ry0 = uint32_t(b.ry0), rx0 = uint32_t(b.rx0);
  b.start.assign(size_t(rh) * rw + 1, 0);
  b.pos.resize(size_t(count)), b.ch.resize(size_t(count));
  const ChwIndex chw(p.hin, p.win);
  const int32_t row = p.kh * p.kw * p.cout_g, c0 = s.c0, stride = p.cout_g;  // row: one input channel's weights
  // (Local pointers: through the vectors, every store made the compiler reload them.)
  int32_t* const start = b.start.data();
  int32_t* const pos = b.pos.data();
  int32_t* const ch = b.ch.data();
  int64_t inside = 0;
  for (int64_t j = 0; j < count; ++j) {
    uint32_t ci, y, x;
    chw.decode(idx[j], ci, y, x);
    const uint32_t yy = y - ry0, xx = x - rx0;  // wrap below the region: outside
    const bool in = yy < rh && xx < rw;
    const int32_t q = in ? int32_t(yy * rw + xx) : -1;
    pos[j] = q, ch[j] = in ? int32_t(ci) * row + c0 + int32_t(xx) * stride : 0;
    if (in) ++start[q + 1], ++inside;
  }
  const size_t np = b.start.size();
  for (size_t q = 1; q < np; ++q) start[q] += start[q - 1];
  b.cursor.assign(b.start.begin(), b.start.end() - 1);
  b.off.resize(size_t(inside));
  int32_t* const cursor = b.cursor.data();
  int32_t* const off = b.off.data();
  for (int64_t j = 0; j < count; ++j)
    if (const int32_t q = pos[j]; q >= 0) off[cursor[q]++] = ch[j];
}

// Output position by output position: the taps (ky, kx) whose input lies in the region, and each
// tap's bucketed spikes. `add(w)` adds one weight row into the position's register sum, `flush(a)`
// adds that sum into the accumulator's n channels at a and clears it. Returns the SOPs.
template <class Add, class Flush>
inline __attribute__((always_inline)) int64_t gather_loop(const ConvPlan& p, const Buckets& b, int32_t* acc,
                                                          const Slice& s, Add&& add, Flush&& flush) {
  const int n = s.c1 - s.c0, rw = b.rx1 - b.rx0;
  const int8_t* wt = p.wt.data();
  const int32_t* off = b.off.data();
  int64_t pairs = 0;
  int32_t* a = acc;
  for (int oy = s.y0; oy < s.y1; ++oy) {
    const int iy0 = oy * p.sy - p.py;
    const int ky0 = std::max(0, b.ry0 - iy0), ky1 = std::min(p.kh, b.ry1 - iy0);
    for (int ox = s.x0; ox < s.x1; ++ox, a += n) {
      const int ix0 = ox * p.sx - p.px;
      const int kx0 = std::max(0, b.rx0 - ix0), kx1 = std::min(p.kw, b.rx1 - ix0);
      if (kx0 >= kx1) {
        flush(a);
        continue;
      }
      for (int ky = ky0; ky < ky1; ++ky) {
        // The taps [kx0, kx1) of kernel row ky read consecutive input columns, so their spikes are
        // one run of the buckets, and a spike at column xx takes tap kx = xx - (ix0 - rx0), whose
        // offset its own holds but for `base`: one loop per kernel row, not one per tap (a loop
        // exit mispredicted per tap was most of the kernel's time: 15.1M, docs/performance.md
        // "Session 25").
        const int32_t* st = b.start.data() + (int64_t(iy0 + ky - b.ry0) * rw + (ix0 + kx0 - b.rx0));
        const int32_t j0 = st[0], j1 = st[kx1 - kx0];
        const int64_t base = int64_t(ky * p.kw - (ix0 - b.rx0)) * p.cout_g;
        pairs += j1 - j0;
        for (int32_t j = j0; j < j1; ++j) add(wt + (base + off[j]));
      }
      flush(a);
    }
  }
  return pairs * n;
}

int64_t gather_portable(const ConvPlan& p, const Buckets& b, int32_t* acc, const Slice& s) {
  const int n = s.c1 - s.c0;
  int32_t v[kMaxChannels] = {};
  return gather_loop(
      p, b, acc, s, [&](const int8_t* w) { for (int i = 0; i < n; ++i) v[i] += w[i]; },
      [&](int32_t* a) {
        for (int i = 0; i < n; ++i) a[i] += v[i], v[i] = 0;
      });
}

#if defined(__x86_64__)
// NB blocks of 16 channels in registers, the last one masked to the slice's n channels (masked-off
// bytes are neither read nor written, so a row at the end of the weights is safe).
template <int NB>
SPIKECHIP_AVX512 int64_t gather_avx512(const ConvPlan& p, const Buckets& b, int32_t* acc, const Slice& s) {
  const int n = s.c1 - s.c0;
  const __mmask16 last = __mmask16(0xffffu >> (16 * NB - n));
  __m512i v[NB];
  for (int k = 0; k < NB; ++k) v[k] = _mm512_setzero_si512();
  return gather_loop(
      p, b, acc, s,
      [&](const int8_t* w) SPIKECHIP_AVX512 {
        for (int k = 0; k < NB - 1; ++k)
          v[k] = _mm512_add_epi32(v[k], _mm512_maskz_cvtepi8_epi32(__mmask16(0xffff),
                                                                   _mm_loadu_si128(reinterpret_cast<const __m128i*>(w + 16 * k))));
        v[NB - 1] = _mm512_add_epi32(v[NB - 1], _mm512_maskz_cvtepi8_epi32(last, _mm_maskz_loadu_epi8(last, w + 16 * (NB - 1))));
      },
      [&](int32_t* a) SPIKECHIP_AVX512 {
        for (int k = 0; k < NB; ++k) {
          const __mmask16 m = k == NB - 1 ? last : __mmask16(0xffff);
          _mm512_mask_storeu_epi32(a + 16 * k, m, _mm512_add_epi32(_mm512_maskz_loadu_epi32(m, a + 16 * k), v[k]));
          v[k] = _mm512_setzero_si512();
        }
      });
}
#endif

// Plans and slices beyond the register blocks take the scatter (same sums).
bool gather_fits(const ConvPlan& p, const Slice& s) {
  return p.groups == 1 && !p.is_wide_weights() && s.channels() >= 1 && s.channels() <= kMaxChannels;
}

Buckets& scratch() {
  thread_local Buckets b;  // chips of a batch may run on several threads
  return b;
}

}  // namespace

bool gather_suits(const ConvPlan& p, int64_t n_spikes, const Slice& s) {
  // One group of channels (the weight row of a spike is the slice's run), int8 weights, at most
  // four register blocks, and enough spikes that visiting every output position's taps pays: a
  // scattered (spike, tap) costs about as much as eight empty visits (measured, 15.1M).
  return gather_fits(p, s) && n_spikes * 8 >= int64_t(s.y1 - s.y0) * (s.x1 - s.x0);
}

namespace {
// gather_spikes, with the AVX-512 kernels when `avx512` (the CPU has them) or the portable loop.
int64_t gather(const ConvPlan& p, const int32_t* idx, int64_t n, int32_t* acc, const Slice& s, bool avx512) {
  if (!gather_fits(p, s)) return scatter_spikes(p, idx, n, acc, s);
  Buckets& b = scratch();
  bucket(p, idx, n, s, b);
#if defined(__x86_64__)
  if (avx512) switch ((s.channels() + 15) / 16) {
      case 1: return gather_avx512<1>(p, b, acc, s);
      case 2: return gather_avx512<2>(p, b, acc, s);
      case 3: return gather_avx512<3>(p, b, acc, s);
      case 4: return gather_avx512<4>(p, b, acc, s);
      default: break;
    }
#else
  (void)avx512;
#endif
  return gather_portable(p, b, acc, s);
}
}  // namespace

int64_t gather_spikes(const ConvPlan& p, const int32_t* idx, int64_t n, int32_t* acc, const Slice& s) {
#if defined(__x86_64__)
  const bool avx512 = cpu_has_avx512();
#else
  constexpr bool avx512 = false;
#endif
  return gather(p, idx, n, acc, s, avx512);
}

namespace detail {
int64_t gather_spikes_portable(const ConvPlan& p, const int32_t* idx, int64_t n, int32_t* acc, const Slice& s) {
  return gather(p, idx, n, acc, s, false);
}
}  // namespace detail

}  // namespace spikechip::model
