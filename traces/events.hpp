#pragma once
// DVS event traces (docs/traces.md): .evt binary, .csv and .npy [N,4] readers, the .evt writer,
// and the binning of a trace into T frames of per-pixel OFF/ON counts.
#include <cstdint>
#include <string>
#include <vector>

namespace spikechip::traces {

struct Event {
  uint16_t x = 0, y = 0;
  uint32_t t_us = 0;  // 0 .. 2^31 - 1
  uint8_t p = 0;      // 1 = ON, 0 = OFF
  bool operator==(const Event&) const = default;
};

struct EventTrace {
  int width = 0, height = 0;  // sensor size; 0 when the file does not carry it (.csv, .npy)
  std::vector<Event> events;  // validated: in range, timestamps non-decreasing
  std::string origin;         // the file it came from (for error messages)
};

inline constexpr char kEvtMagic[9] = "SCEVT001";
inline constexpr uint32_t kMaxTimestamp = 0x7FFFFFFFu;

// Reads by extension (.evt, .csv, .npy). For .csv/.npy the sensor size is `width` x `height`
// (pass the model's Input W, H); for .evt, non-zero width/height must match the header.
// Throws spikechip::Error naming the file and, for bad events, the event index.
EventTrace read_events(const std::string& path, int width = 0, int height = 0);
EventTrace read_evt(const std::string& path);
EventTrace read_events_csv(const std::string& path, int width, int height);
EventTrace read_events_npy(const std::string& path, int width, int height);
EventTrace parse_evt(const std::vector<uint8_t>& bytes, const std::string& origin);

// Checks coordinates against width/height, timestamps (< 2^31, non-decreasing), polarity.
void validate_events(const EventTrace& tr);

std::vector<uint8_t> serialize_evt(const EventTrace& tr);
void write_evt(const std::string& path, const EventTrace& tr);  // atomic

// Bins into a u8 tensor [T][2][H][W] (channel 0 = OFF, 1 = ON), frame = (t - t0) * T / (t1 - t0 + 1),
// counts saturating at 255. Needs at least one event.
std::vector<uint8_t> bin_events(const EventTrace& tr, int T);

}  // namespace spikechip::traces
