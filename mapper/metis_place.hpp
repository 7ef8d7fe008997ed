#pragma once
// METIS placement (docs/mapper.md, "Place"): recursive bisection of the group traffic graph into
// mesh halves / quadrants with libmetis.
#include <cstdint>
#include <utility>
#include <vector>

namespace spikechip::mapper {

// Vertices 0..n-1 (n <= w*h) with symmetric weighted adjacency `nb` (indices into the same set;
// weights = expected packets per step). Returns the core (y*w + x) of every vertex, distinct.
// Deterministic for a seed.
std::vector<int> metis_place(int w, int h, const std::vector<std::vector<std::pair<int, double>>>& nb, uint64_t seed);

}  // namespace spikechip::mapper
