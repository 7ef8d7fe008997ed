#include "models/inputs.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <zlib.h>

#include <nlohmann/json.hpp>

#include "base/file_util.hpp"
#include "base/npy.hpp"
#include "base/error.hpp"
#include "base/strict_json.hpp"
#include "traces/events.hpp"

namespace spikechip::model {

namespace fs = std::filesystem;

namespace {

std::string dims(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r.append(i ? ", " : "").append(std::to_string(s[i]));
  return r + "]";
}
std::string dims(const Shape& s) { return dims(std::vector<int64_t>{s.c, s.h, s.w}); }

// Splits a u8 array of B items of `per` bytes each.
std::vector<InputItem> split(const std::vector<uint8_t>& bytes, int64_t B, int frames, const Shape& s,
                             const std::string& path, bool batch) {
  std::vector<InputItem> out;
  const size_t per = size_t(frames) * size_t(s.size());
  for (int64_t b = 0; b < B; ++b) {
    InputItem it;
    it.data.assign(bytes.begin() + int64_t(size_t(b) * per), bytes.begin() + int64_t(size_t(b + 1) * per));
    it.frames = frames;
    it.shape = s;
    it.origin = batch ? path + "[" + std::to_string(b) + "]" : path;
    out.push_back(std::move(it));
  }
  return out;
}

// Labels of a batch .npy from its sidecar `<stem>.json` (as models/*/sample.json): an object whose
// "file" names this .npy and whose "labels" has one class index per item. A sidecar naming another
// file, or none, gives no labels; one naming this file with a wrong "labels" is an error.
void attach_sidecar_labels(const std::string& path, std::vector<InputItem>& items) {
  namespace fs = std::filesystem;
  const fs::path side = fs::path(path).replace_extension(".json");
  std::error_code ec;
  if (!fs::is_regular_file(side, ec)) return;
  nlohmann::json j;
  try {
    std::ifstream f(side);
    j = nlohmann::json::parse(f);
  } catch (const std::exception&) {
    return;  // not a sidecar of ours
  }
  if (!j.is_object() || !j.contains("labels") || j.value("file", std::string()) != fs::path(path).filename().string()) return;
  const auto& l = j["labels"];
  if (!l.is_array() || l.size() != items.size())
    throw Error(side.string() + ": /labels: must be an array of " + std::to_string(items.size()) +
                " class indices (one per item of " + path + ")");
  for (size_t i = 0; i < items.size(); ++i) {
    if (!l[i].is_number_integer() || l[i].get<int64_t>() < 0 || l[i].get<int64_t>() > 1000000)
      throw Error(side.string() + ": /labels/" + std::to_string(i) + ": must be a class index >= 0");
    items[i].label = int(l[i].get<int64_t>());
  }
}

std::vector<InputItem> read_npy_inputs(const std::string& path, const Graph& g) {
  const Node& in = g.input();
  const bool events = in.encoding == "events";
  NpyArray a = read_npy(path);
  if (events && a.descr == "<i8" && a.shape.size() == 2 && a.shape[1] == 4) {
    traces::EventTrace tr = traces::read_events_npy(path, in.shape.w, in.shape.h);
    InputItem it{traces::bin_events(tr, g.timesteps), g.timesteps, in.shape, -1, path};
    return {it};
  }
  if (a.descr != "|u1")
    throw Error(path + ": input .npy must be uint8 (|u1), got dtype '" + excerpt(a.descr) + "'" +
                (events ? " (event traces as .npy must be int64 [N, 4])" : ""));
  const ArrayLayout l = input_array_layout(a.shape, g, path);
  return split(a.bytes, l.items, l.frames, in.shape, path, l.batch);
}

}  // namespace

ArrayLayout input_array_layout(const std::vector<int64_t>& s, const Graph& g, const std::string& origin) {
  const Node& in = g.input();
  const bool events = in.encoding == "events";
  const std::vector<int64_t> chw{in.shape.c, in.shape.h, in.shape.w};
  auto tail_is = [&](size_t from, const std::vector<int64_t>& want) {
    return s.size() == from + want.size() && std::equal(want.begin(), want.end(), s.begin() + int64_t(from));
  };
  if (!events) {
    if (tail_is(0, chw)) return {1, 1, false};
    if (in.shape.c == 1 && tail_is(0, {in.shape.h, in.shape.w})) return {1, 1, false};
    if (tail_is(1, chw)) return {s[0], 1, true};
    if (in.shape.c == 1 && tail_is(1, {in.shape.h, in.shape.w})) return {s[0], 1, true};
    throw Error(origin + ": input shape " + dims(s) + " does not fit the model's Input " + dims(in.shape) +
                ": expected [C,H,W] = " + dims(chw) + ", a batch [B," + dims(chw).substr(1) +
                (in.shape.c == 1 ? ", or [H,W]" : ""));
  }
  std::vector<int64_t> tchw{g.timesteps};
  tchw.insert(tchw.end(), chw.begin(), chw.end());
  if (tail_is(0, tchw)) return {1, g.timesteps, false};
  if (tail_is(1, tchw)) return {s[0], g.timesteps, true};
  throw Error(origin + ": event tensor shape " + dims(s) + " does not fit the model (T = " + std::to_string(g.timesteps) +
              ", Input " + dims(in.shape) + "): expected [T,C,H,W] = " + dims(tchw) + " or a batch [B," +
              dims(tchw).substr(1));
}

namespace {

void check_image(const InputItem& it, const Graph& g) {
  const Node& in = g.input();
  if (in.encoding == "events")
    throw Error(it.origin + ": the model takes events (Input encoding 'events'); give an .evt/.csv trace or a [T,2,H,W] .npy");
  if (!(it.shape == in.shape))
    throw Error(it.origin + ": image is " + dims(it.shape) + " (C,H,W) but the model's Input expects " + dims(in.shape));
}

std::vector<InputItem> read_one(const std::string& path, const Graph& g) {
  const std::string ext = file_extension(path);
  const Node& in = g.input();
  if (ext == ".npy") {
    std::vector<InputItem> items = read_npy_inputs(path, g);
    attach_sidecar_labels(path, items);
    return items;
  }
  if (ext == ".pgm" || ext == ".ppm") {
    InputItem it = read_pnm(path);
    check_image(it, g);
    return {it};
  }
  if (ext == ".evt" || ext == ".csv") {
    if (in.encoding != "events")
      throw Error(path + ": an event trace, but the model takes images (Input encoding 'image')");
    traces::EventTrace tr = traces::read_events(path, in.shape.w, in.shape.h);
    return {InputItem{traces::bin_events(tr, g.timesteps), g.timesteps, in.shape, -1, path}};
  }
  throw Error(path + ": unsupported input type '" + ext + "' (expected .npy, .pgm, .ppm, .evt or .csv)");
}

// Reads one whitespace/comment-delimited header integer of a PNM file.
int pnm_int(const std::vector<uint8_t>& b, size_t& i, const std::string& path) {
  while (i < b.size()) {
    if (b[i] == '#') {
      while (i < b.size() && b[i] != '\n') ++i;
    } else if (std::isspace(b[i])) {
      ++i;
    } else {
      break;
    }
  }
  if (i >= b.size() || !std::isdigit(b[i])) throw Error(path + ": malformed PGM/PPM header");
  int64_t v = 0;
  while (i < b.size() && std::isdigit(b[i]) && v < (1 << 24)) v = v * 10 + (b[i++] - '0');
  return int(v);
}

std::vector<uint8_t> gunzip(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw Error(path + ": cannot open (install dataset-fashion-mnist or set SPIKECHIP_FMNIST_DIR)");
  std::vector<uint8_t> out;
  uint8_t buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) out.insert(out.end(), buf, buf + n);
  int err = 0;
  const char* msg = gzerror(f, &err);
  const std::string why = msg ? msg : "";
  gzclose(f);
  if (n < 0 || (err != Z_OK && err != Z_STREAM_END)) throw Error(path + ": gzip read failed (" + why + ")");
  return out;
}

uint32_t be32(const uint8_t* p) { return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3]; }

}  // namespace

InputItem read_pnm(const std::string& path) {
  const auto b = read_file_bytes(path);
  if (b.size() < 2 || b[0] != 'P' || (b[1] != '5' && b[1] != '6'))
    throw Error(path + ": not a binary PGM/PPM (expected magic P5 or P6; ASCII P2/P3 are not supported)");
  const int c = b[1] == '5' ? 1 : 3;
  size_t i = 2;
  const int w = pnm_int(b, i, path), h = pnm_int(b, i, path), maxval = pnm_int(b, i, path);
  if (w < 1 || h < 1) throw Error(path + ": PGM/PPM size " + std::to_string(w) + "x" + std::to_string(h) + " is empty");
  if (maxval < 1 || maxval > 255) throw Error(path + ": maxval " + std::to_string(maxval) + " unsupported (need 8-bit, <= 255)");
  if (i >= b.size() || !std::isspace(b[i])) throw Error(path + ": malformed PGM/PPM header");
  ++i;  // the single whitespace byte before the raster
  const size_t need = size_t(w) * size_t(h) * size_t(c);
  if (b.size() - i < need)
    throw Error(path + ": truncated PGM/PPM raster (" + std::to_string(b.size() - i) + " bytes, " +
                std::to_string(w) + "x" + std::to_string(h) + "x" + std::to_string(c) + " needs " + std::to_string(need) + ")");
  InputItem it;
  it.shape = {c, h, w};
  it.origin = path;
  it.data.resize(need);
  // PPM stores RGB interleaved per pixel; the model wants planes (C,H,W).
  for (size_t p = 0; p < size_t(w) * size_t(h); ++p)
    for (int k = 0; k < c; ++k) it.data[size_t(k) * size_t(w) * size_t(h) + p] = b[i + p * size_t(c) + size_t(k)];
  return it;
}

void pad_to(InputItem& it, const Shape& t) {
  if (it.shape == t) return;
  if (it.frames != 1 || t.c != it.shape.c || t.h < it.shape.h || t.w < it.shape.w)
    throw Error(it.origin + ": cannot centre-pad " + dims(it.shape) + " to the model's Input " + dims(t) +
                " (channels must match and the target must not be smaller)");
  const int oy = (t.h - it.shape.h) / 2, ox = (t.w - it.shape.w) / 2;
  std::vector<uint8_t> out(size_t(t.size()), 0);
  for (int c = 0; c < t.c; ++c)
    for (int y = 0; y < it.shape.h; ++y)
      std::copy_n(it.data.begin() + ((int64_t(c) * it.shape.h + y) * it.shape.w), it.shape.w,
                  out.begin() + ((int64_t(c) * t.h + y + oy) * t.w + ox));
  it.data = std::move(out);
  it.shape = t;
}

std::vector<InputItem> read_inputs(const std::string& path, const Graph& g) {
  if (g.nodes.empty() || g.input().op != Op::Input) throw Error(path + ": the model has no Input node");
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    std::vector<std::string> files;
    for (const auto& e : fs::directory_iterator(path, ec)) {
      const std::string ext = file_extension(e.path().string());
      if (e.is_regular_file() && (ext == ".npy" || ext == ".pgm" || ext == ".ppm" || ext == ".evt" || ext == ".csv"))
        files.push_back(e.path().string());
    }
    std::sort(files.begin(), files.end());  // deterministic order
    if (files.empty()) throw Error(path + ": directory has no .npy/.pgm/.ppm/.evt/.csv inputs");
    std::vector<InputItem> all;
    for (const auto& f : files)
      for (auto& it : read_one(f, g)) all.push_back(std::move(it));
    return all;
  }
  if (!fs::exists(path, ec)) throw Error(path + ": input file not found");
  return read_one(path, g);
}

std::vector<InputItem> read_idx_dataset(const std::string& images_gz, const std::string& labels_gz, int limit,
                                        const Shape& target) {
  const auto im = gunzip(images_gz);
  const auto lb = gunzip(labels_gz);
  if (im.size() < 16 || be32(im.data()) != 0x00000803)
    throw Error(images_gz + ": not an IDX3 image file (magic 0x00000803)");
  if (lb.size() < 8 || be32(lb.data()) != 0x00000801)
    throw Error(labels_gz + ": not an IDX1 label file (magic 0x00000801)");
  const uint32_t n = be32(im.data() + 4), rows = be32(im.data() + 8), cols = be32(im.data() + 12);
  const uint32_t nl = be32(lb.data() + 4);
  if (n != nl) throw Error(images_gz + ": " + std::to_string(n) + " images but " + labels_gz + " has " + std::to_string(nl) + " labels");
  if (rows == 0 || cols == 0 || rows > 4096 || cols > 4096) throw Error(images_gz + ": bad image size");
  if (im.size() != 16 + uint64_t(n) * rows * cols) throw Error(images_gz + ": truncated or oversized IDX3 data");
  if (lb.size() != 8 + uint64_t(n)) throw Error(labels_gz + ": truncated or oversized IDX1 data");
  const uint32_t count = limit > 0 ? std::min<uint32_t>(n, uint32_t(limit)) : n;
  std::vector<InputItem> out;
  out.reserve(count);
  const size_t per = size_t(rows) * cols;
  for (uint32_t k = 0; k < count; ++k) {
    InputItem it;
    it.data.assign(im.begin() + int64_t(16 + k * per), im.begin() + int64_t(16 + (k + 1) * per));
    it.shape = {1, int(rows), int(cols)};
    it.label = lb[8 + k];
    if (it.label > 9) throw Error(labels_gz + ": label " + std::to_string(it.label) + " of item " + std::to_string(k) + " is not 0..9");
    it.origin = images_gz + "[" + std::to_string(k) + "]";
    pad_to(it, target);
    out.push_back(std::move(it));
  }
  return out;
}

std::string fashion_mnist_dir() {
  const char* env = std::getenv("SPIKECHIP_FMNIST_DIR");
  return env && *env ? env : "/usr/share/datasets/fashion-mnist";
}

std::vector<InputItem> fashion_mnist_test_set(int limit, const Shape& target) {
  const fs::path d = fashion_mnist_dir();
  return read_idx_dataset((d / "t10k-images-idx3-ubyte.gz").string(), (d / "t10k-labels-idx1-ubyte.gz").string(),
                          limit, target);
}

}  // namespace spikechip::model
