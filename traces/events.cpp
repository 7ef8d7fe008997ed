#include "traces/events.hpp"

#include <charconv>
#include <cstring>
#include <sstream>

#include "base/file_util.hpp"
#include "base/npy.hpp"
#include "base/error.hpp"
#include "base/strict_json.hpp"

namespace spikechip::traces {

namespace {
constexpr size_t kHeader = 16, kRecord = 8;

void check_size(EventTrace& tr, int width, int height) {
  if (width > 0 && height > 0) {
    if (tr.width == 0) {
      tr.width = width;
      tr.height = height;
    } else if (tr.width != width || tr.height != height) {
      throw Error(tr.origin + ": trace is " + std::to_string(tr.width) + "x" + std::to_string(tr.height) +
                  " (WxH) but the model's Input expects " + std::to_string(width) + "x" + std::to_string(height));
    }
  }
}
}  // namespace

void validate_events(const EventTrace& tr) {
  if (tr.width < 1 || tr.height < 1 || tr.width > 65535 || tr.height > 65535)
    throw Error(tr.origin + ": sensor size " + std::to_string(tr.width) + "x" + std::to_string(tr.height) +
                " must be 1..65535 in each dimension");
  for (size_t i = 0; i < tr.events.size(); ++i) {
    const Event& e = tr.events[i];
    const std::string where = tr.origin + ": event " + std::to_string(i) + ": ";
    if (e.x >= tr.width) throw Error(where + "x = " + std::to_string(e.x) + " outside width " + std::to_string(tr.width));
    if (e.y >= tr.height) throw Error(where + "y = " + std::to_string(e.y) + " outside height " + std::to_string(tr.height));
    if (e.t_us > kMaxTimestamp) throw Error(where + "t_us = " + std::to_string(e.t_us) + " exceeds 2^31 - 1");
    if (e.p > 1) throw Error(where + "polarity " + std::to_string(e.p) + " is not 0 or 1");
    if (i > 0 && e.t_us < tr.events[i - 1].t_us)
      throw Error(where + "timestamp " + std::to_string(e.t_us) + " us goes back in time (previous " +
                  std::to_string(tr.events[i - 1].t_us) + " us); events must be sorted by time");
  }
}

EventTrace parse_evt(const std::vector<uint8_t>& b, const std::string& origin) {
  EventTrace tr;
  tr.origin = origin;
  if (b.size() < kHeader)
    throw Error(origin + ": truncated .evt file (" + std::to_string(b.size()) + " bytes, the header alone is 16)");
  if (std::memcmp(b.data(), kEvtMagic, 8) != 0)
    throw Error(origin + ": not a .evt file (magic is not SCEVT001, see docs/traces.md)");
  tr.width = load_le16(b.data() + 8);
  tr.height = load_le16(b.data() + 10);
  const uint64_t count = load_le32(b.data() + 12);
  const uint64_t need = kHeader + count * kRecord;
  if (b.size() < need)
    throw Error(origin + ": truncated .evt file: header says " + std::to_string(count) + " events (" +
                std::to_string(need) + " bytes) but the file has " + std::to_string(b.size()) + " bytes");
  if (b.size() > need)
    throw Error(origin + ": " + std::to_string(b.size() - need) + " trailing bytes after " + std::to_string(count) + " events");
  tr.events.resize(count);
  for (uint64_t i = 0; i < count; ++i) {
    const uint8_t* r = b.data() + kHeader + i * kRecord;
    const uint32_t packed = load_le32(r + 4);
    tr.events[i] = {load_le16(r), load_le16(r + 2), packed & kMaxTimestamp, uint8_t(packed >> 31)};
  }
  validate_events(tr);
  return tr;
}

EventTrace read_evt(const std::string& path) { return parse_evt(read_file_bytes(path), path); }

EventTrace read_events_csv(const std::string& path, int width, int height) {
  const auto bytes = read_file_bytes(path);
  std::istringstream in(std::string(bytes.begin(), bytes.end()));
  EventTrace tr;
  tr.origin = path;
  std::string line;
  size_t lineno = 0;
  bool header = false;
  while (std::getline(in, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    if (!header) {
      std::string h;
      for (char c : line)
        if (c != ' ' && c != '\t') h.push_back(c);
      if (h != "x,y,t_us,p")
        throw Error(path + ":" + std::to_string(lineno) + ": expected the header line 'x,y,t_us,p', got '" + excerpt(line) + "'");
      header = true;
      continue;
    }
    uint64_t v[4];
    const char* p = line.data();
    const char* end = line.data() + line.size();
    for (int k = 0; k < 4; ++k) {
      while (p < end && (*p == ' ' || *p == '\t')) ++p;
      auto [q, ec] = std::from_chars(p, end, v[k]);
      if (ec != std::errc() || q == p)
        throw Error(path + ":" + std::to_string(lineno) + ": expected 4 non-negative integers x,y,t_us,p, got '" + excerpt(line) + "'");
      p = q;
      while (p < end && (*p == ' ' || *p == '\t')) ++p;
      if (k < 3) {
        if (p >= end || *p != ',')
          throw Error(path + ":" + std::to_string(lineno) + ": expected 4 comma-separated values, got '" + excerpt(line) + "'");
        ++p;
      }
    }
    if (p != end) throw Error(path + ":" + std::to_string(lineno) + ": extra text after 4 values: '" + excerpt(line) + "'");
    const std::string where = path + ":" + std::to_string(lineno) + ": ";
    if (v[0] > 65535 || v[1] > 65535) throw Error(where + "coordinates must be < 65536");
    if (v[2] > kMaxTimestamp) throw Error(where + "t_us = " + std::to_string(v[2]) + " exceeds 2^31 - 1");
    if (v[3] > 1) throw Error(where + "polarity " + std::to_string(v[3]) + " is not 0 or 1");
    tr.events.push_back({uint16_t(v[0]), uint16_t(v[1]), uint32_t(v[2]), uint8_t(v[3])});
  }
  if (!header) throw Error(path + ": empty CSV trace (expected the header line 'x,y,t_us,p')");
  check_size(tr, width, height);
  validate_events(tr);
  return tr;
}

EventTrace read_events_npy(const std::string& path, int width, int height) {
  const NpyArray a = read_npy(path);
  if (a.descr != "<i8" || a.shape.size() != 2 || a.shape[1] != 4)
    throw Error(path + ": an event .npy must be int64 (<i8) of shape [N, 4] (x, y, t_us, p); got dtype " + excerpt(a.descr) +
                " shape " + [&] {
                  std::string s = "[";
                  for (size_t i = 0; i < a.shape.size(); ++i) s.append(i ? ", " : "").append(std::to_string(a.shape[i]));
                  return s + "]";
                }());
  EventTrace tr;
  tr.origin = path;
  const size_t n = size_t(a.shape[0]);
  tr.events.resize(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t v[4];
    for (int k = 0; k < 4; ++k) v[k] = int64_t(load_le64(a.bytes.data() + (i * 4 + size_t(k)) * 8));
    const std::string where = path + ": event " + std::to_string(i) + ": ";
    if (v[0] < 0 || v[0] > 65535 || v[1] < 0 || v[1] > 65535)
      throw Error(where + "coordinates (" + std::to_string(v[0]) + ", " + std::to_string(v[1]) + ") out of range");
    if (v[2] < 0 || v[2] > int64_t(kMaxTimestamp)) throw Error(where + "t_us = " + std::to_string(v[2]) + " outside 0 .. 2^31 - 1");
    if (v[3] != 0 && v[3] != 1) throw Error(where + "polarity " + std::to_string(v[3]) + " is not 0 or 1");
    tr.events[i] = {uint16_t(v[0]), uint16_t(v[1]), uint32_t(v[2]), uint8_t(v[3])};
  }
  check_size(tr, width, height);
  validate_events(tr);
  return tr;
}

EventTrace read_events(const std::string& path, int width, int height) {
  const std::string ext = file_extension(path);
  if (ext == ".evt") {
    EventTrace tr = read_evt(path);
    check_size(tr, width, height);
    return tr;
  }
  if (ext == ".csv") return read_events_csv(path, width, height);
  if (ext == ".npy") return read_events_npy(path, width, height);
  throw Error(path + ": unknown event trace extension '" + ext + "' (expected .evt, .csv or .npy; see docs/traces.md)");
}

std::vector<uint8_t> serialize_evt(const EventTrace& tr) {
  validate_events(tr);
  if (tr.events.size() > 0xFFFFFFFFu) throw Error(tr.origin + ": too many events for one .evt file");
  std::vector<uint8_t> out(kEvtMagic, kEvtMagic + 8);
  store_le16(out, uint16_t(tr.width));
  store_le16(out, uint16_t(tr.height));
  store_le32(out, uint32_t(tr.events.size()));
  out.reserve(kHeader + tr.events.size() * kRecord);
  for (const Event& e : tr.events) {
    store_le16(out, e.x);
    store_le16(out, e.y);
    store_le32(out, (e.t_us & kMaxTimestamp) | (uint32_t(e.p) << 31));
  }
  return out;
}

void write_evt(const std::string& path, const EventTrace& tr) { write_file_atomic(path, serialize_evt(tr)); }

std::vector<uint8_t> bin_events(const EventTrace& tr, int T) {
  if (T < 1) throw Error(tr.origin + ": cannot bin events into " + std::to_string(T) + " frames (need T >= 1)");
  if (tr.events.empty()) throw Error(tr.origin + ": the trace has no events (nothing to bin)");
  validate_events(tr);
  const size_t H = size_t(tr.height), W = size_t(tr.width);
  std::vector<uint8_t> frames(size_t(T) * 2 * H * W, 0);
  const uint64_t t0 = tr.events.front().t_us, span = uint64_t(tr.events.back().t_us) - t0 + 1;
  for (const Event& e : tr.events) {
    const size_t f = size_t((uint64_t(e.t_us) - t0) * uint64_t(T) / span);
    uint8_t& cell = frames[((f * 2 + e.p) * H + e.y) * W + e.x];
    if (cell < 255) ++cell;
  }
  return frames;
}

}  // namespace spikechip::traces
