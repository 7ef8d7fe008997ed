#include "base/file_util.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include "base/error.hpp"
#include "base/strict_json.hpp"

namespace spikechip {

std::vector<uint8_t> read_file_bytes(const std::string& path, const std::string& what) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    throw Error(excerpt(path, 240) + ": cannot open" + (what.empty() ? "" : " " + what + " file") + " (" +
                std::strerror(errno) + "); check the path");
  struct stat st {};
  if (::fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {  // a directory opens, and reads fail
    ::close(fd);
    throw Error(excerpt(path, 240) +
                (what.empty() ? ": is a directory, expected a file" : ": is a directory; give the " + what + " file"));
  }
  // A regular file is read to the size it has now; a pipe or a device (`--input <(...)`,
  // /dev/stdin) to its end, but no further than kMaxStreamBytes (/dev/zero has no end); so is a
  // regular file of size 0, as /proc's files say they are.
  const bool regular = S_ISREG(st.st_mode) && st.st_size > 0;
  const uint64_t limit = regular ? uint64_t(st.st_size) : kMaxStreamBytes;
  std::vector<uint8_t> bytes;
  if (regular) bytes.resize(size_t(st.st_size));
  size_t n = 0;
  while (true) {
    if (!regular && bytes.size() - n < (1u << 20)) bytes.resize(std::min<uint64_t>(limit + 1, bytes.size() + (1u << 20) + bytes.size() / 2));
    if (n == bytes.size()) break;  // a regular file's whole size, or a stream past the limit
    const ssize_t r = ::read(fd, bytes.data() + n, bytes.size() - n);
    if (r < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      throw Error(excerpt(path, 240) + ": read failed (" + std::strerror(err) + ")");
    }
    if (r == 0) break;
    n += size_t(r);
  }
  ::close(fd);
  if (!regular && n > limit)
    throw Error(excerpt(path, 240) + ": not a file but a pipe or a device, and longer than " +
                std::to_string(kMaxStreamBytes >> 30) +
                " GiB, the most spikechip reads from one; write it to a file and give the file");
  bytes.resize(n);  // a regular file that shrank while it was read
  return bytes;
}

namespace {

// A path under /dev or /proc (made absolute and normal first): never a regular output file.
bool under_dev_or_proc(const std::string& path) {
  std::error_code ec;
  const std::string abs = std::filesystem::absolute(path, ec).lexically_normal().string();
  return abs.rfind("/dev/", 0) == 0 || abs.rfind("/proc/", 0) == 0;
}

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

// The longest name the file system of `path`'s directory takes (asked of the nearest directory that
// exists; 255 bytes on Linux's usual file systems, and never more: NAME_MAX when it cannot say).
size_t name_max_for(const std::string& path) {
  std::error_code ec;
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  while (!dir.empty() && !std::filesystem::is_directory(dir, ec)) dir = dir.parent_path();
  const long n = ::pathconf(dir.empty() ? "." : dir.c_str(), _PC_NAME_MAX);
  return n > 0 && n < NAME_MAX ? size_t(n) : size_t(NAME_MAX);
}

// Every name in `path` must fit the file system's limit and the whole path PATH_MAX, so that a long
// run does not end in "File name too long" when its outputs are written.
void check_name_lengths(const std::string& path) {
  if (path.size() >= PATH_MAX)
    throw Error(fmt::format("{}: the path is {} bytes long, more than the {} the system takes; choose a shorter one",
                            excerpt(path, 240), path.size(), PATH_MAX - 1));
  const size_t name_max = name_max_for(path);
  for (const auto& part : std::filesystem::path(path)) {
    const std::string& name = part.native();
    if (name.size() <= name_max) continue;
    const std::string which = name == path ? "the name" : fmt::format("the name '{}' in it", excerpt(name, 60));
    throw Error(fmt::format("{}: {} is {} bytes long, more than the {} a name may have here; choose a shorter name",
                            excerpt(path, 240), which, name.size(), name_max));
  }
}

}  // namespace

void check_output_dir(const std::string& path) {
  check_name_lengths(path);
  check_dir_to_be(path, path);
}

void check_output_file(const std::string& path, bool parents_made) {
  check_name_lengths(path);
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw Error(excerpt(path, 240) + ": is a directory; give the name of a file to write");
  if (under_dev_or_proc(path) && !std::filesystem::exists(path, ec))
    throw Error(excerpt(path, 240) + ": no such device; spikechip makes no file under /dev or /proc: give one that " +
                "exists (/dev/null, /dev/stdout) or a path elsewhere");
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  check_dir_to_be(path, parent);
  if (!parents_made && !parent.empty() && !std::filesystem::is_directory(parent, ec))
    throw Error(excerpt(path, 240) + ": directory '" + excerpt(parent.string(), 240) + "' does not exist; create it first");
}

namespace {

// Writes all `size` bytes to `fd`, through short writes and EINTR; 0, or the errno of the failure.
int write_all(int fd, const void* data, size_t size) {
  const auto* p = static_cast<const uint8_t*>(data);
  while (size > 0) {
    const ssize_t w = ::write(fd, p, size);
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    p += w;
    size -= size_t(w);
  }
  return 0;
}

// Gives the open file `fd` the permission bits, owner and group of `replaced` when that is a
// regular file (symbolic links followed): a replacement keeps what the user set on the file. The
// owner is set where the process may (root; else only a group the user is in, else nothing), and
// before the bits, since changing the owner clears set-user-ID bits. Failures leave the defaults.
void keep_mode_of(const std::string& replaced, int fd) {
  struct stat st {};
  if (::stat(replaced.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return;
  if (::fchown(fd, st.st_uid, st.st_gid) != 0) (void)!::fchown(fd, uid_t(-1), st.st_gid);
  (void)!::fchmod(fd, st.st_mode & 07777);
}

}  // namespace

void write_file_synced(const std::string& file, const void* data, size_t size, const std::string& shown) {
  auto fail = [&](const char* what, int err, bool created = true) {
    if (created) ::unlink(file.c_str());
    throw WriteError(excerpt(shown, 240) + ": " + what + " (" + std::strerror(err) +
                     "); check that its directory is writable and its disk has free space, then rerun");
  };
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) fail("cannot create", errno, false);
  keep_mode_of(shown, fd);
  if (const int err = write_all(fd, data, size)) {
    ::close(fd);
    fail("write failed", err);
  }
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    fail("write failed", err);
  }
  if (::close(fd) != 0) fail("write failed", errno);
}

namespace {

// The descriptor of this process that `path` names (/dev/stdout, /dev/stderr, /dev/fd/N,
// /proc/self/fd/N), or -1.
int own_descriptor(const std::string& path) {
  if (path == "/dev/stdout") return 1;
  if (path == "/dev/stderr") return 2;
  for (const char* prefix : {"/dev/fd/", "/proc/self/fd/"}) {
    const std::string pre = prefix;
    if (path.rfind(pre, 0) != 0 || path.size() == pre.size() || path.size() > pre.size() + 6) continue;
    int n = 0;
    for (size_t i = pre.size(); i < path.size(); ++i) {
      if (path[i] < '0' || path[i] > '9') return -1;
      n = n * 10 + (path[i] - '0');
    }
    return n;
  }
  return -1;
}

// Writes `size` bytes into `path` itself: for a device, a FIFO or a descriptor of the process
// (/dev/null, `-o >(gzip > x.gz)`), which a renamed temporary would replace instead of writing
// to. A descriptor the process holds (/dev/stdout) is written through, at its offset (a `>>`
// redirection appends), not reopened and truncated.
void write_in_place(const std::string& path, const void* data, size_t size) {
  auto fail = [&](const char* what, int err) {
    throw WriteError(excerpt(path, 240) + ": " + what + " (" + std::strerror(err) +
                     "); check the device, pipe or descriptor it names, then rerun");
  };
  std::error_code ec;
  const int own = own_descriptor(std::filesystem::absolute(path, ec).lexically_normal().string());
  const bool held = own >= 0 && ::fcntl(own, F_GETFD) != -1;
  if (held) std::fflush(nullptr);  // what the process printed before comes first
  const int fd = held ? own : ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);  // no O_CREAT: nothing new in /dev
  if (fd < 0) fail("cannot open", errno);
  if (const int err = write_all(fd, data, size)) {
    if (!held) ::close(fd);
    fail("write failed", err);
  }
  if (!held && ::close(fd) != 0) fail("write failed", errno);
}

// The regular file a write to `path` replaces: `path`, or the file its symbolic links name
// (followed to the end, so that the rename replaces that file and the links stay links).
std::string replaced_file(const std::string& path) {
  namespace fs = std::filesystem;
  fs::path p = path;
  std::error_code ec;
  for (int hops = 0; hops < 40 && fs::is_symlink(p, ec); ++hops) {
    const fs::path to = fs::read_symlink(p, ec);
    if (ec) break;
    p = to.is_absolute() ? to : p.parent_path() / to;
  }
  return p.string();
}

}  // namespace

bool written_in_place(const std::string& path) {
  if (under_dev_or_proc(path)) return true;
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode);
}

std::string temp_path_beside(const std::string& file) {
  const std::filesystem::path p = file;
  const std::string name = p.filename().string();
  const long pid = ::getpid();
  std::string tmp = fmt::format(".{}.tmp-{}", name, pid);
  const size_t name_max = name_max_for(file);
  if (tmp.size() > name_max) {  // the start of the name, then a hash (FNV-1a) of all of it
    uint64_t h = 14695981039346656037ull;
    for (unsigned char c : name) h = (h ^ c) * 1099511628211ull;
    const std::string tail = fmt::format("~{:016x}.tmp-{}", h, pid);
    const size_t keep = name_max > tail.size() + 1 ? name_max - 1 - tail.size() : 0;
    tmp = fmt::format(".{}{}", std::string_view(name).substr(0, keep), tail);
  }
  return (p.parent_path() / tmp).string();
}

void write_file_atomic(const std::string& path, const void* data, size_t size) {
  check_output_file(path);
  if (written_in_place(path)) return write_in_place(path, data, size);
  const std::string file = replaced_file(path);
  const std::string tmp = temp_path_beside(file);
  write_file_synced(tmp, data, size, path);
  if (std::rename(tmp.c_str(), file.c_str()) != 0) {
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
