#pragma once
// The element count of an array shape, shared by the .npy and safetensors readers' arrays.
#include <algorithm>
#include <cstdint>
#include <vector>

namespace spikechip {

// 0 when a dimension is 0, checked before multiplying: the readers accept an empty array whose
// other dimensions' product does not fit in 63 bits (as NumPy does); otherwise the product, which
// the readers have checked against the file's size.
inline int64_t shape_numel(const std::vector<int64_t>& shape) {
  if (std::find(shape.begin(), shape.end(), int64_t(0)) != shape.end()) return 0;
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

}  // namespace spikechip
