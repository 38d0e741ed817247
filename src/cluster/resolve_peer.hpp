#pragma once

#include "cluster_asio.hpp"

#include "roo/core/endpoint.hpp"

#include <boost/asio/ip/tcp.hpp>

namespace roo::cluster {

/// Resolves a peer's address (IPv4 preferred), on the calling thread: peers are named by IP or /etc/hosts names.
boost::system::error_code resolve_peer(asio::io_context& io, const core::Endpoint& where,
                                       asio::ip::tcp::endpoint& out);

}  // namespace roo::cluster
