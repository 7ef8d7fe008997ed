#pragma once
// Arrays as model inputs (docs/model-format.md "Inputs"): .npy files and .npz members holding
// uint8 pixels / event counts, or normalised float images turned back into the u8 pixels the
// model's Input takes with a documented rounding.
#include <string>
#include <vector>

#include "base/npy.hpp"
#include "models/graph.hpp"

namespace spikechip::model {

// A float32/float64 array of normalised images x = (u8/255 - mean[c]) / std[c] (the official
// transform's output) -> uint8: u = x * 255 std[c] + 255 mean[c], rounded half to even
// (numpy.rint), with mean/std from graph.json's provenance.normalize (written by
// spikechip-export), else u = x / quant.scale[c] + zero_point[c] from the Input node. A value that
// is not finite or rounds outside 0..255 is an error naming `origin`, the count and the first one.
// A uint8 array is returned as it is; other dtypes are an error.
NpyArray array_as_u8(const NpyArray& a, const Graph& g, const std::string& origin);

// "file.npz:name" -> {"file.npz", "name"}; a path without ".npz:" -> {path, ""}.
std::pair<std::string, std::string> split_npz_member(const std::string& path);

}  // namespace spikechip::model
