#pragma once
// Element counts and byte sizes of array shapes, shared by the .npy and safetensors readers.
#include <algorithm>
#include <cstdint>
#include <vector>

namespace spikechip {

inline bool has_zero_dimension(const std::vector<int64_t>& shape) {
  return std::find(shape.begin(), shape.end(), int64_t(0)) != shape.end();
}

// 0 when a dimension is 0, checked before multiplying: the readers accept an empty array whose
// other dimensions' product does not fit in 63 bits (as NumPy does); otherwise the product, which
// the readers have checked against the file's size.
inline int64_t shape_numel(const std::vector<int64_t>& shape) {
  if (has_zero_dimension(shape)) return 0;
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

// The bytes of an array of `shape` (non-negative dimensions) with `item`-byte elements, the
// product checked: false when the non-zero dimensions times `item` do not fit in 64 bits (NumPy
// refuses such a shape even beside a zero dimension); else *bytes, 0 when a dimension is 0.
inline bool shape_bytes(const std::vector<int64_t>& shape, uint64_t item, uint64_t* bytes) {
  uint64_t n = item;
  for (int64_t d : shape)
    if (d != 0 && __builtin_mul_overflow(n, uint64_t(d), &n)) return false;
  *bytes = has_zero_dimension(shape) ? 0 : n;
  return true;
}

}  // namespace spikechip
