#include "roo/cluster/key_group_table.hpp"

#include <algorithm>
#include <numeric>

namespace roo::cluster {

std::vector<std::uint16_t> KeyGroupTable::dealt(std::uint32_t key_groups, std::size_t workers) {
  std::vector<std::uint16_t> owners(key_groups);
  for (std::uint32_t group = 0; group < key_groups; ++group) {
    owners[group] = static_cast<std::uint16_t>(group % workers);
  }
  return owners;
}

std::vector<std::uint16_t> KeyGroupTable::rebalanced(const std::vector<std::uint16_t>& owners, std::size_t workers,
                                                     const std::vector<bool>& departed) {
  auto stays = [&](std::size_t worker) { return worker < workers && !(worker < departed.size() && departed[worker]); };
  std::vector<std::size_t> held(workers, 0);
  for (std::uint16_t owner : owners) {
    if (stays(owner)) {
      ++held[owner];
    }
  }
  std::vector<std::size_t> stayers;
  for (std::size_t worker = 0; worker < workers; ++worker) {
    if (stays(worker)) {
      stayers.push_back(worker);
    }
  }
  if (stayers.empty()) {
    return owners;
  }
  // Shares: the workers holding the most get the `extra` larger ones, so fewer of their groups move.
  std::stable_sort(stayers.begin(), stayers.end(), [&](std::size_t a, std::size_t b) { return held[a] > held[b]; });
  std::size_t base = owners.size() / stayers.size();
  std::size_t extra = owners.size() % stayers.size();
  std::vector<std::size_t> share(workers, 0);
  for (std::size_t i = 0; i < stayers.size(); ++i) {
    share[stayers[i]] = base + (i < extra ? 1 : 0);
  }
  // Keep each stayer's groups up to its share (lowest groups first); the rest are free.
  std::vector<std::uint16_t> result = owners;
  std::vector<std::size_t> kept(workers, 0);
  std::vector<std::uint32_t> free_groups;
  for (std::uint32_t group = 0; group < owners.size(); ++group) {
    std::uint16_t owner = owners[group];
    if (stays(owner) && kept[owner] < share[owner]) {
      ++kept[owner];
    } else {
      free_groups.push_back(group);
    }
  }
  // Deal the free groups to the stayers below their share, in index order.
  std::sort(stayers.begin(), stayers.end());
  auto next = stayers.begin();
  for (std::uint32_t group : free_groups) {
    while (kept[*next] >= share[*next]) {
      ++next;
    }
    result[group] = static_cast<std::uint16_t>(*next);
    ++kept[*next];
  }
  return result;
}

std::vector<std::uint16_t> KeyGroupTable::without(const std::vector<std::uint16_t>& before,
                                                  const std::vector<std::uint16_t>& after, std::size_t workers,
                                                  const std::vector<bool>& departed) {
  auto stays = [&](std::size_t worker) { return worker < workers && !(worker < departed.size() && departed[worker]); };
  std::vector<std::uint16_t> result = after;
  std::vector<std::size_t> held(workers, 0);
  std::vector<std::uint32_t> orphans;
  for (std::uint32_t group = 0; group < after.size(); ++group) {
    if (stays(after[group])) {
      ++held[after[group]];
    } else if (group < before.size() && stays(before[group])) {
      result[group] = before[group];
      ++held[before[group]];
    } else {
      orphans.push_back(group);
    }
  }
  for (std::uint32_t group : orphans) {
    std::size_t fewest = workers;
    for (std::size_t worker = 0; worker < workers; ++worker) {
      if (stays(worker) && (fewest == workers || held[worker] < held[fewest])) {
        fewest = worker;
      }
    }
    if (fewest == workers) {
      return after;  // nobody stays
    }
    result[group] = static_cast<std::uint16_t>(fewest);
    ++held[fewest];
  }
  return result;
}

std::size_t KeyGroupTable::moved(const std::vector<std::uint16_t>& before, const std::vector<std::uint16_t>& after) {
  std::size_t count = 0;
  for (std::size_t group = 0; group < before.size() && group < after.size(); ++group) {
    count += before[group] != after[group] ? 1 : 0;
  }
  return count;
}

}  // namespace roo::cluster
