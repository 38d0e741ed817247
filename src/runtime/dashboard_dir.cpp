#include "dashboard_dir.hpp"

#include "shipped_dir.hpp"

namespace roo::runtime {

std::filesystem::path dashboard_dir() {
  return find_shipped_dir(ShippedDir{.env_var = "ROO_DASHBOARD_DIR",
                                     .installed = "share/roo/dashboard",
                                     .marker = "index.html",
                                     .source_dir = ROO_SOURCE_DASHBOARD_DIR});
}

}  // namespace roo::runtime
