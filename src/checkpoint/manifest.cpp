#include "manifest.hpp"

#include "roo/core/json.hpp"

#include <boost/crc.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <limits>

namespace roo::checkpoint {
namespace {

using nlohmann::ordered_json;

constexpr std::uint64_t manifest_format = 1;
constexpr std::string_view prefix = "manifest-";
constexpr std::string_view suffix = ".json";
// The manifest's own checksum, its last member: CRC-32 of the text before it, closed with '}'.
constexpr std::string_view crc_member = ",\"crc32\":";

std::uint32_t text_crc32(std::string_view covered) {
  boost::crc_32_type crc;
  crc.process_bytes(covered.data(), covered.size());
  crc.process_byte('}');
  return crc.checksum();
}

ordered_json file_json(const ChainFile& file) {
  return ordered_json{{"name", file.name}, {"size", file.size}, {"crc32", file.crc32}};
}

ordered_json chain_json(const WorkerChain& chain) {
  ordered_json files = ordered_json::array();
  for (const ChainFile& file : chain.files) {
    files.push_back(file_json(file));
  }
  return ordered_json{{"worker", chain.worker}, {"files", std::move(files)}};
}

/// The member `key` of `value`, if `value` is an object with that member and the member is of `type`.
const ordered_json* member(const ordered_json& value, std::string_view key, ordered_json::value_t type) {
  if (!value.is_object()) {
    return nullptr;
  }
  auto found = value.find(key);
  return found != value.end() && found->type() == type ? &*found : nullptr;
}

/// The member `key` as a T: a non-negative integer written without fraction or exponent, within T's range.
template <class T>
std::optional<T> number(const ordered_json& value, std::string_view key) {
  const ordered_json* found = member(value, key, ordered_json::value_t::number_unsigned);
  if (found == nullptr) {
    return std::nullopt;
  }
  auto whole = found->get<std::uint64_t>();
  if (whole > std::numeric_limits<T>::max()) {
    return std::nullopt;
  }
  return static_cast<T>(whole);
}

std::optional<ChainFile> parse_file(const ordered_json& value) {
  const ordered_json* name = member(value, "name", ordered_json::value_t::string);
  auto size = number<std::uint64_t>(value, "size");
  auto crc32 = number<std::uint32_t>(value, "crc32");
  if (name == nullptr || !size || !crc32) {
    return std::nullopt;
  }
  return ChainFile{.name = name->get<std::string>(), .size = *size, .crc32 = *crc32};
}

std::optional<WorkerChain> parse_chain(const ordered_json& value) {
  const ordered_json* worker = member(value, "worker", ordered_json::value_t::string);
  const ordered_json* files = member(value, "files", ordered_json::value_t::array);
  if (worker == nullptr || files == nullptr) {
    return std::nullopt;
  }
  WorkerChain chain{.worker = worker->get<std::string>(), .files = {}};
  for (const ordered_json& item : *files) {
    auto file = parse_file(item);
    if (!file) {
      return std::nullopt;
    }
    chain.files.push_back(std::move(*file));
  }
  return chain;
}

}  // namespace

const WorkerChain* Manifest::find(std::string_view worker) const {
  auto it = std::find_if(workers.begin(), workers.end(), [&](const WorkerChain& c) { return c.worker == worker; });
  return it == workers.end() ? nullptr : &*it;
}

void Manifest::set(std::string_view worker, std::vector<ChainFile> files) {
  for (WorkerChain& chain : workers) {
    if (chain.worker == worker) {
      chain.files = std::move(files);
      return;
    }
  }
  workers.push_back(WorkerChain{.worker = std::string(worker), .files = std::move(files)});
}

bool Manifest::erase(std::string_view worker) {
  return std::erase_if(workers, [&](const WorkerChain& c) { return c.worker == worker; }) > 0;
}

std::string manifest_text(const Manifest& manifest) {
  ordered_json workers = ordered_json::array();
  for (const WorkerChain& chain : manifest.workers) {
    workers.push_back(chain_json(chain));
  }
  std::string text = core::to_json(ordered_json{{"format", manifest_format},
                                                {"app", manifest.app_name},
                                                {"fingerprint", manifest.fingerprint},
                                                {"checkpoint", manifest.checkpoint_id},
                                                {"workers", std::move(workers)}});
  text.pop_back();  // the closing '}': the checksum member goes before it
  return fmt::format("{}{}{}}}\n", text, crc_member, text_crc32(text));
}

std::optional<Manifest> parse_manifest(std::string_view text) {
  // Any damaged byte (a bit flip in the app name included) makes the manifest invalid, not another app's.
  std::size_t at = text.rfind(crc_member);
  if (at == std::string_view::npos) {
    return std::nullopt;
  }
  std::string_view digits = text.substr(at + crc_member.size());
  std::uint32_t crc = 0;
  auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), crc);
  if (error != std::errc() || std::string_view(end, static_cast<std::size_t>(digits.data() + digits.size() - end)) !=
                                  "}\n" ||
      crc != text_crc32(text.substr(0, at))) {
    return std::nullopt;
  }
  auto json = core::parse_json(text);
  if (!json) {
    return std::nullopt;
  }
  const ordered_json* app = member(*json, "app", ordered_json::value_t::string);
  const ordered_json* fingerprint = member(*json, "fingerprint", ordered_json::value_t::string);
  const ordered_json* workers = member(*json, "workers", ordered_json::value_t::array);
  auto id = number<std::uint64_t>(*json, "checkpoint");
  if (number<std::uint64_t>(*json, "format") != manifest_format || app == nullptr || fingerprint == nullptr ||
      workers == nullptr || !id) {
    return std::nullopt;
  }
  Manifest manifest{.app_name = app->get<std::string>(),
                    .fingerprint = fingerprint->get<std::string>(),
                    .checkpoint_id = *id,
                    .workers = {}};
  for (const ordered_json& item : *workers) {
    auto chain = parse_chain(item);
    if (!chain) {
      return std::nullopt;
    }
    manifest.workers.push_back(std::move(*chain));
  }
  return manifest;
}

std::string manifest_file_name(std::uint64_t checkpoint_id) {
  return fmt::format("{}{:020}{}", prefix, checkpoint_id, suffix);
}

std::optional<std::uint64_t> manifest_id(std::string_view file_name) {
  if (file_name.size() != prefix.size() + 20 + suffix.size() || !file_name.starts_with(prefix) ||
      !file_name.ends_with(suffix)) {
    return std::nullopt;
  }
  std::string_view digits = file_name.substr(prefix.size(), 20);
  std::uint64_t id = 0;
  auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), id);
  if (error != std::errc() || end != digits.data() + digits.size()) {
    return std::nullopt;
  }
  return id;
}

}  // namespace roo::checkpoint
