#pragma once
// The arithmetic of docs/semantics.md, written once. The golden executor calls these for whole
// layers; the chip model calls them for the slice of a layer mapped to one core (an output-channel
// range and a spatial tile), so both produce the same bits by construction.
//
// Accumulator layout: a Slice's accumulator is [oy - y0][ox - x0][o - c0] (channels innermost), so
// the fan-out of one input spike at one kernel tap is a contiguous run of output channels and the
// innermost loop is a vectorisable int8 -> int32 add.
//
// Exactness: scatter/mac accumulate the *unshifted* weight sum (semantics.md: (sum w) << s ==
// sum (w << s)); conv_finalize applies << shift[o] and + bias[o] in 64 bits and saturates to int32.
// The unshifted sum is kept in int32 when fan_in * max|w| * max|input| < 2^31 (ConvPlan::wide
// false; max|w| = 128 for int8 weights), otherwise in int64 — the accumulator type is chosen by the
// caller from the plan. Weights are int8 when they fit it (every model of 8 bits or fewer: the fast
// path), int16 otherwise (12 / 16-bit models); the kernels are the same templates for both.
#include <cstdint>
#include <vector>

#include "models/fast_div.hpp"
#include "models/graph.hpp"

namespace spikechip::model {

// Output-channel range [c0, c1) and spatial tile [y0, y1) x [x0, x1) of a layer's output.
struct Slice {
  int c0 = 0, c1 = 0, y0 = 0, y1 = 1, x0 = 0, x1 = 1;
  int channels() const { return c1 - c0; }
  int64_t size() const { return int64_t(c1 - c0) * (y1 - y0) * (x1 - x0); }
  Slice at_channel_zero() const { return {0, c1 - c0, y0, y1, x0, x1}; }  // (slice_plan's channels)
};

// Counters of one kernel call (added up by the caller; semantics.md "Counted quantities").
struct OpCounts {
  int64_t sops = 0, macs = 0, sdsa_ops = 0, saturations = 0;
  OpCounts& operator+=(const OpCounts& o) {
    sops += o.sops, macs += o.macs, sdsa_ops += o.sdsa_ops, saturations += o.saturations;
    return *this;
  }
};

// The saturation range of a membrane width m: [-2^(m-1), 2^(m-1) - 1] (docs/semantics.md);
// the default is int32.
struct Membrane {
  int64_t lo = INT32_MIN, hi = INT32_MAX;
  static Membrane of_bits(int bits) { return {-(int64_t(1) << (bits - 1)), (int64_t(1) << (bits - 1)) - 1}; }
};

inline int32_t saturate(int64_t v, const Membrane& m, int64_t& saturations) {
  if (v > m.hi) return ++saturations, int32_t(m.hi);
  if (v < m.lo) return ++saturations, int32_t(m.lo);
  return int32_t(v);
}

// A Conv2d or Linear node prepared for event-driven evaluation. A Linear is a 1x1 conv on its
// input flattened to [C*H*W, 1, 1].
struct ConvPlan {
  int cin = 0, cout = 0, hin = 1, win = 1, hout = 1, wout = 1;
  int kh = 1, kw = 1, sy = 1, sx = 1, py = 0, px = 0, groups = 1;
  int cin_g = 0, cout_g = 0;  // channels per group
  std::vector<int8_t> wt;     // [cin][kh][kw][cout_g]: fan-out of one input channel at one tap
  std::vector<int16_t> wt16;  // the same, for weights beyond int8 (12 / 16-bit models); wt is empty then
  std::vector<int32_t> bias;  // [cout]
  std::vector<uint8_t> shift; // [cout]
  bool wide = false;          // unshifted sum may exceed int32: use the int64 accumulator
  Membrane membrane;          // the output saturates to the model's membrane width
  int64_t fan_in() const { return int64_t(cin_g) * kh * kw; }
  bool is_wide_weights() const { return !wt16.empty(); }
  Slice full() const { return {0, cout, 0, hout, 0, wout}; }
};

// in_max: largest |input value| (1 for spikes, 255 + |zero_point| for images).
ConvPlan make_conv_plan(const Graph& g, const Node& n, int64_t in_max);
// Same, from explicit geometry (tests, calibration).
ConvPlan make_conv_plan(const Node& n, const Shape& in, int64_t in_max);
// The plan of output channels [s.c0, s.c1) alone (cout = cout_g = s.channels(), the rows of those
// channels only): the same sums for the slice s.at_channel_zero() as p's for s. In p's rows a
// slice of few channels uses few bytes of each cache line a kernel loads (16 of 64 for a
// 16-channel slice of a 64+-channel layer: the chip's gather kernel waited on them). An empty plan
// (cout 0) when p is grouped or has int16 weights, or s has all its channels.
ConvPlan slice_plan(const ConvPlan& p, const Slice& s);

// Event-driven: one input spike at (c_in, y, x) adds its weights to every output neuron of the
// slice it reaches. Returns the SOPs (in-range (neuron, weight) pairs).
int64_t scatter_spike(const ConvPlan& p, int c_in, int y, int x, int32_t* acc, const Slice& s);
int64_t scatter_spike(const ConvPlan& p, int c_in, int y, int x, int64_t* acc, const Slice& s);
// Scatter a list of spikes given as flat CHW indices of the input tensor.
int64_t scatter_spikes(const ConvPlan& p, const int32_t* idx, int64_t n, int32_t* acc, const Slice& s);
int64_t scatter_spikes(const ConvPlan& p, const int32_t* idx, int64_t n, int64_t* acc, const Slice& s);
// The SOPs scatter_spikes would return for these spikes, without adding anything: the chip times
// a packet's synapse work on arrival and adds a layer slice's spikes in one pass when it finalises.
int64_t count_spike_sops(const ConvPlan& p, const int32_t* idx, int64_t n, const Slice& s);

// count_spike_sops for one (plan, slice), made once (count_spike_sops makes one per call): for
// an ungrouped conv the taps in range per input row and per input column are tabulated, so a
// spike costs a decode and two loads (the chip counts every packet it receives for every
// destination slot); a grouped conv's spikes are counted tap by tap. The plan must outlive it.
class SpikeSopCounter {
 public:
  SpikeSopCounter() = default;
  SpikeSopCounter(const ConvPlan& p, const Slice& s);
  int64_t count(const int32_t* idx, int64_t n) const;
  // Ungrouped plans: count() = taps() * runs(), the taps depending on the slice's box only (so
  // slices of one box share them: the chip's spike shares, arch/chip_engine.hpp).
  bool per_tap() const { return p_ == nullptr || p_->groups != 1; }
  int64_t taps(const int32_t* idx, int64_t n) const;
  int64_t runs() const { return runs_; }

 private:
  const ConvPlan* p_ = nullptr;
  Slice s_;
  ChwIndex chw_{1, 1};
  int64_t runs_ = 0;               // output channels per tap (ungrouped)
  std::vector<int32_t> ty_, tx_;   // taps in range per input row / column
  int64_t taps_each_ = -1;         // the taps of every spike when they are all the same, else -1
};

// The same sums and SOPs as scatter_spikes (int32 accumulator, int8 weights), computed output
// position by output position (models/gather_kernel.cpp): the spikes are bucketed by input
// position, each output position's taps are summed in registers and added to the accumulator
// once. For slices of few channels (the chip's group slices), where scatter_spikes's adds into one
// position form a chain through memory. gather_suits says when it applies and pays; the golden
// executor keeps scatter_spikes, so the chip's bit-exact check compares the two.
bool gather_suits(const ConvPlan& p, int64_t n_spikes, const Slice& s);
int64_t gather_spikes(const ConvPlan& p, const int32_t* idx, int64_t n, int32_t* acc, const Slice& s);
namespace detail {
// gather_spikes without AVX-512 (what a machine without it runs); for tests.
int64_t gather_spikes_portable(const ConvPlan& p, const int32_t* idx, int64_t n, int32_t* acc, const Slice& s);
}  // namespace detail

// First layer: one input pixel value v at (c_in, y, x) multiply-accumulates into the slice.
// Returns the MACs (in-range taps; counted even when v == 0, as the hardware would do them).
int64_t mac_pixel(const ConvPlan& p, int c_in, int y, int x, int32_t v, int32_t* acc, const Slice& s);
int64_t mac_pixel(const ConvPlan& p, int c_in, int y, int x, int32_t v, int64_t* acc, const Slice& s);

// out[o,oy,ox] (CHW tensor of the full layer, written only inside the slice) =
// sat((acc << shift[o]) + bias[o]) to p.membrane. Returns the number of saturated values.
// acc is the slice's accumulator (position-major, its channels innermost), or with acc_channels
// one holding acc_channels channels per position, the slice's from acc[0] on (the chip's spike
// shares: a wider slice's sums).
int64_t conv_finalize(const ConvPlan& p, const int32_t* acc, const Slice& s, int32_t* out, int acc_channels = 0);
int64_t conv_finalize(const ConvPlan& p, const int64_t* acc, const Slice& s, int32_t* out, int acc_channels = 0);

inline int32_t sat32(int64_t v, int64_t& saturations) {
  if (v > INT32_MAX) return ++saturations, INT32_MAX;
  if (v < INT32_MIN) return ++saturations, INT32_MIN;
  return int32_t(v);
}

// LIF over channels [c0, c1) of a CHW tensor with hw = H*W positions per channel:
// H = sat32((V + X) >> tau_shift); S = H >= threshold[c]; V = S ? 0 : H.
// Writes spikes (u8, CHW) and appends the flat indices of spiking neurons to `active` in
// increasing order. Returns the saturations.
// H saturates to `m` (the model's membrane width) instead of int32 when given.
// With AVX-512, 16 neurons at a time; detail::lif_update_portable is the plain loop (the tests
// compare the two).
int64_t lif_update(const int32_t* x, int32_t* v, const int32_t* threshold, int tau_shift, int c0,
                   int c1, int64_t hw, uint8_t* spikes, std::vector<int32_t>& active, const Membrane& m = {});
namespace detail {
int64_t lif_update_portable(const int32_t* x, int32_t* v, const int32_t* threshold, int tau_shift, int c0, int c1,
                            int64_t hw, uint8_t* spikes, std::vector<int32_t>& active, const Membrane& m);
}  // namespace detail

// SDSA, one head g (channels g*d .. g*d+d-1) of CHW spike maps with n_tokens = H*W.
// A[a*d + b] += #tokens in [n0, n1) where k[g*d+a] and v[g*d+b] both spike. Returns the ops
// (sum_n |k_n| * |v_n|).
int64_t sdsa_accumulate_kv(const uint8_t* k, const uint8_t* v, int g, int d, int64_t n_tokens,
                           int64_t n0, int64_t n1, int32_t* A);
// out[g*d+b, n] = sat32((sum_{a: q[g*d+a,n]} A[a,b]) << shift) for tokens [n0, n1) (CHW out).
// Returns the ops (sum_n |q_n| * d); saturations are added to `saturations`.
int64_t sdsa_row_sums(const uint8_t* q, const int32_t* A, int g, int d, int64_t n_tokens, int64_t n0,
                      int64_t n1, int shift, int32_t* out, int64_t& saturations, const Membrane& m = {});

// Partial sums of Mean over positions [p0, p1) of channels [c0, c1): part[c - c0] += sum.
void mean_partial(const int32_t* in, int64_t hw, int c0, int c1, int64_t p0, int64_t p1, int64_t* part);

// out = sat32(sum of inputs), elementwise over [i0, i1). Returns the saturations.
int64_t add_membranes(const std::vector<const int32_t*>& ins, int64_t i0, int64_t i1, int32_t* out,
                      const Membrane& m = {});

}  // namespace spikechip::model
