// Float arrays of normalised images -> u8 model inputs (models/input_arrays.hpp).
#include "models/input_arrays.hpp"

#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "base/error.hpp"
#include "base/strict_json.hpp"
#include "models/inputs.hpp"

namespace spikechip::model {

namespace {

// u = x * a[c] + b[c], the affine map back to u8 units, from the model's records.
struct Unnormalise {
  std::vector<double> a, b;
  std::string from;
};

bool numbers_of_size(const nlohmann::json& j, size_t n) {
  if (!j.is_array() || j.size() != n) return false;
  for (const auto& v : j)
    if (!v.is_number()) return false;
  return true;
}

Unnormalise unnormalise_of(const Graph& g, const std::string& origin) {
  const Node& in = g.input();
  const size_t C = size_t(in.shape.c);
  Unnormalise u;
  const auto& prov = g.provenance;
  if (prov.is_object() && prov.contains("normalize") && prov["normalize"].is_object()) {
    const auto& n = prov["normalize"];
    if (n.contains("mean") && n.contains("std") && numbers_of_size(n["mean"], C) && numbers_of_size(n["std"], C)) {
      for (size_t c = 0; c < C; ++c) {
        const double s = n["std"][c].get<double>(), m = n["mean"][c].get<double>();
        if (!(s > 0)) throw Error(origin + ": the model's provenance.normalize.std[" + std::to_string(c) + "] is not positive");
        u.a.push_back(255.0 * s);
        u.b.push_back(255.0 * m);
      }
      u.from = "provenance.normalize";
      return u;
    }
  }
  if (in.quant.is_object() && in.quant.contains("scale") && numbers_of_size(in.quant["scale"], C) &&
      in.zero_point.size() == C) {
    for (size_t c = 0; c < C; ++c) {
      const double s = in.quant["scale"][c].get<double>();
      if (!(s > 0)) throw Error(origin + ": the model's Input quant.scale[" + std::to_string(c) + "] is not positive");
      u.a.push_back(1.0 / s);
      u.b.push_back(double(in.zero_point[c]));
    }
    u.from = "the Input's quant.scale and zero_point";
    return u;
  }
  throw Error(origin + ": a float array needs the model's input normalisation (graph.json provenance.normalize, or "
              "the Input node's quant.scale), which this model lacks: give uint8 pixels instead");
}

template <class F>
NpyArray convert(const NpyArray& a, const Graph& g, const std::string& origin) {
  const Node& in = g.input();
  (void)input_array_layout(a.shape, g, origin);  // the shape rules of u8 arrays, checked first
  const Unnormalise u = unnormalise_of(g, origin);
  const int64_t plane = int64_t(in.shape.h) * in.shape.w, C = in.shape.c;
  NpyArray out;
  out.descr = "|u1";
  out.shape = a.shape;
  out.bytes.resize(size_t(a.numel()));
  int64_t bad = 0, first = -1;
  double first_x = 0, first_u = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    F x;
    std::memcpy(&x, a.bytes.data() + size_t(i) * sizeof(F), sizeof(F));
    const size_t c = size_t((i / plane) % C);
    const double v = double(x) * u.a[c] + u.b[c];
    const double r = std::nearbyint(v);  // the default rounding mode: half to even
    if (!(r >= 0.0 && r <= 255.0)) {     // also NaN / inf
      if (bad++ == 0) first = i, first_x = double(x), first_u = v;
      continue;
    }
    out.bytes[size_t(i)] = uint8_t(r);
  }
  if (bad)
    throw Error(fmt::format("{}: {} of {} values do not map to a u8 pixel 0..255 (first: {} at flat index {} -> {}), "
                            "un-normalised with {}: give images normalised as the model was trained, or uint8 pixels",
                            origin, bad, a.numel(), first_x, first, first_u, u.from));
  return out;
}

}  // namespace

NpyArray array_as_u8(const NpyArray& a, const Graph& g, const std::string& origin) {
  if (a.descr == "|u1") return a;
  const bool events = g.input().encoding == "events";
  if (a.descr == "<f4" || a.descr == "<f8") {
    if (events)
      throw Error(origin + ": a float array, but the model takes event counts (Input encoding 'events'): give uint8 frames");
    return a.descr == "<f4" ? convert<float>(a, g, origin) : convert<double>(a, g, origin);
  }
  throw Error(origin + ": input arrays must be uint8 (|u1) or normalised float32/float64 images (<f4, <f8), got dtype '" +
              excerpt(a.descr) + "'" + (events ? " (event traces as .npy must be int64 [N, 4])" : ""));
}

std::pair<std::string, std::string> split_npz_member(const std::string& path) {
  const size_t at = path.rfind(".npz:");
  if (at == std::string::npos) return {path, ""};
  return {path.substr(0, at + 4), path.substr(at + 5)};
}

}  // namespace spikechip::model
