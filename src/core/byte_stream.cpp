#include "roo/core/byte_stream.hpp"

#include "roo/core/endpoint.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include <cctype>

namespace roo::core {

TcpStream::TcpStream(TcpSocket socket) : socket_(std::move(socket)) {
  boost::system::error_code ignored;
  socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
}

void TcpStream::async_handshake(std::function<void(const boost::system::error_code&)> done) {
  asio::post(socket_.get_executor(), [done = std::move(done)] { done(boost::system::error_code()); });
}

void TcpStream::async_read_some(asio::mutable_buffer buffer, Handler handler) {
  socket_.async_read_some(buffer, std::move(handler));
}

void TcpStream::async_write(const std::vector<asio::const_buffer>& buffers, Handler handler) {
  asio::async_write(socket_, buffers, std::move(handler));
}

void TcpStream::close() {
  boost::system::error_code ignored;
  socket_.shutdown(asio::socket_base::shutdown_both, ignored);
  socket_.close(ignored);
}

std::string TcpStream::remote() const { return describe_remote(socket_); }

std::string describe_remote(const TcpSocket& socket) {
  boost::system::error_code error;
  auto endpoint = socket.remote_endpoint(error);
  if (error) {
    return "an unknown peer";
  }
  return Endpoint{endpoint.address().to_string(), endpoint.port()}.to_string();
}

std::string describe_error(const boost::system::error_code& error) {
  if (error == asio::error::eof) {
    return "the connection was closed";
  }
  std::string text = error.message();
  if (!text.empty()) {
    text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  }
  return text;
}

}  // namespace roo::core
