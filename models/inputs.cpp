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
#include "models/input_arrays.hpp"
#include "models/npz.hpp"
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
    if (!l[i].is_number_integer() || l[i].get<int64_t>() < 0 || l[i].get<int64_t>() > kMaxLabel)
      throw Error(side.string() + ": /labels/" + std::to_string(i) + ": must be a class index 0.." + std::to_string(kMaxLabel));
    items[i].label = int(l[i].get<int64_t>());
  }
}

// A u8 or float array (already read) as inputs of `g`, items named origin or origin[i].
std::vector<InputItem> array_inputs(NpyArray a, const Graph& g, const std::string& origin) {
  a = array_as_u8(a, g, origin);
  const ArrayLayout l = input_array_layout(a.shape, g, origin);
  return split(a.bytes, l.items, l.frames, g.input().shape, origin, l.batch);
}

std::vector<InputItem> read_npy_inputs(const std::string& path, const Graph& g) {
  const Node& in = g.input();
  NpyArray a = read_npy(path);
  if (in.encoding == "events" && a.descr == "<i8" && a.shape.size() == 2 && a.shape[1] == 4) {
    traces::EventTrace tr = traces::read_events_npy(path, in.shape.w, in.shape.h);
    InputItem it{traces::bin_events(tr, g.timesteps), g.timesteps, in.shape, -1, path};
    return {it};
  }
  return array_inputs(std::move(a), g, path);
}

// Integer values of a 1-D integer array (labels).
std::vector<int64_t> integers(const NpyArray& a, const std::string& origin) {
  static const std::vector<std::string> kinds{"|u1", "|i1", "<u2", "<i2", "<u4", "<i4", "<u8", "<i8"};
  if (std::find(kinds.begin(), kinds.end(), a.descr) == kinds.end() || a.shape.size() != 1)
    throw Error(origin + ": labels must be a 1-D integer array, got dtype '" + excerpt(a.descr) + "' with " +
                std::to_string(a.shape.size()) + " dimensions");
  const size_t k = a.itemsize();
  const bool is_signed = a.descr[1] == 'i';
  std::vector<int64_t> out(size_t(a.numel()));
  for (size_t i = 0; i < out.size(); ++i) {
    uint64_t v = 0;
    for (size_t b = 0; b < k; ++b) v |= uint64_t(a.bytes[i * k + b]) << (8 * b);
    if (is_signed && k < 8 && (v >> (8 * k - 1)) & 1) v |= ~uint64_t(0) << (8 * k);  // sign-extend
    out[i] = int64_t(v);
  }
  return out;
}

// "file.npz[:name]": the named (or only) array, or the one beside "labels" when the archive holds
// two; an integer array "labels" in the same archive labels its items.
std::vector<InputItem> read_npz_inputs(const std::string& file, const std::string& member_in, const Graph& g) {
  const auto bytes = read_file_bytes(file);
  const auto names = npz_names(bytes, file);
  const bool has_labels = std::find(names.begin(), names.end(), "labels") != names.end();
  std::string member = member_in;
  if (member.empty() && has_labels && names.size() == 2) member = names[0] == "labels" ? names[1] : names[0];
  const std::string origin = member_in.empty() ? file : file + ":" + member;
  std::vector<InputItem> items = array_inputs(npz_array(bytes, member, file), g, origin);
  if (has_labels && member != "labels" && !(member.empty() && names.size() == 1)) {
    const auto l = integers(npz_array(bytes, "labels", file), file + ":labels");
    if (l.size() != items.size())
      throw Error(file + ":labels: holds " + std::to_string(l.size()) + " labels for " + std::to_string(items.size()) +
                  " inputs of " + origin + ": give one class index per input");
    for (size_t i = 0; i < l.size(); ++i) {
      if (l[i] < 0 || l[i] > kMaxLabel)
        throw Error(file + ":labels: label " + std::to_string(l[i]) + " of item " + std::to_string(i) +
                    " is not a class index 0.." + std::to_string(kMaxLabel));
      items[i].label = int(l[i]);
    }
  }
  return items;
}

bool is_image_ext(const std::string& ext) { return ext == ".png" || ext == ".jpg" || ext == ".jpeg"; }

bool is_input_ext(const std::string& ext) {
  return ext == ".npy" || ext == ".npz" || ext == ".pgm" || ext == ".ppm" || ext == ".evt" || ext == ".csv" ||
         is_image_ext(ext);
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

std::vector<InputItem> read_one(const std::string& path, const Graph& g, const InputOptions& opt) {
  const auto [file, member] = split_npz_member(path);
  const std::string ext = file_extension(file);
  const Node& in = g.input();
  if (ext == ".npz") return read_npz_inputs(file, member, g);
  if (is_image_ext(ext)) {
    if (in.encoding == "events")
      throw Error(path + ": an image, but the model takes events (Input encoding 'events'); give an .evt/.csv trace or a [T,2,H,W] .npy");
    InputItem it;
    it.data = image_to_input(read_image_file(path), in.shape, opt.transform, path);
    it.shape = in.shape;
    it.origin = path;
    return {it};
  }
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
  if (ext.empty())  // `--input <(...)` is /dev/fd/N: no name to tell the type by
    throw Error(path + ": no file name extension to tell the input's type by; give a file named .png, .jpg, .jpeg, " +
                ".npy, .npz, .pgm, .ppm, .evt or .csv (for a pipe, write it to such a file first)");
  throw Error(path + ": unsupported input type '" + ext + "' (expected .png, .jpg, .jpeg, .npy, .npz, .pgm, .ppm, .evt or .csv)");
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

std::vector<std::pair<std::string, int>> read_labels_file(const std::string& path) {
  const auto bytes = read_file_bytes(path);
  std::vector<std::pair<std::string, int>> out;
  std::string text(bytes.begin(), bytes.end());
  size_t line_no = 0;
  for (size_t pos = 0; pos < text.size();) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string line = text.substr(pos, nl - pos);
    pos = nl + 1, ++line_no;
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
    size_t b = 0;
    while (b < line.size() && std::isspace(static_cast<unsigned char>(line[b]))) ++b;
    line.erase(0, b);
    if (line.empty() || line[0] == '#') continue;
    const std::string where = path + ":" + std::to_string(line_no);
    const size_t cut = line.find_last_of(" \t,");
    if (cut == std::string::npos)
      throw Error(where + ": expected '<file name> <class index>', got '" + excerpt(line) + "'");
    std::string name = line.substr(0, cut), label = line.substr(cut + 1);
    while (!name.empty() && (std::isspace(static_cast<unsigned char>(name.back())) || name.back() == ',')) name.pop_back();
    int64_t v = -1;
    const bool digits = !label.empty() && label.size() <= 7 &&
                        std::all_of(label.begin(), label.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
    if (digits) v = std::stoll(label);
    if (name.empty() || !digits || v > kMaxLabel)
      throw Error(where + ": expected '<file name> <class index>' with a class index 0.." + std::to_string(kMaxLabel) +
                  ", got '" + excerpt(line) + "'");
    for (const auto& [n, _] : out)
      if (n == name) throw Error(where + ": '" + excerpt(name) + "' is labelled twice");
    out.emplace_back(name, int(v));
  }
  return out;
}

std::vector<InputItem> read_inputs(const std::string& path, const Graph& g, const InputOptions& opt) {
  if (g.nodes.empty() || g.input().op != Op::Input) throw Error(path + ": the model has no Input node");
  std::error_code ec;
  std::vector<std::string> files;
  std::string labels_path = opt.labels;
  const bool dir = fs::is_directory(path, ec);
  if (dir) {
    for (const auto& e : fs::directory_iterator(path, ec))
      if (e.is_regular_file() && is_input_ext(file_extension(e.path().string()))) files.push_back(e.path().string());
    std::sort(files.begin(), files.end());  // deterministic order
    if (files.empty()) throw Error(path + ": directory has no .png/.jpg/.jpeg/.npy/.npz/.pgm/.ppm/.evt/.csv inputs");
    if (labels_path.empty() && fs::is_regular_file(fs::path(path) / "labels.txt", ec))
      labels_path = (fs::path(path) / "labels.txt").string();
  } else {
    if (!fs::exists(split_npz_member(path).first, ec) && !fs::exists(path, ec)) throw Error(path + ": input file not found");
    files.push_back(path);
  }
  std::vector<std::pair<std::string, int>> labels;
  if (!labels_path.empty()) labels = read_labels_file(labels_path);
  std::vector<bool> used(labels.size(), false);
  std::vector<InputItem> all;
  for (const auto& f : files) {
    std::vector<InputItem> items = read_one(f, g, opt);
    if (!labels.empty()) {
      const std::string name = fs::path(split_npz_member(f).first).filename().string();
      size_t k = 0;
      while (k < labels.size() && labels[k].first != name) ++k;
      if (k < labels.size()) {
        if (items.size() != 1)
          throw Error(labels_path + ": labels '" + name + "', which holds " + std::to_string(items.size()) +
                      " inputs: label a batch with its sidecar .json (.npy) or a 'labels' array (.npz)");
        items[0].label = labels[k].second;
        used[k] = true;
      } else if (items.size() == 1 && items[0].label < 0) {
        throw Error(labels_path + ": has no label for " + f + ": add a line '" + name + " <class index>'");
      }
    }
    for (auto& it : items) all.push_back(std::move(it));
  }
  for (size_t k = 0; k < labels.size() && dir; ++k)
    if (!used[k])
      throw Error(labels_path + ": labels '" + excerpt(labels[k].first) + "', which is not an input here (" + path +
                  "): remove the line or add the file");
  return all;
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
