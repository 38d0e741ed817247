#pragma once

#include "roo/core/framed_connection.hpp"

#include <boost/asio/steady_timer.hpp>

#include <chrono>

namespace roo::cluster {

// The Asio and connection types every class of the cluster's side uses: all of them live on one strand.
namespace asio = boost::asio;
using core::FrameAction;
using core::FramedConnection;
using Strand = core::Strand;
using Socket = core::TcpSocket;
using Timer =
    asio::basic_waitable_timer<std::chrono::steady_clock, asio::wait_traits<std::chrono::steady_clock>, Strand>;

}  // namespace roo::cluster
