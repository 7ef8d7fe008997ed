#include "base/file_util.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "base/error.hpp"
#include "base/strict_json.hpp"

namespace spikechip {

std::vector<uint8_t> read_file_bytes(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw Error(excerpt(path, 240) + ": is a directory, expected a file");
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(excerpt(path, 240) + ": cannot open (" + std::strerror(errno) + "); check the path");
  f.seekg(0, std::ios::end);
  const std::streamoff n = f.tellg();
  f.seekg(0, std::ios::beg);
  std::vector<uint8_t> bytes(size_t(n < 0 ? 0 : n));
  if (n > 0 && !f.read(reinterpret_cast<char*>(bytes.data()), n))
    throw Error(path + ": read failed (" + std::strerror(errno) + ")");
  return bytes;
}

namespace {

// `dir` (a directory to be, made if missing) must not be, or lie under, something that is not a
// directory; the error names `shown`, the path the user gave.
void check_dir_to_be(const std::string& shown, const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::path p = dir;
  while (!p.empty() && !std::filesystem::exists(p, ec)) p = p.parent_path();
  if (p.empty() || std::filesystem::is_directory(p, ec)) return;
  throw Error(excerpt(shown, 240) + (p.string() == shown ? ": is" : ": '" + excerpt(p.string(), 240) + "' is") +
              " a file, not a directory; choose another path or move the file");
}

}  // namespace

void check_output_dir(const std::string& path) { check_dir_to_be(path, path); }

void check_output_file(const std::string& path, bool parents_made) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw Error(excerpt(path, 240) + ": is a directory; give the name of a file to write");
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  check_dir_to_be(path, parent);
  if (!parents_made && !parent.empty() && !std::filesystem::is_directory(parent, ec))
    throw Error(excerpt(path, 240) + ": directory '" + excerpt(parent.string(), 240) + "' does not exist; create it first");
}

void write_file_synced(const std::string& file, const void* data, size_t size, const std::string& shown) {
  auto fail = [&](const char* what, int err, bool created = true) {
    if (created) ::unlink(file.c_str());
    throw WriteError(excerpt(shown, 240) + ": " + what + " (" + std::strerror(err) +
                     "); check that its directory is writable and its disk has free space, then rerun");
  };
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail("cannot create", errno, false);
  const auto* p = static_cast<const uint8_t*>(data);
  size_t left = size;
  while (left > 0) {
    const ssize_t w = ::write(fd, p, left);
    if (w < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      fail("write failed", err);
    }
    p += w;
    left -= size_t(w);
  }
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    fail("write failed", err);
  }
  if (::close(fd) != 0) fail("write failed", errno);
}

void write_file_atomic(const std::string& path, const void* data, size_t size) {
  check_output_file(path);
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  write_file_synced(tmp, data, size, path);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(tmp.c_str());
    throw WriteError(excerpt(path, 240) + ": cannot rename temporary file into place (" + why +
                     "); check that its directory is writable");
  }
}

std::string file_extension(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  for (auto& ch : ext) ch = char(std::tolower(static_cast<unsigned char>(ch)));
  return ext;
}

}  // namespace spikechip
