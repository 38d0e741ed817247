#pragma once

#include <memory>
#include <utility>

namespace roo::cluster {

/// A protocol object that is a member of ClusterCore. Asio handlers and posted work may outlive the Cluster handle,
/// so a handler holds keep_alive(): a pointer to the protocol that shares ownership of the whole core (the aliasing
/// shared_ptr constructor). ClusterCore::make() calls anchor() once, right after the core is created.
template <class Protocol>
class OwnedByCore {
 public:
  void anchor(std::weak_ptr<void> core) { core_ = std::move(core); }

 protected:
  [[nodiscard]] std::shared_ptr<Protocol> keep_alive() const {
    return std::shared_ptr<Protocol>(core_.lock(), static_cast<Protocol*>(const_cast<OwnedByCore*>(this)));
  }
  [[nodiscard]] std::weak_ptr<Protocol> weak() const { return keep_alive(); }

 private:
  std::weak_ptr<void> core_;
};

}  // namespace roo::cluster
