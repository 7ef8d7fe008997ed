#pragma once
// Whole-file reads and crash-safe writes shared by every reader/writer of model, input and trace
// files: a half-written output file must never be mistaken for a good one.
#include <cstdint>
#include <string>
#include <vector>

namespace spikechip {

// The most read_file_bytes takes from a pipe or a device (a regular file is read whole): an input
// given as `<(...)` or /dev/stdin is read to its end, /dev/zero is refused once past this.
inline constexpr uint64_t kMaxStreamBytes = uint64_t(1) << 30;

// Reads a whole file, or a pipe or device to its end (at most kMaxStreamBytes); throws
// spikechip::Error "<path>: cannot open [<what> file] (...)" naming the OS reason.
std::vector<uint8_t> read_file_bytes(const std::string& path, const std::string& what = "");

// Throws spikechip::Error when `path` cannot be an output file: a name in it is longer than the file
// system allows, it is a directory, or its directory does not exist (with parents_made, for
// writers that make missing directories: its directory fails check_output_dir). Commands call it on their output paths before the work, so a long job
// does not fail at its end; write_file_atomic calls it too.
void check_output_file(const std::string& path, bool parents_made = false);

// Throws spikechip::Error when `path` cannot become an output directory: a name in it is too long
// for the file system, or it, or the nearest of its ancestors that exists, is not a directory
// (missing directories are created by the writer).
void check_output_dir(const std::string& path);

// Writes `size` bytes to `file` (created or truncated) and flushes them to the disk (fsync). On
// failure `file` is removed and spikechip::WriteError is thrown naming `shown` (the path the user
// knows; `file` is its temporary) with the OS reason and what to check. The step before a rename
// over `shown`: a new file gets the mode the user's umask gives (0666 masked, as any tool's
// output), and when `shown` is a file already, `file` takes its permission bits, owner and group
// (as far as the process may: `chmod 600` on a result must not become 0644 on a re-run).
void write_file_synced(const std::string& file, const void* data, size_t size, const std::string& shown);

// The temporary that a write to `file` renames over it: hidden, in the same directory (so the
// rename is atomic), one per file and process (".NAME.tmp-PID"); a name too long for that keeps its
// start and a hash of the whole, so that an output whose own name fits the file system's limit
// (usually 255 bytes) can always be written.
std::string temp_path_beside(const std::string& file);

// Writes `bytes` to `path` atomically: a temporary file in the same directory, flushed, then
// renamed over `path`. On failure the temporary is removed and spikechip::WriteError is thrown
// (spikechip::Error, before anything is written, when check_output_file refuses `path`). Every
// single-file output goes through it. A symbolic link stays a link (the file it names is replaced);
// a path that written_in_place names is written in place, without a temporary.
void write_file_atomic(const std::string& path, const void* data, size_t size);
inline void write_file_atomic(const std::string& path, const std::string& s) {
  write_file_atomic(path, s.data(), s.size());
}
inline void write_file_atomic(const std::string& path, const std::vector<uint8_t>& b) {
  write_file_atomic(path, b.data(), b.size());
}

// True when an output to `path` is written into it rather than replaced by a renamed temporary: a
// device, a FIFO or a socket (`-o /dev/null`, `-o >(gzip > x.gz)`), or any path under /dev or /proc
// (/dev/stdout names the process's own standard output, whatever file that is). Replacing
// /dev/null, as root, would have made it a regular file for every process on the machine.
bool written_in_place(const std::string& path);

// Little-endian loads from a byte buffer (the on-disk formats are little-endian on every host).
inline uint16_t load_le16(const uint8_t* p) { return uint16_t(p[0] | (p[1] << 8)); }
inline uint32_t load_le32(const uint8_t* p) {
  return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24);
}
inline uint64_t load_le64(const uint8_t* p) {
  return uint64_t(load_le32(p)) | (uint64_t(load_le32(p + 4)) << 32);
}
inline void store_le16(std::vector<uint8_t>& out, uint16_t v) {
  out.push_back(uint8_t(v));
  out.push_back(uint8_t(v >> 8));
}
inline void store_le32(std::vector<uint8_t>& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(uint8_t(v >> (8 * i)));
}
inline void store_le64(std::vector<uint8_t>& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(uint8_t(v >> (8 * i)));
}

// Lower-cased extension including the dot (".npy"), or "" when there is none.
std::string file_extension(const std::string& path);

}  // namespace spikechip
