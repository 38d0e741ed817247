#include "send_input.hpp"

#include "send_errno.hpp"

#include "roo/core/big_endian.hpp"
#include "roo/core/error.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace roo::cli {

namespace {

std::vector<char> read_whole_file(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    throw core::UsageError("read --file '" + path + "': " + errno_text(errno));
  }
  // Sized once from the file's length and read straight into place: a benchmark's input is tens of MB, and
  // growing a vector through a 64 KiB bounce buffer spent ~0.1 s in copies and page faults before sending.
  std::vector<char> bytes;
  if (std::fseek(file, 0, SEEK_END) == 0) {
    long size = std::ftell(file);
    if (size > 0) {
      bytes.reserve(static_cast<std::size_t>(size));
    }
    std::rewind(file);
  }
  std::size_t got = 0;
  do {
    std::size_t at = bytes.size();
    bytes.resize(std::max(bytes.capacity(), at + (1 << 16)));
    got = std::fread(bytes.data() + at, 1, bytes.size() - at, file);
    bytes.resize(at + got);
  } while (got > 0);
  bool failed = std::ferror(file) != 0;
  int error = errno;
  std::fclose(file);
  if (failed) {
    throw core::UsageError("read --file '" + path + "': " + errno_text(error));
  }
  return bytes;
}

}  // namespace

void append_hex(SendBuffer& out, const char* bytes, std::size_t size) {
  static constexpr char digits[] = "0123456789abcdef";
  char* at = out.prepare(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    auto b = static_cast<unsigned char>(bytes[i]);
    at[2 * i] = digits[b >> 4];
    at[2 * i + 1] = digits[b & 0xf];
  }
  out.commit(size * 2);
}

FileMessages FileMessages::load(const SendOptions& options) {
  FileMessages result;
  result.hex_ = options.binary;
  result.log_skip_ = options.binary && options.msg_size != 0 ? 0 : 4;
  for (const std::string& path : options.files) {
    std::vector<char> bytes = read_whole_file(path);
    if (!options.binary) {
      // Text: each non-empty line (without "\n" or "\r\n") becomes `u32 BE len | line`.
      std::size_t start = 0;
      while (start < bytes.size()) {
        const void* nl = std::memchr(bytes.data() + start, '\n', bytes.size() - start);
        std::size_t end = nl ? static_cast<std::size_t>(static_cast<const char*>(nl) - bytes.data()) : bytes.size();
        std::size_t line_end = end;
        if (line_end > start && bytes[line_end - 1] == '\r') {
          --line_end;
        }
        if (line_end > start) {
          char header[4];
          core::store_u32_be(header, static_cast<std::uint32_t>(line_end - start));
          result.wire_.insert(result.wire_.end(), header, header + 4);
          result.wire_.insert(result.wire_.end(), bytes.begin() + static_cast<std::ptrdiff_t>(start),
                              bytes.begin() + static_cast<std::ptrdiff_t>(line_end));
          result.offsets_.push_back(result.wire_.size());
        }
        start = end + 1;
      }
    } else if (options.msg_size != 0) {
      // Fixed-size records that already carry their header: sent verbatim.
      if (bytes.size() % options.msg_size != 0) {
        throw core::Error("read records from '" + path + "': its size (" + std::to_string(bytes.size()) +
                          " bytes) is not a multiple of --msg-size " + std::to_string(options.msg_size));
      }
      std::uint64_t base = result.wire_.size();
      if (base == 0) {
        result.wire_ = std::move(bytes);
      } else {
        result.wire_.insert(result.wire_.end(), bytes.begin(), bytes.end());
      }
      result.offsets_.reserve(result.offsets_.size() + (result.wire_.size() - base) / options.msg_size);
      for (std::uint64_t at = options.msg_size; base + at <= result.wire_.size(); at += options.msg_size) {
        result.offsets_.push_back(base + at);
      }
    } else {
      // `u32 BE len | payload` records, each re-framed with a fresh header (the same bytes when well formed).
      std::size_t at = 0;
      while (at < bytes.size()) {
        if (bytes.size() - at < 4) {
          throw core::Error("read records from '" + path + "': the record at byte " + std::to_string(at) +
                            " has only " + std::to_string(bytes.size() - at) +
                            " of its 4 header bytes (--variable-size)");
        }
        std::uint32_t length = core::load_u32_be(bytes.data() + at);
        if (bytes.size() - at - 4 < length) {
          throw core::Error("read records from '" + path + "': the record at byte " + std::to_string(at) + " claims " +
                            std::to_string(length) + " bytes but only " + std::to_string(bytes.size() - at - 4) +
                            " remain (--variable-size)");
        }
        char header[4];
        core::store_u32_be(header, length);
        result.wire_.insert(result.wire_.end(), header, header + 4);
        auto payload = bytes.begin() + static_cast<std::ptrdiff_t>(at + 4);
        result.wire_.insert(result.wire_.end(), payload, payload + length);
        result.offsets_.push_back(result.wire_.size());
        at += 4 + static_cast<std::size_t>(length);
      }
    }
  }
  if (result.pass_length() == 0) {
    std::string names;
    for (const std::string& path : options.files) {
      names += (names.empty() ? "'" : ", '") + path + "'";
    }
    throw core::Error("send from " + names + ": the input holds no messages");
  }
  return result;
}

CounterMessages::CounterMessages(std::uint64_t start_from, std::string partition) : start_(start_from + 1) {
  record_.assign(12, '\0');
  core::store_u32_be(record_.data(), static_cast<std::uint32_t>(8 + partition.size()));
  record_ += partition;
}

}  // namespace roo::cli
