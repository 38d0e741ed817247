#include "resolve_peer.hpp"

#include <string>

namespace roo::cluster {

boost::system::error_code resolve_peer(asio::io_context& io, const core::Endpoint& where,
                                       asio::ip::tcp::endpoint& out) {
  boost::system::error_code error;
  asio::ip::tcp::resolver resolver(io);
  auto results =
      resolver.resolve(where.host, std::to_string(where.port), asio::ip::tcp::resolver::numeric_service, error);
  if (error) {
    return error;
  }
  out = results.begin()->endpoint();
  for (const auto& entry : results) {
    if (entry.endpoint().address().is_v4()) {
      out = entry.endpoint();
      break;
    }
  }
  return error;
}

}  // namespace roo::cluster
